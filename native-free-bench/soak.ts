// Soak: mixed puts and gets for a long time while retention deletes old segments, printing
// memory and open file handles over time. A store that leaks (a cache that only grows, a file
// descriptor per deleted segment, consume queue handles never closed) shows it here.
//
//   node --max-old-space-size=256 dist/native-free-bench/soak.js [--minutes 10] [--seed S]
//        [--rate 20000] [--dir D] [--sample-seconds 10]
//
// The store uses 1 MiB segments, small consume queue and index files and fileReservedTime 0,
// and deleteExpiredFilesManually() runs every 2 s, so files are created and deleted all the
// time. Consumers follow every queue through getMessage (taking the store's corrections when
// their offset falls below the minimum) and check each message's body against its queue offset.
// At the end: fails (exit 1) if RSS or open handles grew past the allowance after warm-up, or a
// message was wrong. Prints one line per sample and a summary.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { MessageStore } from '../src/index.js';

export interface SoakOptions {
  durationMs: number;
  /** Messages per second to send (paced). */
  rate: number;
  sampleMs: number;
  dir: string;
  seed: number;
  log: (line: string) => void;
}

export interface SoakSample {
  seconds: number;
  rssMb: number;
  heapUsedMb: number;
  openFds: number;
  segments: number;
  puts: number;
  consumed: number;
  minPhysicalOffset: number;
  maxPhysicalOffset: number;
}

export interface SoakResult {
  samples: SoakSample[];
  puts: number;
  consumed: number;
  deletedBytes: number;
  problems: string[];
}

const TOPICS = ['SoakA', 'SoakB'];
const QUEUES = 4;
const BODY_BYTES = 512;
/** After warm-up (the first quarter; half of a run under a minute), RSS may grow this much at most. */
const RSS_ALLOWANCE_MB = 64;
const FD_ALLOWANCE = 16;

