// The dispatcher worker: wiring only. Builds its Storage, runs DispatcherService, relays
// messages. Anything thrown during start-up is reported as FATAL so MessageStore.open can reject.

import { parentPort, workerData } from 'node:worker_threads';
import { assert } from '../assert.js';
import { createStorage } from '../io/storage_fs.js';
import type { DispatcherInit, DispatcherToMain, MainToDispatcher } from '../shared/messages.js';
import { serializeError } from '../errors.js';
import { DispatcherService } from './dispatcher_service.js';

const port = parentPort;
assert(port !== null, 'dispatcher_worker.js runs as a worker thread');
const init = workerData as DispatcherInit;
const post = (message: DispatcherToMain): void => port.postMessage(message);

try {
  const storage = await createStorage(init.storage);
  const service = DispatcherService.start(storage, init, post);
  port.on('message', (message: MainToDispatcher) => service.handle(message));
} catch (error) {
  post({ type: 'FATAL', error: serializeError(error) });
}
