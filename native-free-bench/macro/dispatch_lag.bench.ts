// Does the dispatcher keep up with ASYNC_FLUSH puts at the peak rate (issue 3)?
//
// Engine: `concurrency` closed-loop senders put 1 KiB bodies, each with a unique KEYS value (so
// every message costs a consume queue unit and an index entry), over a few topics and queues,
// for `runMs`, on a fresh store per run. store.dispatchBehindBytes() is sampled every
// `sampleIntervalMs`. Reported: the put rate; the dispatcher's rate over the same window
// (committed queue offsets, summed); the lag (max and p99 over the samples) in bytes and in ms
// of writes (lag bytes ÷ the window's put bytes per ms); the longest dispatcher standstill; and
// how long the dispatcher needs to drain after the puts stop. Cases (DispatchCase) vary
// flushIntervalConsumeQueue and how the keys hash; rounds interleave the cases.
//
// Baseline, same run, same data: after the store closes, its CommitLog is dispatched again by
// the raw pipeline in this thread, no workers: CommitLogTail.readUpTo(4096 records) → per record
// ConsumeQueueStore.put + IndexService.buildIndex → commit both, an fdatasync of both every
// flushIntervalConsumeQueue — what DispatcherService.round() does, into a fresh directory. Its
// msgs/s is the pipeline's capacity on this machine when it has a core to itself; the put
// rate ÷ that capacity is how much of it the peak put rate needs.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommitLogTail } from '../../src/dispatcher/commit_log_tail.js';
import { ConsumeQueueStore } from '../../src/dispatcher/consume_queue_store.js';
import { IndexService } from '../../src/dispatcher/index_service.js';
import { consumeQueueFileSizeBytes } from '../../src/format/consume_queue_entry.js';
import { FsStorage } from '../../src/io/storage_fs.js';
import { takesQueueOffset } from '../../src/recovery/queue_offset_table.js';
import { MessageStore, type MessageStoreConfig } from '../../src/index.js';
import { printHeader } from '../bench_env.js';

export interface DispatchBenchOptions {
  /** Length of the timed put phase (after a warm-up of warmUpMs). */
  runMs: number;
  warmUpMs: number;
  rounds: number;
  bodyBytes: number;
  concurrency: number;
  topics: number;
  queuesPerTopic: number;
  segmentSizeBytes: number;
  sampleIntervalMs: number;
  /** Give up waiting for the dispatcher to drain after this long (it is reported, not thrown). */
  drainTimeoutMs: number;
  cases: DispatchCase[];
  dir?: string;
}

/**
 * One configuration. `cqFlushMs` is flushIntervalConsumeQueue: the default 1000, or one longer
 * than the run, so no periodic consume queue/index fdatasync happens while it is timed (shows
 * what those cost). `keys`: 'sequential' = `key-<n>` (neighbouring hash slots, like RocketMQ's
 * UNIQ_KEY whose counter is its last digits), 'random' = 16 random hex digits (like UUID or
 * order-id keys: nearly every key lands on another 4 KiB slot page of the index file).
 */
export interface DispatchCase {
  cqFlushMs: number;
  keys: 'sequential' | 'random';
}

/** The same figures as the DispatcherService round: records per read, then one commit. */
const ROUND_RECORDS_MAX = 4096;
const CQ_OPEN_FILES_MAX = 256;
/** The issue 3 goal: lag under 100 ms of writes at the peak put rate. */
const LAG_GOAL_MS = 100;

interface Sample {
  atMs: number;
  behindBytes: number;
  wroteWhere: number;
  /** Sum of the committed queue offsets: moves with every DISPATCHED message (one per round). */
  dispatchedMessages: number;
}

interface EngineFigures {
  putMsgsPerSec: number;
  putMbPerSec: number;
  putBytesPerMs: number;
  dispatchedMsgsPerSec: number;
  lagBytesMax: number;
  lagBytesP99: number;
  lagMsMax: number;
  lagMsP99: number;
  /** Delay from "written" to "dispatched", from the samples (10 ms resolution), max and p99. */
  delayMsMax: number;
  delayMsP99: number;
  drainMs: number;
  /** Longest stretch of the window in which no dispatched message showed up (the dispatcher stood still). */
  pauseMsMax: number;
  samples: number;
  sampleGapMsMax: number;
  messagesTotal: number;
  endPhysicalOffset: number;
}

interface PipelineFigures {
  msgsPerSec: number;
  mbPerSec: number;
  messages: number;
  elapsedMs: number;
  /** The periodic cq.flush() + index.flush() (fdatasyncs): count, mean and max duration. */
  flushes: number;
  flushMsMean: number;
  flushMsMax: number;
}

