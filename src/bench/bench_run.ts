// One `mqstore bench` run: measure the disk's page-cache bandwidth, open a store, optionally
// warm up, drive the PutLoad (and a ConsumeLoad) while reporting every interval, then measure
// write+fdatasync at the batch size the engine actually used, and put it all in a BenchResult.
// Plain class-free orchestration over PutLoad, ConsumeLoad and the baselines; the CLI command
// and `mqstore sweep` both call runBench().

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig, type MessageStoreConfig, type MessageStoreOptions } from '../config.js';
import { StoreError } from '../errors.js';
import { MessageStore } from '../message_store.js';
import { ConsumeLoad } from './consume_load.js';
import {
  measurePageCacheWrite,
  measureWriteFdatasync,
  type PageCacheWriteBaseline,
  type WriteFdatasyncBaseline,
} from './disk_baselines.js';
import { cpuBusyShare, environmentWarnings, filesystemOf, machineInfo, type MachineInfo } from './environment.js';
import type { LatencySummaryMs } from './latency.js';
import { PutLoad, type PutWorkload } from './put_load.js';

export interface BenchWorkload extends PutWorkload {
  /** Pull everything back through getMessage while sending. */
  consume: boolean;
  reportIntervalMs: number;
  /** Untimed sends before the measured run (JIT, first segment pages). */
  warmupMs: number;
}

export interface BenchOptions {
  workload: BenchWorkload;
  /** Store configuration: flags and/or configFile; storePathRootDir is chosen by the run. */
  config: Partial<MessageStoreConfig>;
  /** Store directory to use and keep; default: a fresh temporary directory, removed after. */
  storeDir?: string;
  /** Where the temporary store goes when there is no storeDir (default: the OS temp dir). */
  tempParentDir?: string;
  /** Measure the disk baselines (default true). */
  baselines?: boolean;
  /** Warn when the store is not on this filesystem type (e.g. "xfs"). */
  expectedFs?: string;
  onStart?: (start: BenchStart) => void;
  onInterval?: (interval: BenchInterval) => void;
  /** Lets the caller stop the run early (Ctrl-C). */
  signal?: AbortSignal;
}

export interface BenchStart {
  config: MessageStoreConfig;
  workload: BenchWorkload;
  machine: MachineInfo;
  filesystem: string;
  warnings: string[];
}

export interface BenchInterval {
  /** Seconds since the measured run began. */
  tSec: number;
  intervalSec: number;
  messages: number;
  msgsPerSec: number;
  mbPerSec: number;
  latencyMs: LatencySummaryMs;
  sendFailed: number;
  responseFailed: number;
  fsyncsPerSec: number;
  /** Since the run began (RocketMQ's benchmark lines print these running totals and maxima). */
  sinceStart: { sendFailed: number; responseFailed: number; maxLatencyMs: number };
  consume?: {
    messages: number;
    msgsPerSec: number;
    storeToConsumeMs: LatencySummaryMs;
    bornToConsumeMs: LatencySummaryMs;
    failed: number;
    sinceStart: { failed: number; maxStoreToConsumeMs: number; maxBornToConsumeMs: number };
  };
}

export interface ConsumeResult {
  messages: number;
  msgsPerSec: number;
  mbPerSec: number;
  /** Store time → read (RocketMQ's S2C). */
  storeToConsumeMs: LatencySummaryMs;
  /** Born time → read (RocketMQ's B2C). */
  bornToConsumeMs: LatencySummaryMs;
  pulls: number;
  failures: Record<string, number>;
  timedOut: boolean;
  /** Wall clock (epoch ms) of the first pull and of the last message read. */
  startTimeMs: number;
  endTimeMs: number;
}

