// Child process of the derived-recovery bench: fills a store fast with putMessages batches
// (ASYNC_FLUSH, a unique KEYS value on every message), prints `done {json}` once every batch is
// acknowledged, then idles until the parent SIGKILLs it — so the store is left as a crash leaves
// it: `abort` present, checkpoint and consume queues as of their last periodic flush.
//
//   node dist/native-free-bench/macro/derived_recovery_child.js --dir D --messages N
//        [--body-bytes 128] [--segment-bytes 1073741824] [--batch 64] [--concurrency 32]
//        [--topics 4] [--queues 4]
//
// Batch b goes to slot b % (topics × queues): topic `DerivedBench${slot % topics}`, queue
// floor(slot / topics); message n (n = b × batch + i) carries key `k${n}`. The parent relies
// on this layout to check a key lookup after the rebuild. It exits by itself when its stdin
// closes (the parent died) or after --max-ms.

import { parseArgs } from 'node:util';
import { MessageStore } from '../../src/index.js';
import { derivedBenchTopic } from './derived_recovery.bench.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    messages: { type: 'string' },
    'body-bytes': { type: 'string', default: '128' },
    'segment-bytes': { type: 'string', default: String(1024 * 1024 * 1024) },
    batch: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '32' },
    topics: { type: 'string', default: '4' },
    queues: { type: 'string', default: '4' },
    'max-ms': { type: 'string', default: '600000' },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`UNEXPECTED: ${message}\n`);
  process.exit(2);
}

function integer(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) fail(`--${name} must be an integer ≥ ${min}, got ${text}`);
  return value;
}

async function main(): Promise<void> {
  const dir = values.dir ?? fail('--dir is required');
  const messages = integer('messages', values.messages, 1);
  const bodyBytes = integer('body-bytes', values['body-bytes'], 1);
  const segmentSizeBytes = integer('segment-bytes', values['segment-bytes'], 4096);
  const batch = integer('batch', values.batch, 1);
  const concurrency = integer('concurrency', values.concurrency, 1);
  const topics = integer('topics', values.topics, 1);
  const queues = integer('queues', values.queues, 1);
  const maxMs = integer('max-ms', values['max-ms'], 1);

  process.stdin.on('end', () => process.exit(3));
  process.stdin.resume();
  setTimeout(() => fail(`not killed within ${maxMs} ms`), maxMs).unref();

  const store = await MessageStore.open({ storePathRootDir: dir, flushDiskType: 'ASYNC_FLUSH', mappedFileSizeCommitLog: segmentSizeBytes });
  const body = Buffer.alloc(bodyBytes, 0x64);
  const batches = Math.ceil(messages / batch);
  let nextBatch = 0;
  let endPhysicalOffset = 0;
  const startMs = performance.now();
  const sender = async (): Promise<void> => {
    while (nextBatch < batches) {
      const b = nextBatch++;
      const slot = b % (topics * queues);
      const first = b * batch;
      const count = Math.min(batch, messages - first);
      const result = await store.putMessages({
        topic: derivedBenchTopic(slot % topics),
        queueId: Math.floor(slot / topics),
        messages: Array.from({ length: count }, (_, i) => ({ body, keys: `k${first + i}` })),
      });
      const appended = result.appendMessageResult;
      if (result.putMessageStatus !== 'PUT_OK' || appended === undefined) fail(`batch ${b}: ${result.putMessageStatus}`);
      endPhysicalOffset = Math.max(endPhysicalOffset, appended.wroteOffset + appended.wroteBytes);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => sender()));
  const putMs = performance.now() - startMs;
  process.stdout.write(`done ${JSON.stringify({ messages, endPhysicalOffset, putMs, dispatchBehindBytes: store.dispatchBehindBytes() })}\n`);
  // Idle with the store open until the SIGKILL.
  setInterval(() => undefined, 1000);
}

await main();
