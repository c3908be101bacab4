// Pull throughput of getMessage from the page cache (issue 3 goal: ≥ 1 million messages/s).
//
// The store is filled queue after queue (so each queue's records are contiguous in the
// CommitLog) with `messagesPerQueue` 1 KiB messages, ASYNC_FLUSH, and the bench waits until the
// dispatcher has committed every unit. Then, alternating baseline and engine (A B A B …):
//
//   engine    getMessage({ maxMsgNums }) from queue offset 0 to the max, following
//             nextBeginOffset, every result checked (FOUND, offsets in order, body size);
//   baseline  the same CommitLog bytes read with fs.promises FileHandle.read in chunks of
//             `maxMsgNums` records (one read per chunk; a chunk that crosses a segment end is
//             split), into a fresh buffer per read as the store's reader does; no decoding.
//
// Both run over one queue, then over `queues` queues pulled concurrently. Everything is in the
// page cache (just written, far below RAM), so this measures CPU and the thread pool, not the disk.

import fs from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../../src/index.js';
import { segmentName } from '../../src/format/segment_name.js';
import { printHeader } from '../bench_env.js';

export interface GetBenchOptions {
  queues: number;
  messagesPerQueue: number;
  bodyBytes: number;
  maxMsgNums: number;
  rounds: number;
  segmentSizeBytes: number;
  /** Puts in flight while filling. */
  fillConcurrency: number;
  dir?: string;
}

const TOPIC = 'GetBench';
/** The issue 3 goal. */
const GOAL_MSGS_PER_SEC = 1_000_000;

interface PullFigures {
  msgsPerSec: number;
  mbPerSec: number;
  pullsPerSec: number;
  messages: number;
  checksum: number;
}

interface CaseResult {
  concurrency: number;
  baseline: PullFigures[];
  engine: PullFigures[];
}