export interface BenchResult {
  tool: 'mqstore bench';
  date: string;
  machine: MachineInfo;
  filesystem: string;
  storeDir: string;
  config: MessageStoreConfig;
  workload: BenchWorkload;
  durationSec: number;
  /** Messages acknowledged PUT_OK. */
  messages: number;
  sends: number;
  msgsPerSec: number;
  /** Message bodies, 10^6 bytes per second. */
  mbPerSec: number;
  /** CommitLog bytes (records with headers) written per second, 10^6 bytes. */
  logMbPerSec: number;
  /** Response time of each send call. */
  latencyMs: LatencySummaryMs;
  /** From each send's intended start; only with a target rate (tps). */
  intendedLatencyMs?: LatencySummaryMs;
  fsyncs: number;
  fsyncsPerSec: number;
  msgsPerFsync: number;
  bytesPerFsync: number;
  sendFailed: number;
  responseFailed: number;
  failures: Record<string, number>;
  baselines: { pageCacheWrite?: PageCacheWriteBaseline; writeFdatasync?: WriteFdatasyncBaseline };
  /** The engine as a share of each baseline (1 = at the disk's limit). */
  efficiency: { logWriteVsPageCache?: number; fsyncsVsWriteFdatasync?: number };
  intervals: BenchInterval[];
  consume?: ConsumeResult;
  warnings: string[];
}

/** Below this many latency samples the percentiles are noise. */
export const MIN_SAMPLES = 1000;
const MIN_INTERVALS = 5;
const CONSUME_IDLE_TIMEOUT_MS = 10_000;
/** How long the CPU is watched before a run to tell whether someone else is using it. */
const BUSY_SAMPLE_MS = 250;

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const workload = options.workload;
  const machine = machineInfo(await cpuBusyShare(BUSY_SAMPLE_MS)); // Before the run adds its own load.
  const placement = await placeStore(options);
  // A second Ctrl-C exits the process at once: the temporary directories still go.
  const removeOnExit = (): void => placement.removeTemporary();
  process.once('exit', removeOnExit);
  const baselineMs = Math.min(2000, Math.max(500, (workload.count > 0 ? 5000 : workload.durationMs) / 5));
  try {
    const baselines: BenchResult['baselines'] = {};
    if (options.baselines !== false) baselines.pageCacheWrite = measurePageCacheWrite(placement.scratchDir, baselineMs);
    const store = await MessageStore.open(placement.config);
    let result: BenchResult;
    try {
      result = await drive(store, options, baselines, machine);
    } finally {
      await store.close();
    }
    if (options.baselines !== false) {
      // At the engine's own group size; a run without fsyncs is compared at its flush trigger.
      const fallbackBytes = Math.max(4096, result.config.flushCommitLogLeastPages * 4096);
      baselines.writeFdatasync = measureWriteFdatasync(placement.scratchDir, {
        bytesPerWrite: result.bytesPerFsync > 0 ? result.bytesPerFsync : fallbackBytes,
        durationMs: baselineMs,
        zeroFilled: result.config.warmMapedFileEnable,
      });
    }
    finishEfficiency(result);
    return result;
  } finally {
    process.removeListener('exit', removeOnExit);
    placement.removeTemporary();
  }
}

interface StorePlacement {
  /** The options the store is opened with. */
  config: MessageStoreOptions;
  /** Beside the CommitLog, on its filesystem: where the baselines write their scratch files. */
  scratchDir: string;
  removeTemporary(): void;
}

/**
 * Where the store goes. Without `storeDir`, a fresh temporary root (removed after); a CommitLog
 * configured elsewhere (storePathCommitLog, as a flag or in --config) gets a fresh temporary
 * directory inside the one named, so the run measures that disk and never touches what is
 * there. The baselines write beside the CommitLog: the disk being measured.
 */