function openFds(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

function bodyFor(topic: string, queueId: number, queueOffset: number): Buffer {
  const head = `${topic}/${queueId}/${queueOffset}/`;
  const body = Buffer.alloc(BODY_BYTES, 0x2e);
  body.write(head, 0, 'latin1');
  return body;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const store = await MessageStore.open({
    storePathRootDir: options.dir,
    mappedFileSizeCommitLog: 1024 * 1024,
    mappedFileSizeConsumeQueue: 20 * 4096,
    maxHashSlotNum: 1024,
    maxIndexNum: 8192,
    fileReservedTime: 0,
    deleteWhen: Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')).join(';'),
    deleteCommitLogFilesInterval: 0,
  });
  const problems: string[] = [];
  const samples: SoakSample[] = [];
  let puts = 0;
  let consumed = 0;
  let stopped = false;
  const nextQueueOffset = new Map<string, number>();
  const startedMs = performance.now();
  const deadlineMs = startedMs + options.durationMs;
  const minAtStart = store.getMinPhyOffset();

  const producer = async (): Promise<void> => {
    let sent = 0;
    while (!stopped && performance.now() < deadlineMs) {
      const i = sent++;
      const topic = TOPICS[i % TOPICS.length]!;
      const queueId = Math.floor(i / TOPICS.length) % QUEUES;
      const key = `${topic}/${queueId}`;
      const queueOffset = nextQueueOffset.get(key) ?? 0;
      nextQueueOffset.set(key, queueOffset + 1);
      const result = await store.putMessage({ topic, queueId, body: bodyFor(topic, queueId, queueOffset), keys: `k${i}` });
      if (result.putMessageStatus !== 'PUT_OK') problems.push(`put ${i}: ${result.putMessageStatus}`);
      else if (result.appendMessageResult!.logicsOffset !== queueOffset) problems.push(`put ${i}: queue offset ${result.appendMessageResult!.logicsOffset}, expected ${queueOffset}`);
      puts++;
      // Pace: sleep when ahead of the rate.
      const aheadMs = (sent / options.rate) * 1000 - (performance.now() - startedMs);
      if (aheadMs >= 2) await new Promise((resolve) => setTimeout(resolve, aheadMs));
      if (problems.length > 20) stopped = true;
    }
  };

  const consumer = async (topic: string, queueId: number): Promise<void> => {
    let offset = 0;
    while (!stopped) {
      const result = await store.getMessage({ group: 'soak', topic, queueId, offset, maxMsgNums: 32 });
      if (result.status === 'FOUND') {
        for (const message of result.messages) {
          const expected = bodyFor(topic, queueId, message.queueOffset);
          if (!message.body.equals(expected)) problems.push(`${topic}/${queueId}@${message.queueOffset}: wrong body`);
          if (message.queueOffset < offset) problems.push(`${topic}/${queueId}: offset went back to ${message.queueOffset} from ${offset}`);
          consumed++;
        }
        offset = result.nextBeginOffset;
        continue;
      }
      // Retention moved the minimum past us (OFFSET_TOO_SMALL / OFFSET_FOUND_NULL): follow it.
      if (result.nextBeginOffset > offset) {
        offset = result.nextBeginOffset;
        continue;
      }
      if (performance.now() >= deadlineMs) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  let deletedBytes = 0;
  const retention = setInterval(() => {
    const before = store.getMinPhyOffset();
    void store.deleteExpiredFilesManually().then(
      () => {
        deletedBytes += Math.max(0, store.getMinPhyOffset() - before);
      },
      (error: unknown) => problems.push(`deleteExpiredFilesManually: ${(error as Error).message}`),
    );
  }, 2000);
  const sample = (): void => {
    const memory = process.memoryUsage();
    const s: SoakSample = {
      seconds: (performance.now() - startedMs) / 1000,
      rssMb: memory.rss / 1e6,
      heapUsedMb: memory.heapUsed / 1e6,
      openFds: openFds(),
      segments: fs.readdirSync(path.join(options.dir, 'commitlog')).length,
      puts,
      consumed,
      minPhysicalOffset: store.getMinPhyOffset(),
      maxPhysicalOffset: store.getMaxPhyOffset(),
    };
    samples.push(s);
    options.log(
      `${s.seconds.toFixed(0).padStart(5)} s  rss ${s.rssMb.toFixed(1).padStart(7)} MB  heap ${s.heapUsedMb.toFixed(1).padStart(6)} MB  ` +
        `fds ${String(s.openFds).padStart(4)}  segments ${String(s.segments).padStart(3)}  puts ${s.puts}  consumed ${s.consumed}  ` +
        `log [${s.minPhysicalOffset}, ${s.maxPhysicalOffset})`,
    );
  };
  const sampler = setInterval(sample, options.sampleMs);
  try {
    sample();
    await Promise.all([producer(), ...TOPICS.flatMap((topic) => Array.from({ length: QUEUES }, (_, q) => consumer(topic, q)))]);
  } finally {
    stopped = true;
    clearInterval(sampler);
    clearInterval(retention);
  }
  sample();
  await store.close();

  if (store.getMinPhyOffset() <= Math.max(0, minAtStart) && options.durationMs >= 10_000) problems.push('retention never deleted a segment');
  // Caches and rings fill during the first tens of seconds: a short run judges from its middle.
  const warmFraction = options.durationMs < 60_000 ? 0.5 : 0.25;
  const warm = samples[Math.max(1, Math.floor(samples.length * warmFraction))] ?? samples[0]!;
  // Handles and RSS move with the segments on disk and the caches; a leak shows as a floor that
  // rises: the lowest value of the last quarter above the warm-up sample plus an allowance (a
  // steady leak lifts the whole last quarter; a swing does not).
  const lastQuarter = samples.slice(Math.floor(samples.length * 0.75));
  const rssFloor = Math.min(...lastQuarter.map((s) => s.rssMb));
  if (rssFloor > warm.rssMb + RSS_ALLOWANCE_MB) problems.push(`RSS grew from ${warm.rssMb.toFixed(1)} MB after warm-up to at least ${rssFloor.toFixed(1)} MB`);
  const fdsFloor = Math.min(...lastQuarter.map((s) => s.openFds));
  if (warm.openFds >= 0 && fdsFloor > warm.openFds + FD_ALLOWANCE) problems.push(`open handles grew from ${warm.openFds} after warm-up to at least ${fdsFloor}`);
  if (consumed === 0) problems.push('nothing was consumed');
  return { samples, puts, consumed, deletedBytes, problems };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      rate: { type: 'string', default: '20000' },
      'sample-seconds': { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string' },
    },
    strict: true,
  });
  const durationMs = Number(values.minutes) * 60_000;
  const dir = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-soak-'));
  console.log(`soak: ${values.minutes} min, ${values.rate} msgs/s of ${BODY_BYTES} B, dir ${dir}, node ${process.version}, heap limit ${(v8.getHeapStatistics().heap_size_limit / 1e6).toFixed(0)} MB, ${os.cpus().length} CPUs`);
  const result = await runSoak({ durationMs, rate: Number(values.rate), sampleMs: Number(values['sample-seconds']) * 1000, dir, seed: Number(values.seed), log: (line) => console.log(line) });
  console.log('');
  console.log(`summary: puts ${result.puts}, consumed ${result.consumed}, retention deleted ${(result.deletedBytes / 1e6).toFixed(1)} MB of CommitLog`);
  console.log(`  problems ${result.problems.length}${result.problems.length === 0 ? '' : ':'}`);
  for (const problem of result.problems.slice(0, 20)) console.log(`    ${problem}`);
  if (values.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
  return result.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 2;
    },
  );
}
