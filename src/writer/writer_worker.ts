// The writer worker: wiring only. Builds its Storage, runs WriterService, relays messages.
// Anything thrown during start-up is reported as FATAL so MessageStore.open can reject.

import { parentPort, workerData } from 'node:worker_threads';
import { assert } from '../assert.js';
import { createStorage } from '../io/storage_fs.js';
import type { MainToWriter, WriterInit, WriterToMain } from '../shared/messages.js';
import { serializeError } from '../errors.js';
import { WriterService } from './writer_service.js';

const port = parentPort;
assert(port !== null, 'writer_worker.js runs as a worker thread');
const init = workerData as WriterInit;
const post = (message: WriterToMain): void => port.postMessage(message);

try {
  const storage = await createStorage(init.storage);
  const service = await WriterService.start(storage, init, post);
  port.on('message', (message: MainToWriter) => service.handle(message));
} catch (error) {
  post({ type: 'FATAL', error: serializeError(error) });
}