async function placeStore(options: BenchOptions): Promise<StorePlacement> {
  const temporary: string[] = [];
  const removeTemporary = (): void => {
    for (const dir of temporary.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  };
  let storeDir: string;
  if (options.storeDir === undefined) {
    storeDir = fs.mkdtempSync(path.join(options.tempParentDir ?? os.tmpdir(), 'mqstore-bench-'));
    temporary.push(storeDir);
  } else {
    storeDir = path.resolve(options.storeDir);
    if (fs.existsSync(storeDir) && !fs.statSync(storeDir).isDirectory()) {
      throw new StoreError('E_STORE_DIR', `--store ${storeDir} exists and is not a directory`);
    }
    fs.mkdirSync(storeDir, { recursive: true });
  }
  try {
    const resolved = await resolveConfig({ ...options.config, storePathRootDir: storeDir });
    let commitLogDir = resolved.storePathCommitLog;
    const elsewhere = commitLogDir !== path.join(storeDir, 'commitlog');
    if (elsewhere && options.storeDir === undefined) {
      fs.mkdirSync(commitLogDir, { recursive: true });
      const own = fs.mkdtempSync(path.join(commitLogDir, 'mqstore-bench-'));
      temporary.push(own);
      commitLogDir = path.join(own, 'commitlog');
    }
    fs.mkdirSync(commitLogDir, { recursive: true });
    return {
      config: { ...options.config, storePathRootDir: storeDir, ...(elsewhere ? { storePathCommitLog: commitLogDir } : {}) },
      scratchDir: path.dirname(commitLogDir),
      removeTemporary,
    };
  } catch (error) {
    removeTemporary();
    throw error;
  }
}

async function drive(store: MessageStore, options: BenchOptions, baselines: BenchResult['baselines'], machine: MachineInfo): Promise<BenchResult> {
  const workload = options.workload;
  const config = { ...store.getConfig() };
  const storeDir = config.storePathRootDir;
  const warnings = environmentWarnings([...new Set([storeDir, config.storePathCommitLog])], options.expectedFs, machine);
  const start: BenchStart = { config, workload, machine, filesystem: filesystemOf(config.storePathCommitLog), warnings };
  options.onStart?.(start);
  const runId = `${process.pid}-${Date.now().toString(36)}`;
  if (workload.warmupMs > 0 && options.signal?.aborted !== true) {
    const warmup = new PutLoad(store, { ...workload, count: 0, durationMs: workload.warmupMs, tps: 0 }, `${runId}w`);
    await stoppable(warmup, options.signal, () => warmup.run());
    await store.flush();
  }
  const load = new PutLoad(store, workload, runId);
  const consumer = workload.consume ? new ConsumeLoad(store, load.topics, workload.queuesPerTopic) : null;
  const intervals: BenchInterval[] = [];
  const fsyncsAtStart = store.getWriterStats().fsyncCount;
  const logAtStart = store.getMaxPhyOffset();
  let lastTickMs = performance.now();
  let lastFsyncs = fsyncsAtStart;
  const runStartMs = lastTickMs;
  const tick = (): void => {
    const nowMs = performance.now();
    const intervalSec = (nowMs - lastTickMs) / 1000;
    if (intervalSec <= 0) return;
    const fsyncs = store.getWriterStats().fsyncCount;
    const taken = load.takeInterval();
    const interval: BenchInterval = {
      tSec: (nowMs - runStartMs) / 1000,
      intervalSec,
      messages: taken.totals.messages,
      msgsPerSec: taken.totals.messages / intervalSec,
      mbPerSec: taken.totals.bodyBytes / 1e6 / intervalSec,
      latencyMs: taken.latency.summary(),
      sendFailed: taken.totals.sendFailed,
      responseFailed: taken.totals.responseFailed,
      fsyncsPerSec: (fsyncs - lastFsyncs) / intervalSec,
      sinceStart: { sendFailed: load.totals.sendFailed, responseFailed: load.totals.responseFailed, maxLatencyMs: load.latency.maxMs },
    };
    if (consumer !== null) {
      const c = consumer.takeInterval();
      interval.consume = {
        messages: c.totals.messages,
        msgsPerSec: c.totals.messages / intervalSec,
        storeToConsumeMs: c.storeToConsume.summary(),
        bornToConsumeMs: c.bornToConsume.summary(),
        failed: sumValues(c.totals.failures),
        sinceStart: {
          failed: sumValues(consumer.totals.failures),
          maxStoreToConsumeMs: consumer.storeToConsume.maxMs,
          maxBornToConsumeMs: consumer.bornToConsume.maxMs,
        },
      };
    }
    lastTickMs = nowMs;
    lastFsyncs = fsyncs;
    intervals.push(interval);
    options.onInterval?.(interval);
  };
  const timer = setInterval(tick, workload.reportIntervalMs);
  try {
    consumer?.start();
    await stoppable(load, options.signal, () => load.run());
    if (consumer !== null) await consumer.finish(CONSUME_IDLE_TIMEOUT_MS);
  } finally {
    clearInterval(timer);
  }
  // The last partial interval, if it holds anything worth a line.
  if (performance.now() - lastTickMs >= workload.reportIntervalMs / 10) tick();
  const runMs = load.runMs;
  const fsyncs = store.getWriterStats().fsyncCount - fsyncsAtStart;
  const logBytes = store.getMaxPhyOffset() - logAtStart;
  // Untimed: leave no dirty pages behind for the fsync baseline to pay for.
  await store.flush();
  const seconds = runMs / 1000;
  const totals = load.totals;
  const result: BenchResult = {
    tool: 'mqstore bench',
    date: new Date().toISOString(),
    machine: start.machine,
    filesystem: start.filesystem,
    storeDir,
    config,
    workload,
    durationSec: seconds,
    messages: totals.messages,
    sends: totals.sends,
    msgsPerSec: totals.messages / seconds,
    mbPerSec: totals.bodyBytes / 1e6 / seconds,
    logMbPerSec: logBytes / 1e6 / seconds,
    latencyMs: load.latency.summary(),
    ...(workload.tps > 0 ? { intendedLatencyMs: load.intendedLatency.summary() } : {}),
    fsyncs,
    fsyncsPerSec: fsyncs / seconds,
    msgsPerFsync: fsyncs > 0 ? totals.messages / fsyncs : 0,
    bytesPerFsync: fsyncs > 0 ? logBytes / fsyncs : 0,
    sendFailed: totals.sendFailed,
    responseFailed: totals.responseFailed,
    failures: totals.failures,
    baselines,
    efficiency: {},
    intervals,
    warnings: [...warnings],
  };
  if (consumer !== null) {
    const consumeSec = consumer.runMs / 1000;
    result.consume = {
      messages: consumer.totals.messages,
      msgsPerSec: consumeSec > 0 ? consumer.totals.messages / consumeSec : 0,
      mbPerSec: consumeSec > 0 ? consumer.totals.bodyBytes / 1e6 / consumeSec : 0,
      storeToConsumeMs: consumer.storeToConsume.summary(),
      bornToConsumeMs: consumer.bornToConsume.summary(),
      pulls: consumer.totals.pulls,
      failures: consumer.totals.failures,
      timedOut: consumer.timedOut,
      startTimeMs: consumer.startedAtMs,
      endTimeMs: consumer.lastMessageAtMs,
    };
    if (consumer.timedOut) {
      result.warnings.push(`the consumers read ${consumer.totals.messages} of the messages sent and then nothing for ${CONSUME_IDLE_TIMEOUT_MS} ms`);
    }
  }
  if (result.latencyMs.count < MIN_SAMPLES) {
    result.warnings.push(`only ${result.latencyMs.count} latency samples (fewer than ${MIN_SAMPLES}): percentiles are noise; run longer`);
  }
  if (seconds * 1000 < MIN_INTERVALS * workload.reportIntervalMs) {
    result.warnings.push(`the run lasted ${seconds.toFixed(1)} s, fewer than ${MIN_INTERVALS} report intervals: too short for a steady state`);
  }
  const failed = totals.sendFailed + totals.responseFailed;
  if (failed > 0) result.warnings.push(`${failed} messages failed: ${JSON.stringify(totals.failures)}`);
  if (options.signal?.aborted === true) result.warnings.push('interrupted (Ctrl-C): the run is shorter than asked');
  return result;
}

function sumValues(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Runs a load that Ctrl-C stops: at once when the signal fired before (during the baselines or
 * the open: an abort event never fires again for a late listener), else when it fires.
 */
async function stoppable(load: PutLoad, signal: AbortSignal | undefined, run: () => Promise<void>): Promise<void> {
  if (signal === undefined) return run();
  const onAbort = (): void => load.stop();
  if (signal.aborted) load.stop();
  else signal.addEventListener('abort', onAbort);
  try {
    await run();
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function finishEfficiency(result: BenchResult): void {
  const pageCache = result.baselines.pageCacheWrite;
  if (pageCache !== undefined && pageCache.mbPerSec > 0) result.efficiency.logWriteVsPageCache = result.logMbPerSec / pageCache.mbPerSec;
  const fdatasync = result.baselines.writeFdatasync;
  // Only SYNC_FLUSH fsyncs as fast as it can; ASYNC_FLUSH's follow flushIntervalCommitLog.
  if (fdatasync !== undefined && fdatasync.opsPerSec > 0 && result.fsyncs > 0 && result.config.flushDiskType === 'SYNC_FLUSH') {
    result.efficiency.fsyncsVsWriteFdatasync = result.fsyncsPerSec / fdatasync.opsPerSec;
  }
  if (fdatasync !== undefined && fdatasync.writes < 50) {
    result.warnings.push(`the write+fdatasync baseline made only ${fdatasync.writes} writes: its rate is rough`);
  }
}
