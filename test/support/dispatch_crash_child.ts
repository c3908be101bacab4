// Child process for the dispatch SIGKILL test (test/integration/dispatch_crash.test.ts): opens a
// store with small derived files and puts a deterministic stream of keyed, tagged messages until
// it is killed.
//
//   node dist/test/support/dispatch_crash_child.js --dir D --flush SYNC_FLUSH|ASYNC_FLUSH
//        --ack FILE --round R [--concurrency 4] [--pause-ms 2] [--max-ms 30000]
//
// Each of --concurrency lanes keeps one put in flight and pauses --pause-ms after each, so a
// round acknowledges a few thousand messages, not tens of thousands (the checks stay short).
// Message n of round R goes to dispatchCrashTarget(R, n). Prints `ready` once the store is open.
// After each put resolves PUT_OK (never before) appends `n,logicsOffset,wroteOffset\n` to the ack
// file with one write(2) on an O_APPEND fd, so a line written before the kill survives it. Exits
// by itself only when stdin closes (the parent died) or after --max-ms.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MessageStore, PutMessageStatus, type FlushDiskType } from '../../src/index.js';

/** Store options of every open in the test, the parent's included. */
export const DISPATCH_CRASH_OPTIONS = {
  mappedFileSizeCommitLog: 128 * 1024,
  mappedFileSizeConsumeQueue: 400, // 20 units per file
  maxHashSlotNum: 200,
  maxIndexNum: 600,
  flushIntervalConsumeQueue: 20,
};
export const DISPATCH_CRASH_TOPICS = ['KillTopicA', 'KillTopicB', 'KillTopicC'] as const;
export const DISPATCH_CRASH_QUEUES = 3;

export interface CrashTarget {
  topic: string;
  queueId: number;
  body: string;
  tags: string;
  key: string;
}

/** Where message n of round R goes and what it carries. */
export function dispatchCrashTarget(round: number, n: number): CrashTarget {
  const mixed = Math.imul(n + 1, 0x9e3779b1) >>> 0;
  return {
    topic: DISPATCH_CRASH_TOPICS[mixed % DISPATCH_CRASH_TOPICS.length]!,
    queueId: (mixed >>> 8) % DISPATCH_CRASH_QUEUES,
    body: `crash-${round}-${n}-` + 'p'.repeat((mixed >>> 16) % 300),
    tags: `tag${n % 5}`,
    key: `crash-key-${round}-${n}`,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      flush: { type: 'string', default: 'SYNC_FLUSH' },
      ack: { type: 'string' },
      round: { type: 'string', default: '0' },
      concurrency: { type: 'string', default: '4' },
      'pause-ms': { type: 'string', default: '2' },
      'max-ms': { type: 'string', default: '30000' },
    },
    strict: true,
  });
  const dir = values.dir;
  const ackFile = values.ack;
  if (dir === undefined || ackFile === undefined) throw new Error('--dir and --ack are required');
  const round = Number(values.round);
  const flushDiskType = values.flush as FlushDiskType;
  process.stdin.on('end', () => process.exit(3));
  process.stdin.resume();
  setTimeout(() => {
    process.stderr.write(`UNEXPECTED: not killed within ${values['max-ms']} ms\n`);
    process.exit(4);
  }, Number(values['max-ms'])).unref();

  const store = await MessageStore.open({ storePathRootDir: dir, flushDiskType, ...DISPATCH_CRASH_OPTIONS });
  const ackFd = fs.openSync(ackFile, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
  process.stdout.write('ready\n');
  let next = 0;
  let stopped = false;
  const pauseMs = Number(values['pause-ms']);
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const n = next++;
      const target = dispatchCrashTarget(round, n);
      const result = await store.putMessage({ topic: target.topic, queueId: target.queueId, body: target.body, tags: target.tags, keys: [target.key] });
      if (result.putMessageStatus === PutMessageStatus.PUT_OK) {
        const a = result.appendMessageResult!;
        fs.writeSync(ackFd, `${n},${a.logicsOffset},${a.wroteOffset}\n`);
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      } else if (result.putMessageStatus !== PutMessageStatus.FLUSH_DISK_TIMEOUT && result.putMessageStatus !== PutMessageStatus.OS_PAGE_CACHE_BUSY) {
        stopped = true;
        process.stderr.write(`STORE FAILED: put ${n} returned ${result.putMessageStatus}: ${result.error?.message ?? ''}\n`);
      }
    }
  };
  for (let i = 0; i < Number(values.concurrency); i++) {
    lane().catch((error: unknown) => {
      stopped = true;
      process.stderr.write(`UNEXPECTED: a put threw: ${(error as Error).stack ?? String(error)}\n`);
    });
  }
}

// Imported by the test for its constants; runs only as the child's entry script.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    process.stderr.write(`UNEXPECTED: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  });
}
