// Put throughput of an embedded store against raw-disk baselines measured in the same run.
//
// For each (message size, flush mode, concurrency) the bench alternates baseline and engine
// runs (A B A B …) so a noisy neighbour hurts both alike, and reports the ratio:
//   ASYNC_FLUSH vs sequential pwrite of the same bytes coalesced into 256 KiB writes, no fsync;
//   SYNC_FLUSH  vs a hand-written group commit: one pwrite + fdatasync per `concurrency`
//               messages, on an ordinary growing file.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { MessageStore, type FlushDiskType } from '../../src/index.js';
import { printHeader } from '../bench_env.js';

export interface PutCase {
  bodyBytes: number;
  flushDiskType: FlushDiskType;
  concurrency: number;
  /** warmMapedFileEnable: zero-filled segments (off by default, as in RocketMQ). */
  warm?: boolean;
}

export interface PutFigures {
  msgsPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  fsyncsPerSec: number;
  msgsPerFsync: number;
  samples: number;
}

const COALESCE_BYTES = 256 * 1024;
const TOPIC = 'BenchTopic';
/** Record overhead of our records: 91 bytes + topic; the baselines write the same byte count. */
const RECORD_OVERHEAD_BYTES = 91 + TOPIC.length;

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

function figuresFrom(h: hdr.Histogram, messages: number, recordBytes: number, elapsedMs: number, fsyncs: number): PutFigures {
  const seconds = elapsedMs / 1000;
  return {
    msgsPerSec: messages / seconds,
    mbPerSec: (messages * recordBytes) / seconds / 1e6,
    p50Ms: h.getValueAtPercentile(50) / 1000,
    p99Ms: h.getValueAtPercentile(99) / 1000,
    maxMs: h.maxValue / 1000,
    fsyncsPerSec: fsyncs / seconds,
    msgsPerFsync: fsyncs === 0 ? 0 : messages / fsyncs,
    samples: h.totalCount,
  };
}

/** Engine: `concurrency` closed-loop senders for `durationMs`. */
export async function runEngine(store: MessageStore, c: PutCase, durationMs: number): Promise<PutFigures> {
  const body = Buffer.alloc(c.bodyBytes, 0x61);
  const h = histogram();
  const fsyncsBefore = store.getWriterStats().fsyncCount;
  let messages = 0;
  let failures = 0;
  const startMs = performance.now();
  const deadlineMs = startMs + durationMs;
  const sender = async (queueId: number): Promise<void> => {
    while (performance.now() < deadlineMs) {
      const sentMs = performance.now();
      const result = await store.putMessage({ topic: TOPIC, queueId, body });
      h.recordValue(Math.max(1, Math.round((performance.now() - sentMs) * 1000)));
      if (result.putMessageStatus === 'PUT_OK') messages++;
      else failures++;
    }
  };
  const senders: Promise<void>[] = [];
  for (let i = 0; i < c.concurrency; i++) senders.push(sender(i % 8));
  await Promise.all(senders);
  const elapsedMs = performance.now() - startMs;
  if (failures > 0) throw new Error(`${failures} puts failed`);
  const fsyncs = store.getWriterStats().fsyncCount - fsyncsBefore;
  // Untimed: leave no dirty pages behind, so the next run (baseline or engine) does not pay for
  // this one's writeback. Both sides get the same treatment.
  await store.flush();
  return figuresFrom(h, messages, c.bodyBytes + RECORD_OVERHEAD_BYTES, elapsedMs, fsyncs);
}