interface RoundResult {
  case: DispatchCase;
  engine: EngineFigures;
  pipeline: PipelineFigures;
}

function percentile(values: number[], share: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function topicName(index: number): string {
  return `DispatchBench${index}`;
}

/** Sum of every queue's committed (dispatched) max offset, as the reads see it. */
function dispatchedMessages(store: MessageStore, options: DispatchBenchOptions): number {
  let sum = 0;
  for (let t = 0; t < options.topics; t++) {
    for (let q = 0; q < options.queuesPerTopic; q++) sum += store.getMaxOffsetInQueue(topicName(t), q, true);
  }
  return sum;
}

/**
 * For each sample in the window: how long ago the writer had already written what the
 * dispatcher has reached now. The dispatched position is estimated as the sampled write end
 * minus the lag, and the write end is the main thread's (it trails the writer's a little), so
 * the estimate errs towards more delay.
 */
function delaysMs(samples: Sample[], from: number, to: number): number[] {
  const out: number[] = [];
  let first = 0;
  for (let i = from; i < to; i++) {
    const s = samples[i]!;
    const dispatched = s.wroteWhere - s.behindBytes;
    while (first < i && samples[first]!.wroteWhere < dispatched) first++;
    out.push(s.behindBytes === 0 ? 0 : s.atMs - samples[first]!.atMs);
  }
  return out;
}

/** 16 hex digits from xorshift32 twice: spread like random keys, far cheaper than crypto. */
function randomKeys(seed: number): () => string {
  let x = seed | 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return () => next().toString(16).padStart(8, '0') + next().toString(16).padStart(8, '0');
}

async function runEngine(store: MessageStore, c: DispatchCase, options: DispatchBenchOptions): Promise<EngineFigures> {
  const body = Buffer.alloc(options.bodyBytes, 0x62);
  const samples: Sample[] = [];
  let lastSampleMs = Number.NEGATIVE_INFINITY;
  const sample = (): void => {
    lastSampleMs = performance.now();
    samples.push({
      atMs: lastSampleMs,
      behindBytes: store.dispatchBehindBytes(),
      wroteWhere: store.getMaxPhyOffset(),
      dispatchedMessages: dispatchedMessages(store, options),
    });
  };
  // A saturated main thread runs timers late (gaps of 50+ ms), so the senders also sample when
  // a put resolves and the interval has passed; the timer covers the quiet moments.
  const maybeSample = (nowMs: number): void => {
    if (nowMs - lastSampleMs >= options.sampleIntervalMs) sample();
  };
  const timer = setInterval(sample, options.sampleIntervalMs);
  let nextKey = 0;
  const random = c.keys === 'random' ? randomKeys(0x9e3779b9) : null;
  let failure: string | null = null;
  let measuring = false;
  let windowMessages = 0;
  let windowBytes = 0;
  const startMs = performance.now();
  // Set when the warm-up timer actually fires (a busy main thread runs it late).
  let windowStartMs = startMs + options.warmUpMs;
  const deadlineMs = windowStartMs + options.runMs;
  let dispatchedAtWindowStart = 0;
  const sender = async (index: number): Promise<void> => {
    const topic = topicName(index % options.topics);
    const queueId = Math.floor(index / options.topics) % options.queuesPerTopic;
    for (let nowMs = performance.now(); failure === null && nowMs < deadlineMs; nowMs = performance.now()) {
      maybeSample(nowMs);
      const keys = random === null ? `key-${nextKey}` : random();
      nextKey++;
      const result = await store.putMessage({ topic, queueId, body, keys });
      const appended = result.appendMessageResult;
      if (result.putMessageStatus !== 'PUT_OK' || appended === undefined) {
        failure ??= result.putMessageStatus;
        continue;
      }
      if (measuring) {
        windowMessages++;
        windowBytes += appended.wroteBytes;
      }
    }
  };
  const windowTimer = setTimeout(() => {
    measuring = true;
    windowStartMs = performance.now();
    dispatchedAtWindowStart = dispatchedMessages(store, options);
    sample();
  }, options.warmUpMs);
  const senders: Promise<void>[] = [];
  for (let i = 0; i < options.concurrency; i++) senders.push(sender(i));
  await Promise.all(senders);
  clearTimeout(windowTimer);
  const putEndMs = performance.now();
  sample();
  const dispatchedAtPutEnd = dispatchedMessages(store, options);
  const windowEndIndex = samples.length;
  if (failure !== null) throw new Error(`a put failed with ${failure}`);
  // Drain: keep sampling until the dispatcher has caught up.
  let drainMs = Number.NaN;
  while (performance.now() - putEndMs < options.drainTimeoutMs) {
    if (store.dispatchBehindBytes() === 0) {
      drainMs = performance.now() - putEndMs;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  clearInterval(timer);
  const windowMs = putEndMs - windowStartMs;
  const windowFrom = samples.findIndex((s) => s.atMs >= windowStartMs);
  const inWindow = samples.slice(windowFrom, windowEndIndex);
  const lagBytes = inWindow.map((s) => s.behindBytes);
  const putBytesPerMs = windowBytes / windowMs;
  const delays = delaysMs(samples, windowFrom, windowEndIndex);
  let gapMax = 0;
  for (let i = 1; i < inWindow.length; i++) gapMax = Math.max(gapMax, inWindow[i]!.atMs - inWindow[i - 1]!.atMs);
  let pauseMsMax = 0;
  for (let i = 0, since = 0; i < inWindow.length; i++) {
    if (inWindow[i]!.dispatchedMessages !== inWindow[since]!.dispatchedMessages) since = i;
    pauseMsMax = Math.max(pauseMsMax, inWindow[i]!.atMs - inWindow[since]!.atMs);
  }
  // Wait until the committed ranges on the main thread show everything (DISPATCHED messages).
  const messagesTotal = nextKey;
  for (let waited = 0; dispatchedMessages(store, options) < messagesTotal && waited < options.drainTimeoutMs; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return {
    putMsgsPerSec: windowMessages / (windowMs / 1000),
    putMbPerSec: windowBytes / 1e6 / (windowMs / 1000),
    putBytesPerMs,
    dispatchedMsgsPerSec: (dispatchedAtPutEnd - dispatchedAtWindowStart) / (windowMs / 1000),
    lagBytesMax: Math.max(0, ...lagBytes),
    lagBytesP99: percentile(lagBytes, 0.99),
    lagMsMax: Math.max(0, ...lagBytes) / putBytesPerMs,
    lagMsP99: percentile(lagBytes, 0.99) / putBytesPerMs,
    delayMsMax: Math.max(0, ...delays),
    delayMsP99: percentile(delays, 0.99),
    drainMs,
    pauseMsMax,
    samples: inWindow.length,
    sampleGapMsMax: gapMax,
    messagesTotal,
    endPhysicalOffset: store.getMaxPhyOffset(),
  };
}

/**
 * The raw dispatch pipeline on this thread over [0, end) of `commitLogDir`, writing consume
 * queues and index files under `outDir`: DispatcherService.round() without the worker.
 */
export function runPipeline(commitLogDir: string, outDir: string, config: MessageStoreConfig, endPhysicalOffset: number): PipelineFigures {
  const storage = new FsStorage();
  const cqDir = path.join(outDir, 'consumequeue');
  const indexDir = path.join(outDir, 'index');
  storage.mkdirp(cqDir);
  storage.mkdirp(indexDir);
  const cq = new ConsumeQueueStore(storage, {
    rootDir: cqDir,
    fileSizeBytes: consumeQueueFileSizeBytes(config.mappedFileSizeConsumeQueue),
    openFilesMax: CQ_OPEN_FILES_MAX,
  });
  cq.load();
  const index = new IndexService(storage, { indexDir, hashSlotNum: config.maxHashSlotNum, indexNum: config.maxIndexNum });
  index.load();
  const tail = new CommitLogTail(storage, { commitLogDir, segmentSizeBytes: config.mappedFileSizeCommitLog }, 0);
  let messages = 0;
  let flushes = 0;
  let flushMsTotal = 0;
  let flushMsMax = 0;
  const startMs = performance.now();
  let nextFlushMs = startMs + config.flushIntervalConsumeQueue;
  try {
    while (tail.position() < endPhysicalOffset) {
      const before = tail.position();
      const requests = tail.readUpTo(endPhysicalOffset, ROUND_RECORDS_MAX);
      for (const r of requests) {
        if (takesQueueOffset(r.sysFlag)) {
          cq.put(r.topic, r.queueId, r.queueOffset, { physicalOffset: r.physicalOffset, sizeBytes: r.sizeBytes, tagsCode: r.tagsCode });
        }
        index.buildIndex({ topic: r.topic, keys: r.keys, uniqKey: r.uniqKey, physicalOffset: r.physicalOffset, storeTimestamp: r.storeTimestamp, sysFlag: r.sysFlag });
      }
      messages += requests.length;
      cq.commit();
      index.commit();
      cq.takeChanged();
      if (performance.now() >= nextFlushMs) {
        const flushStartMs = performance.now();
        cq.flush();
        index.flush();
        const flushMs = performance.now() - flushStartMs;
        flushes++;
        flushMsTotal += flushMs;
        flushMsMax = Math.max(flushMsMax, flushMs);
        nextFlushMs = performance.now() + config.flushIntervalConsumeQueue;
      }
      if (tail.position() === before) throw new Error(`the pipeline cannot read past ${before} (end ${endPhysicalOffset})`);
    }
    const elapsedMs = performance.now() - startMs;
    let units = 0;
    for (const [topic, queueId] of cq.queues()) units += cq.maxQueueOffset(topic, queueId);
    if (units !== messages) throw new Error(`the pipeline wrote ${units} consume queue units for ${messages} records`);
    return {
      msgsPerSec: messages / (elapsedMs / 1000),
      mbPerSec: endPhysicalOffset / 1e6 / (elapsedMs / 1000),
      messages,
      elapsedMs,
      flushes,
      flushMsMean: flushes === 0 ? 0 : flushMsTotal / flushes,
      flushMsMax,
    };
  } finally {
    tail.close();
    cq.close(); // Untimed: the final flush.
    index.close();
  }
}

async function runRound(root: string, name: string, c: DispatchCase, options: DispatchBenchOptions): Promise<RoundResult> {
  const storeDir = path.join(root, name, 'store');
  const pipelineDir = path.join(root, name, 'pipeline');
  try {
    const store = await MessageStore.open({
      storePathRootDir: storeDir,
      flushDiskType: 'ASYNC_FLUSH',
      mappedFileSizeCommitLog: options.segmentSizeBytes,
      flushIntervalConsumeQueue: c.cqFlushMs,
    });
    let engine: EngineFigures;
    let config: MessageStoreConfig;
    try {
      engine = await runEngine(store, c, options);
      config = { ...store.getConfig() };
      const dispatched = dispatchedMessages(store, options);
      if (dispatched !== engine.messagesTotal) throw new Error(`the dispatcher shows ${dispatched} of ${engine.messagesTotal} messages`);
    } finally {
      await store.close();
    }
    const pipeline = runPipeline(config.storePathCommitLog, pipelineDir, config, engine.endPhysicalOffset);
    if (pipeline.messages !== engine.messagesTotal) throw new Error(`the pipeline saw ${pipeline.messages} of ${engine.messagesTotal} messages`);
    return { case: c, engine, pipeline };
  } finally {
    fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
}

const HEADER =
  'cq flush ms keys       round |  put msgs/s   MB/s | disp msgs/s  d/put | lag KB max    p99 | lag ms max   p99 | delay ms max  p99 |' +
  ' pause ms | drain ms | pipeline msgs/s  put/pipe';

function fmt(n: number, w: number, d = 0): string {
  return n.toFixed(d).padStart(w);
}

function printRow(label: string, r: RoundResult): void {
  const e = r.engine;
  console.log(
    `${String(r.case.cqFlushMs).padStart(11)} ${r.case.keys.padEnd(10)} ${label.padEnd(5)} | ${fmt(e.putMsgsPerSec, 11)} ${fmt(e.putMbPerSec, 6)} |` +
      ` ${fmt(e.dispatchedMsgsPerSec, 11)} ${fmt(e.dispatchedMsgsPerSec / e.putMsgsPerSec, 6, 2)} |` +
      ` ${fmt(e.lagBytesMax / 1024, 10)} ${fmt(e.lagBytesP99 / 1024, 6)} | ${fmt(e.lagMsMax, 10, 1)} ${fmt(e.lagMsP99, 5, 1)} |` +
      ` ${fmt(e.delayMsMax, 12)} ${fmt(e.delayMsP99, 4)} | ${fmt(e.pauseMsMax, 8)} | ${fmt(e.drainMs, 8, 1)} |` +
      ` ${fmt(r.pipeline.msgsPerSec, 15)} ${fmt(e.putMsgsPerSec / r.pipeline.msgsPerSec, 9, 2)}`,
  );
}

/** Medians over rounds; maxima for the max columns, the pause and the drain. */
function summarize(results: RoundResult[]): RoundResult {
  const pick = (f: (r: RoundResult) => number): number => median(results.map(f));
  const most = (f: (r: RoundResult) => number): number => Math.max(...results.map(f));
  const first = results[0]!;
  return {
    case: first.case,
    engine: {
      ...first.engine,
      putMsgsPerSec: pick((r) => r.engine.putMsgsPerSec),
      putMbPerSec: pick((r) => r.engine.putMbPerSec),
      dispatchedMsgsPerSec: pick((r) => r.engine.dispatchedMsgsPerSec),
      lagBytesMax: most((r) => r.engine.lagBytesMax),
      lagBytesP99: pick((r) => r.engine.lagBytesP99),
      lagMsMax: most((r) => r.engine.lagMsMax),
      lagMsP99: pick((r) => r.engine.lagMsP99),
      delayMsMax: most((r) => r.engine.delayMsMax),
      delayMsP99: pick((r) => r.engine.delayMsP99),
      pauseMsMax: most((r) => r.engine.pauseMsMax),
      drainMs: most((r) => r.engine.drainMs),
    },
    pipeline: { ...first.pipeline, msgsPerSec: pick((r) => r.pipeline.msgsPerSec) },
  };
}

export async function runDispatchBench(options: DispatchBenchOptions): Promise<RoundResult[]> {
  const root = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'mqstore-dispatch-bench-'));
  printHeader('mqstore dispatcher lag under peak ASYNC_FLUSH puts (issue 3)', root, {
    segment: `${options.segmentSizeBytes} bytes`,
    puts: `${options.bodyBytes} B bodies + a unique KEYS value each, ${options.concurrency} in flight, ` +
      `${options.topics} topics × ${options.queuesPerTopic} queues, ASYNC_FLUSH, fresh store per run`,
    phases: `${options.warmUpMs} ms warm-up + ${options.runMs} ms timed, lag sampled every ${options.sampleIntervalMs} ms; ` +
      `${options.rounds} round(s) of each case, interleaved`,
    cases: options.cases.map((c) => `flushIntervalConsumeQueue ${c.cqFlushMs} ms + ${c.keys} keys`).join('; '),
    baseline: 'the same CommitLog dispatched again in-process (CommitLogTail → ConsumeQueueStore + IndexService), no workers',
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  });
  const results: RoundResult[] = [];
  try {
    console.log(HEADER);
    console.log('-'.repeat(HEADER.length));
    for (let round = 0; round < options.rounds; round++) {
      for (const [index, c] of options.cases.entries()) {
        const result = await runRound(root, `round-${round}-case-${index}`, c, options);
        results.push(result);
        printRow(String(round + 1), result);
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const summaries = options.cases.map((c) => summarize(results.filter((r) => r.case === c)));
  if (options.rounds > 1) for (const summary of summaries) printRow('all', summary);
  console.log('');
  console.log(
    'd/put: dispatched ÷ put msgs/s over the timed window. lag: dispatchBehindBytes() samples in the window; lag ms = lag\n' +
      'bytes ÷ the window\'s put bytes per ms. delay: ms since the writer had written what the dispatcher has reached (from\n' +
      'the samples). pause: longest stretch with no dispatched message seen. drain: from the last put to lag 0. pipeline:\n' +
      'the raw pipeline in-process over the same CommitLog; put/pipe: share of its capacity the put rate needs. "all":\n' +
      'medians; maxima for max, pause and drain.',
  );
  console.log(
    `samples     ${results.map((r) => `${r.engine.samples} (gap max ${r.engine.sampleGapMsMax.toFixed(1)} ms)`).join(', ')}`,
  );
  console.log(`messages    ${results.map((r) => r.engine.messagesTotal).join(', ')}`);
  console.log(
    `pipeline    periodic cq.flush() + index.flush() (fdatasync, on the dispatching thread): ${results
      .filter((r) => r.pipeline.flushes > 0)
      .map((r) => `${r.pipeline.flushes} × mean ${r.pipeline.flushMsMean.toFixed(1)} ms, max ${r.pipeline.flushMsMax.toFixed(1)} ms`)
      .join('; ')}`,
  );
  for (const summary of summaries) {
    const e = summary.engine;
    const met = e.lagMsMax < LAG_GOAL_MS;
    console.log(
      `goal        flushIntervalConsumeQueue ${summary.case.cqFlushMs} ms, ${summary.case.keys} keys: lag < ${LAG_GOAL_MS} ms of writes at the peak put rate: ` +
        `max ${e.lagMsMax.toFixed(1)} ms, p99 ${e.lagMsP99.toFixed(1)} ms → ${met ? 'met' : 'missed'}`,
    );
  }
  console.log(`checksum    ${results.reduce((sum, r) => (sum * 31 + r.engine.endPhysicalOffset + r.pipeline.messages) % 0x7fffffff, 0).toString(16)}`);
  return results;
}