/** Where each queue's records are: physical offset by queue offset, and the (constant) record size. */
interface Layout {
  physicalOffsets: Float64Array[];
  recordBytes: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function fill(store: MessageStore, options: GetBenchOptions): Promise<Layout & { fillMs: number }> {
  const body = Buffer.alloc(options.bodyBytes, 0x63);
  const physicalOffsets: Float64Array[] = [];
  let recordBytes = 0;
  const startMs = performance.now();
  for (let queueId = 0; queueId < options.queues; queueId++) {
    const offsets = new Float64Array(options.messagesPerQueue);
    physicalOffsets.push(offsets);
    let sent = 0;
    let failure: string | null = null;
    const sender = async (): Promise<void> => {
      while (failure === null && sent < options.messagesPerQueue) {
        sent++;
        const result = await store.putMessage({ topic: TOPIC, queueId, body });
        const appended = result.appendMessageResult;
        if (result.putMessageStatus !== 'PUT_OK' || appended === undefined) {
          failure ??= result.putMessageStatus;
          continue;
        }
        offsets[appended.logicsOffset] = appended.wroteOffset;
        if (recordBytes === 0) recordBytes = appended.wroteBytes;
        if (appended.wroteBytes !== recordBytes) failure ??= `record size ${appended.wroteBytes}, expected ${recordBytes}`;
      }
    };
    const senders: Promise<void>[] = [];
    for (let i = 0; i < options.fillConcurrency; i++) senders.push(sender());
    await Promise.all(senders);
    if (failure !== null) throw new Error(`filling queue ${queueId}: ${failure}`);
  }
  // Wait for the dispatcher: every unit committed and visible to reads.
  const deadlineMs = performance.now() + 120_000;
  for (let queueId = 0; queueId < options.queues; queueId++) {
    while (store.getMaxOffsetInQueue(TOPIC, queueId) < options.messagesPerQueue) {
      if (performance.now() > deadlineMs) throw new Error(`queue ${queueId} was not dispatched within 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  return { physicalOffsets, recordBytes, fillMs: performance.now() - startMs };
}

/** Engine: one consumer pulling a whole queue; returns messages, bytes, pulls and a checksum. */
async function pullQueue(store: MessageStore, queueId: number, options: GetBenchOptions): Promise<[number, number, number, number]> {
  let offset = 0;
  let messages = 0;
  let bytes = 0;
  let pulls = 0;
  let checksum = 0;
  while (offset < options.messagesPerQueue) {
    const result = await store.getMessage({ group: 'GetBenchGroup', topic: TOPIC, queueId, offset, maxMsgNums: options.maxMsgNums });
    pulls++;
    if (result.status !== 'FOUND') throw new Error(`queue ${queueId} offset ${offset}: ${result.status}`);
    for (const message of result.messages) checksum = (checksum + message.queueOffset + message.body[message.body.length - 1]!) | 0;
    const first = result.messages[0]!;
    const last = result.messages[result.messages.length - 1]!;
    if (first.queueOffset !== offset || last.queueOffset !== offset + result.messages.length - 1) {
      throw new Error(`queue ${queueId}: asked for ${offset}, got ${first.queueOffset}…${last.queueOffset}`);
    }
    if (last.body.length !== options.bodyBytes) throw new Error(`queue ${queueId}: body of ${last.body.length} bytes`);
    if (result.nextBeginOffset !== offset + result.messages.length) {
      throw new Error(`queue ${queueId}: nextBeginOffset ${result.nextBeginOffset} after ${result.messages.length} from ${offset}`);
    }
    messages += result.messages.length;
    bytes += result.bufferTotalSize;
    offset = result.nextBeginOffset;
  }
  return [messages, bytes, pulls, checksum];
}

/** Baseline: the same records read raw, `maxMsgNums` per read (split at segment ends). */
async function readQueue(
  handles: Map<number, FileHandle>,
  commitLogDir: string,
  layout: Layout,
  queueId: number,
  options: GetBenchOptions,
): Promise<[number, number, number, number]> {
  const offsets = layout.physicalOffsets[queueId]!;
  const size = layout.recordBytes;
  let messages = 0;
  let bytes = 0;
  let reads = 0;
  let checksum = 0;
  for (let first = 0; first < offsets.length; ) {
    // The longest run of contiguous records in one segment, at most maxMsgNums.
    const start = offsets[first]!;
    const segmentStart = start - (start % options.segmentSizeBytes);
    let count = 1;
    while (
      count < options.maxMsgNums &&
      first + count < offsets.length &&
      offsets[first + count] === start + count * size &&
      start + (count + 1) * size <= segmentStart + options.segmentSizeBytes
    ) count++;
    let handle = handles.get(segmentStart);
    if (handle === undefined) {
      handle = await openFile(path.join(commitLogDir, segmentName(segmentStart)), 'r');
      handles.set(segmentStart, handle);
    }
    const length = count * size;
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, start - segmentStart);
    if (bytesRead !== length) throw new Error(`short read at ${start}: ${bytesRead} of ${length}`);
    reads++;
    for (let i = 0; i < count; i++) checksum = (checksum + first + i + buffer[i * size + size - 1]!) | 0;
    messages += count;
    bytes += length;
    first += count;
  }
  return [messages, bytes, reads, checksum];
}

async function timed(work: () => Promise<Array<[number, number, number, number]>>): Promise<PullFigures> {
  const startMs = performance.now();
  const parts = await work();
  const seconds = (performance.now() - startMs) / 1000;
  const sum = (i: 0 | 1 | 2 | 3): number => parts.reduce((s, p) => s + p[i], 0);
  return { msgsPerSec: sum(0) / seconds, mbPerSec: sum(1) / 1e6 / seconds, pullsPerSec: sum(2) / seconds, messages: sum(0), checksum: sum(3) | 0 };
}

const HEADER = 'queues side                     |    msgs/s     MB/s  pulls/s | ratio to baseline';

function printCase(c: CaseResult): void {
  const fmt = (n: number, w: number, d = 0): string => n.toFixed(d).padStart(w);
  const b = median(c.baseline.map((r) => r.msgsPerSec));
  const rows: Array<[string, PullFigures[]]> = [
    ['baseline FileHandle.read', c.baseline],
    ['getMessage', c.engine],
  ];
  for (const [label, runs] of rows) {
    const e = median(runs.map((r) => r.msgsPerSec));
    console.log(
      `${fmt(c.concurrency, 6)} ${label.padEnd(24)} | ${fmt(e, 9)} ${fmt(median(runs.map((r) => r.mbPerSec)), 8, 1)} ` +
        `${fmt(median(runs.map((r) => r.pullsPerSec)), 8)} | ${fmt(e / b, 5, 2)}`,
    );
  }
}

export async function runGetBench(options: GetBenchOptions): Promise<void> {
  const root = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'mqstore-get-bench-'));
  printHeader('mqstore getMessage throughput from the page cache (issue 3)', root, {
    segment: `${options.segmentSizeBytes} bytes`,
    data: `${options.queues} queues × ${options.messagesPerQueue} messages of ${options.bodyBytes} B, filled queue by queue (ASYNC_FLUSH)`,
    pull: `getMessage maxMsgNums ${options.maxMsgNums}, offset 0 → max by nextBeginOffset; 1 queue, then ${options.queues} concurrently`,
    baseline: `FileHandle.read of the same CommitLog bytes, ${options.maxMsgNums} records per read`,
    rounds: `${options.rounds} × (baseline, engine) per case, interleaved; medians`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  });
  const storeDir = path.join(root, 'store');
  const handles = new Map<number, FileHandle>();
  const results: CaseResult[] = [];
  let checksum = 0;
  try {
    const store = await MessageStore.open({ storePathRootDir: storeDir, flushDiskType: 'ASYNC_FLUSH', mappedFileSizeCommitLog: options.segmentSizeBytes });
    try {
      const layout = await fill(store, options);
      const total = options.queues * options.messagesPerQueue;
      console.log(
        `fill: ${total} messages, ${((total * layout.recordBytes) / 1e6).toFixed(0)} MB of ${layout.recordBytes} B records in ` +
          `${(layout.fillMs / 1000).toFixed(1)} s (puts + dispatch)\n`,
      );
      const commitLogDir = store.getConfig().storePathCommitLog;
      for (const concurrency of [1, options.queues]) {
        const c: CaseResult = { concurrency, baseline: [], engine: [] };
        const queueIds = Array.from({ length: concurrency }, (_, i) => i);
        const pullAll = (): Promise<PullFigures> => timed(() => Promise.all(queueIds.map((q) => pullQueue(store, q, options))));
        for (let round = 0; round < options.rounds; round++) {
          const b = await timed(() => Promise.all(queueIds.map((q) => readQueue(handles, commitLogDir, layout, q, options))));
          const e = await pullAll();
          if (e.messages !== b.messages) throw new Error(`engine pulled ${e.messages} messages, baseline read ${b.messages}`);
          c.baseline.push(b);
          c.engine.push(e);
          checksum = (checksum * 31 + e.checksum + b.checksum) | 0;
        }
        results.push(c);
      }
    } finally {
      await store.close();
    }
  } finally {
    for (const handle of handles.values()) await handle.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(HEADER);
  console.log('-'.repeat(HEADER.length));
  for (const c of results) printCase(c);
  console.log('');
  console.log(
    'msgs/s; MB/s of record bytes; pulls/s = getMessage calls (baseline: reads) per second; ratio: msgs/s ÷ the baseline\'s.',
  );
  const list = (runs: PullFigures[]): string => runs.map((x) => x.msgsPerSec.toFixed(0)).join('/');
  console.log(`runs        ${results.map((c) => `${c.concurrency}q baseline ${list(c.baseline)}, engine ${list(c.engine)}`).join('; ')}`);
  for (const c of results) {
    const e = median(c.engine.map((r) => r.msgsPerSec));
    console.log(
      `goal        ≥ ${GOAL_MSGS_PER_SEC / 1e6} M msgs/s, ${c.concurrency} queue(s), default config: ${(e / 1e6).toFixed(2)} M → ${e >= GOAL_MSGS_PER_SEC ? 'met' : 'missed'}`,
    );
  }
  console.log(`checksum    ${(checksum >>> 0).toString(16)}`);
}
