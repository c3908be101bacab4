// Child process for test/integration/many_queues.test.ts, started under `ulimit -n 1024` (the
// usual default, soft and hard: Node raises its soft limit to the hard one at start), so running
// out of file descriptors shows as EMFILE here:
//
//   node dist/test/support/many_queues_child.js --dir D [--topics 1000] [--queues 8]
//
// Puts one message into every queue (Promise.all in chunks), waits for dispatch, reads every
// queue back with getMessage, closes, reopens and reads again, while sampling the number of open
// descriptors (/proc/self/fd). Prints one JSON line (ManyQueuesReport) on stdout; any failure
// is an uncaught error (exit code ≠ 0, stack on stderr).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GetMessageStatus, MessageStore, PutMessageStatus } from '../../src/index.js';
import { allocatedBytes } from './dispatch_support.js';

export interface ManyQueuesReport {
  fdLimitSoft: string;
  queues: number;
  fdsMax: number;
  consumeQueueFiles: number;
  consumeQueueAllocatedBytes: number;
  consumeQueueApparentBytes: number;
  ms: { put: number; dispatch: number; read: number; close: number; reopen: number; reread: number };
}

export function manyQueuesTopic(t: number): string {
  return `ManyTopic${String(t).padStart(4, '0')}`;
}

const OPTIONS = {
  mappedFileSizeCommitLog: 4 << 20,
  // mappedFileSizeConsumeQueue stays at its default (6000000 bytes per file).
  maxHashSlotNum: 20_000,
  maxIndexNum: 40_000,
};
const CHUNK = 500;
const READ_LANES = 16;

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

async function readEvery(store: MessageStore, topics: number, queues: number): Promise<void> {
  let next = 0;
  const total = topics * queues;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < total; i = next++) {
      const topic = manyQueuesTopic(Math.floor(i / queues));
      const queueId = i % queues;
      const result = await store.getMessage({ group: 'g', topic, queueId, offset: 0, maxMsgNums: 4 });
      if (result.status !== GetMessageStatus.FOUND || result.messages.length !== 1 || result.nextBeginOffset !== 1) {
        throw new Error(`${topic}/${queueId}: ${result.status}, ${result.messages.length} messages, next ${result.nextBeginOffset}`);
      }
      const body = result.messages[0]!.body.toString();
      if (body !== `${topic}/${queueId}`) throw new Error(`${topic}/${queueId}: body ${body}`);
      if (store.getMaxOffsetInQueue(topic, queueId) !== 1) throw new Error(`${topic}/${queueId}: max ${store.getMaxOffsetInQueue(topic, queueId)}`);
    }
  };
  await Promise.all(Array.from({ length: READ_LANES }, lane));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, topics: { type: 'string', default: '1000' }, queues: { type: 'string', default: '8' } },
    strict: true,
  });
  const dir = values.dir;
  if (dir === undefined) throw new Error('--dir is required');
  const topics = Number(values.topics);
  const queues = Number(values.queues);
  let fdsMax = openFds();
  const sampler = setInterval(() => (fdsMax = Math.max(fdsMax, openFds())), 10);
  const ms = { put: 0, dispatch: 0, read: 0, close: 0, reopen: 0, reread: 0 };
  let at = performance.now();
  const lap = (name: keyof typeof ms): void => {
    const now = performance.now();
    ms[name] = Math.round(now - at);
    at = now;
    fdsMax = Math.max(fdsMax, openFds());
  };

  let store = await MessageStore.open({ storePathRootDir: dir, ...OPTIONS });
  at = performance.now();
  const all = Array.from({ length: topics * queues }, (_, i) => ({ topic: manyQueuesTopic(Math.floor(i / queues)), queueId: i % queues }));
  for (let i = 0; i < all.length; i += CHUNK) {
    const results = await Promise.all(
      all.slice(i, i + CHUNK).map(({ topic, queueId }) => store.putMessage({ topic, queueId, body: `${topic}/${queueId}`, tags: 'T', keys: `${topic}-${queueId}` })),
    );
    const bad = results.find((r) => r.putMessageStatus !== PutMessageStatus.PUT_OK);
    if (bad !== undefined) throw new Error(`put failed: ${bad.putMessageStatus} ${bad.error?.message ?? ''}`);
  }
  lap('put');
  const deadline = performance.now() + 60_000;
  while (store.dispatchBehindBytes() > 0 || all.some(({ topic, queueId }) => store.getMaxOffsetInQueue(topic, queueId) !== 1)) {
    if (performance.now() > deadline) throw new Error(`dispatch still ${store.dispatchBehindBytes()} bytes behind after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  lap('dispatch');
  await readEvery(store, topics, queues);
  lap('read');
  await store.close();
  lap('close');
  store = await MessageStore.open({ storePathRootDir: dir, ...OPTIONS });
  lap('reopen');
  await readEvery(store, topics, queues);
  lap('reread');
  await store.close();
  clearInterval(sampler);

  const cq = allocatedBytes(path.join(dir, 'consumequeue'));
  const limits = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((line) => line.startsWith('Max open files')) ?? '';
  const report: ManyQueuesReport = {
    fdLimitSoft: limits.split(/\s{2,}/)[1] ?? '?',
    queues: all.length,
    fdsMax,
    consumeQueueFiles: cq.files,
    consumeQueueAllocatedBytes: cq.bytes,
    consumeQueueApparentBytes: cq.apparentBytes,
    ms,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