/** ASYNC baseline: the same bytes, coalesced into 256 KiB pwrites, no fsync. */
export function runCoalescedPwrite(file: string, recordBytes: number, durationMs: number): PutFigures {
  const perWrite = Math.max(1, Math.floor(COALESCE_BYTES / recordBytes));
  const chunk = Buffer.alloc(perWrite * recordBytes, 0x61);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  const h = histogram();
  let messages = 0;
  let position = 0;
  const startMs = performance.now();
  try {
    while (performance.now() - startMs < durationMs) {
      const t0 = performance.now();
      fs.writeSync(fd, chunk, 0, chunk.length, position);
      h.recordValueWithCount(Math.max(1, Math.round((performance.now() - t0) * 1000)), 1);
      position += chunk.length;
      messages += perWrite;
    }
    const elapsedMs = performance.now() - startMs;
    fs.fdatasyncSync(fd); // Untimed, as the engine's flush after its run.
    return figuresFrom(h, messages, recordBytes, elapsedMs, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/** SYNC baseline: group commit by hand, one pwrite + fdatasync per `concurrency` messages. */
export function runHandGroupCommit(file: string, recordBytes: number, concurrency: number, durationMs: number): PutFigures {
  const chunk = Buffer.alloc(concurrency * recordBytes, 0x61);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  const h = histogram();
  let messages = 0;
  let fsyncs = 0;
  let position = 0;
  const startMs = performance.now();
  try {
    while (performance.now() - startMs < durationMs) {
      const t0 = performance.now();
      fs.writeSync(fd, chunk, 0, chunk.length, position);
      fs.fdatasyncSync(fd);
      // Every message of the group waited for the whole write + fsync.
      h.recordValueWithCount(Math.max(1, Math.round((performance.now() - t0) * 1000)), concurrency);
      position += chunk.length;
      messages += concurrency;
      fsyncs++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return figuresFrom(h, messages, recordBytes, performance.now() - startMs, fsyncs);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function mergeRuns(runs: PutFigures[]): PutFigures {
  const pick = (key: keyof PutFigures): number => median(runs.map((r) => r[key]));
  return {
    msgsPerSec: pick('msgsPerSec'),
    mbPerSec: pick('mbPerSec'),
    p50Ms: pick('p50Ms'),
    p99Ms: pick('p99Ms'),
    maxMs: Math.max(...runs.map((r) => r.maxMs)),
    fsyncsPerSec: pick('fsyncsPerSec'),
    msgsPerFsync: pick('msgsPerFsync'),
    samples: runs.reduce((sum, r) => sum + r.samples, 0),
  };
}

export interface PutCaseResult {
  case: PutCase;
  engine: PutFigures;
  baseline: PutFigures;
  baselineName: string;
  ratio: number;
}

export interface PutBenchOptions {
  cases: PutCase[];
  rounds: number;
  runMs: number;
  segmentSizeBytes: number;
  dir?: string;
}

export async function runPutBench(options: PutBenchOptions): Promise<PutCaseResult[]> {
  const root = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'mqstore-bench-'));
  printHeader('mqstore put throughput (npm run bench)', root, {
    segment: `${options.segmentSizeBytes} bytes`,
    rounds: `${options.rounds} × (baseline ${options.runMs} ms, engine ${options.runMs} ms), interleaved; medians`,
  });
  const results: PutCaseResult[] = [];
  try {
    for (const c of options.cases) {
      results.push(await runCase(root, c, options));
      printRow(results[results.length - 1]!);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return results;
}

async function runCase(root: string, c: PutCase, options: PutBenchOptions): Promise<PutCaseResult> {
  const name = `${c.bodyBytes}-${c.flushDiskType}-${c.concurrency}${c.warm === true ? '-warm' : ''}`;
  const storeDir = path.join(root, name);
  const baselineFile = path.join(root, `${name}.baseline`);
  const recordBytes = c.bodyBytes + RECORD_OVERHEAD_BYTES;
  const store = await MessageStore.open({
    storePathRootDir: storeDir,
    flushDiskType: c.flushDiskType,
    mappedFileSizeCommitLog: options.segmentSizeBytes,
    warmMapedFileEnable: c.warm === true,
  });
  const engineRuns: PutFigures[] = [];
  const baselineRuns: PutFigures[] = [];
  const sync = c.flushDiskType === 'SYNC_FLUSH';
  try {
    await runEngine(store, c, Math.min(100, options.runMs)); // warm-up: JIT, first segment pages
    for (let round = 0; round < options.rounds; round++) {
      baselineRuns.push(sync
        ? runHandGroupCommit(baselineFile, recordBytes, c.concurrency, options.runMs)
        : runCoalescedPwrite(baselineFile, recordBytes, options.runMs));
      engineRuns.push(await runEngine(store, c, options.runMs));
    }
  } finally {
    await store.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
    fs.rmSync(baselineFile, { force: true });
  }
  const engine = mergeRuns(engineRuns);
  const baseline = mergeRuns(baselineRuns);
  return {
    case: c,
    engine,
    baseline,
    baselineName: sync ? `pwrite+fdatasync per ${c.concurrency}` : 'coalesced 256 KiB pwrite',
    ratio: engine.msgsPerSec / baseline.msgsPerSec,
  };
}

const HEADER =
  'size  mode          conc |   msgs/s     MB/s  p50 ms  p99 ms  max ms  fsync/s  msg/fsync |  baseline msgs/s  ratio';

function printRow(r: PutCaseResult): void {
  if (printRow.first) {
    console.log(HEADER);
    console.log('-'.repeat(HEADER.length));
    printRow.first = false;
  }
  const e = r.engine;
  const fmt = (n: number, w: number, d = 0): string => n.toFixed(d).padStart(w);
  console.log(
    `${String(r.case.bodyBytes).padEnd(5)} ${(r.case.flushDiskType + (r.case.warm === true ? '+w' : '')).padEnd(13)} ${fmt(r.case.concurrency, 4)} |` +
      ` ${fmt(e.msgsPerSec, 8)} ${fmt(e.mbPerSec, 8, 1)} ${fmt(e.p50Ms, 7, 3)} ${fmt(e.p99Ms, 7, 3)} ${fmt(e.maxMs, 7, 1)}` +
      ` ${fmt(e.fsyncsPerSec, 8)} ${fmt(e.msgsPerFsync, 10, 1)} | ${fmt(r.baseline.msgsPerSec, 16)} ${fmt(r.ratio, 6, 2)}`,
  );
}
printRow.first = true;

export const DEFAULT_CASES: PutCase[] = [
  ...[128, 1024].flatMap((bodyBytes) =>
    (['ASYNC_FLUSH', 'SYNC_FLUSH'] as const).flatMap((flushDiskType) =>
      [1, 64, 1024].map((concurrency) => ({ bodyBytes, flushDiskType, concurrency })),
    ),
  ),
  // The same SYNC_FLUSH target case with zero-filled segments (mode shown as SYNC_FLUSH+w).
  { bodyBytes: 1024, flushDiskType: 'SYNC_FLUSH', concurrency: 64, warm: true },
];
