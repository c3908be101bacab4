// How long MessageStore.open() takes to recover the derived files (consume queues and index)
// after a crash, and to rebuild them from nothing (issue 3).
//
// A child process (./derived_recovery_child.ts) fills a store with N small messages, each with a
// unique KEYS value, in putMessages batches (ASYNC_FLUSH), and is SIGKILLed as soon as the last
// batch is acknowledged: a real crash, with `abort` left behind, the checkpoint's
// dispatchedPhyOffset as of the dispatcher's last periodic flush, and the dispatcher possibly
// still behind. (Copying a live store's directory would not give a state a crash can leave, and
// writing `abort` after a clean close leaves nothing for the dispatcher to redo.) Then, timed:
//
//   crash               open the killed store once: CommitLog CRC scan + re-dispatch from the
//                       checkpoint + queue checks
//   crash + rebuild     consumequeue/ and index/ deleted, `abort` written again: CommitLog CRC
//                       scan + every unit and key rebuilt from offset 0
//   clean + rebuild     consumequeue/ and index/ deleted after a clean close: the derived
//                       rebuild alone (the CommitLog recovers normally, last segment only)
//
// Every open is checked: log end as written, every queue's committed max summing to N, the
// last and a middle key found by queryMessage. Baseline, interleaved before every open: a raw
// sequential read of the same CommitLog bytes (fs.readSync into a 1 MiB buffer, dd-like). The
// page cache holds the whole log (it was just written and is far below RAM).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { MessageStore, type RecoveryReport } from '../../src/index.js';
import { segmentName } from '../../src/format/segment_name.js';
import { printHeader } from '../bench_env.js';

export interface DerivedRecoveryBenchOptions {
  messages: number;
  bodyBytes: number;
  segmentSizeBytes: number;
  /** Messages per putMessages batch, and batches in flight, in the child. */
  batch: number;
  concurrency: number;
  topics: number;
  queuesPerTopic: number;
  /** Timed opens per rebuild case (the crash case happens once). */
  runs: number;
  dir?: string;
}

export function derivedBenchTopic(index: number): string {
  return `DerivedBench${index}`;
}

type CaseName = 'crash' | 'crash + rebuild' | 'clean + rebuild';

interface Written {
  messages: number;
  endPhysicalOffset: number;
  putMs: number;
  dispatchBehindBytes: number;
  totalMs: number;
}

interface OpenSample {
  caseName: CaseName;
  openMs: number;
  closeMs: number;
  report: RecoveryReport;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rawReadMs: number;
}

const MiB = 1024 * 1024;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs the child until it reports `done`, then SIGKILLs it. */
async function writeAndKill(storeDir: string, options: DerivedRecoveryBenchOptions): Promise<Written> {
  const childPath = new URL('./derived_recovery_child.js', import.meta.url);
  const startMs = performance.now();
  const child = spawn(
    process.execPath,
    [
      childPath.pathname,
      '--dir', storeDir,
      '--messages', String(options.messages),
      '--body-bytes', String(options.bodyBytes),
      '--segment-bytes', String(options.segmentSizeBytes),
      '--batch', String(options.batch),
      '--concurrency', String(options.concurrency),
      '--topics', String(options.topics),
      '--queues', String(options.queuesPerTopic),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  let done: Omit<Written, 'totalMs'> | null = null;
  for await (const line of createInterface({ input: child.stdout })) {
    if (!line.startsWith('done ')) continue;
    child.kill('SIGKILL');
    done = JSON.parse(line.slice('done '.length)) as Omit<Written, 'totalMs'>;
    break;
  }
  const how = await exited;
  if (done === null) throw new Error(`the writer child ended (${String(how)}) without finishing: ${stderr}`);
  if (how !== 'SIGKILL') throw new Error(`the writer child ended with ${String(how)}, not SIGKILL: ${stderr}`);
  return { ...done, totalMs: performance.now() - startMs };
}

/** dd-like: every CommitLog byte below `end`, in order, through one 1 MiB buffer. */
function rawRead(commitLogDir: string, segmentSizeBytes: number, end: number): { ms: number; checksum: number } {
  const buffer = Buffer.allocUnsafe(MiB);
  let checksum = 0;
  const startMs = performance.now();
  for (let segmentStart = 0; segmentStart < end; segmentStart += segmentSizeBytes) {
    const fd = fs.openSync(path.join(commitLogDir, segmentName(segmentStart)), fs.constants.O_RDONLY);
    try {
      const length = Math.min(segmentSizeBytes, end - segmentStart);
      for (let at = 0; at < length; ) {
        const n = fs.readSync(fd, buffer, 0, Math.min(MiB, length - at), at);
        if (n === 0) throw new Error(`short CommitLog segment ${segmentName(segmentStart)} at ${at}`);
        checksum = (checksum + buffer[n - 1]!) | 0;
        at += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { ms: performance.now() - startMs, checksum };
}

function prepare(storeDir: string, caseName: CaseName): void {
  if (caseName === 'crash') return;
  fs.rmSync(path.join(storeDir, 'consumequeue'), { recursive: true, force: true });
  fs.rmSync(path.join(storeDir, 'index'), { recursive: true, force: true });
  if (caseName === 'crash + rebuild') fs.writeFileSync(path.join(storeDir, 'abort'), String(process.pid));
}

/** What is wrong with what an open found, or null. */
async function check(store: MessageStore, written: Written, options: DerivedRecoveryBenchOptions): Promise<string | null> {
  const report = store.getRecoveryReport();
  const problems: string[] = [];
  if (report.endPhysicalOffset !== written.endPhysicalOffset) problems.push(`log end ${report.endPhysicalOffset}, wrote ${written.endPhysicalOffset}`);
  let committed = 0;
  for (let t = 0; t < options.topics; t++) {
    for (let q = 0; q < options.queuesPerTopic; q++) committed += store.getMaxOffsetInQueue(derivedBenchTopic(t), q, true);
  }
  if (committed !== written.messages) problems.push(`consume queues hold ${committed} units, wrote ${written.messages}`);
  for (const n of [written.messages - 1, Math.floor(written.messages / 2)]) {
    const slot = Math.floor(n / options.batch) % (options.topics * options.queuesPerTopic);
    const found = await store.queryMessage(derivedBenchTopic(slot % options.topics), `k${n}`, 4, 0, Date.now() + 60_000);
    if (found.messages.length !== 1) problems.push(`key k${n}: ${found.messages.length} messages`);
  }
  const loud = report.events.filter((e) => e.loud);
  if (loud.length > 0) problems.push(`${loud.length} loud CommitLog recovery events, first ${loud[0]!.kind}: ${loud[0]!.reason}`);
  return problems.length === 0 ? null : problems.join('; ');
}

async function openOnce(storeDir: string, caseName: CaseName, written: Written, options: DerivedRecoveryBenchOptions): Promise<OpenSample & { problem: string | null }> {
  prepare(storeDir, caseName);
  const rssBeforeBytes = process.memoryUsage.rss();
  let rssPeakBytes = rssBeforeBytes;
  const rssTimer = setInterval(() => (rssPeakBytes = Math.max(rssPeakBytes, process.memoryUsage.rss())), 20);
  const startMs = performance.now();
  let store: MessageStore;
  try {
    store = await MessageStore.open({ storePathRootDir: storeDir, mappedFileSizeCommitLog: options.segmentSizeBytes });
  } finally {
    clearInterval(rssTimer);
  }
  const openMs = performance.now() - startMs;
  rssPeakBytes = Math.max(rssPeakBytes, process.memoryUsage.rss());
  const report = store.getRecoveryReport();
  let problem: string | null = null;
  let closeMs = 0;
  try {
    problem = await check(store, written, options);
  } finally {
    const closeStartMs = performance.now();
    await store.close();
    closeMs = performance.now() - closeStartMs;
  }
  return { caseName, openMs, closeMs, report, rssBeforeBytes, rssPeakBytes, rawReadMs: 0, problem };
}

const HEADER =
  'case             | open s | CommitLog ms  GB/s | derived ms  redispatched MB  ≈msgs/s | raw read ms  GB/s | derived/raw | RSS MB before  peak';

function printRow(s: OpenSample, written: Written): void {
  const r = s.report;
  const d = r.derived;
  const fmt = (n: number, w: number, dd = 0): string => n.toFixed(dd).padStart(w);
  const derivedSeconds = d.durationMs / 1000;
  const rebuiltMessages = (written.messages * d.redispatchedBytes) / written.endPhysicalOffset;
  const derivedBytesPerSec = derivedSeconds > 0 ? d.redispatchedBytes / derivedSeconds : 0;
  const rawBytesPerSec = written.endPhysicalOffset / (s.rawReadMs / 1000);
  console.log(
    `${s.caseName.padEnd(16)} | ${fmt(s.openMs / 1000, 6, 2)} | ${fmt(r.durationMs, 12, 0)} ${fmt(r.durationMs > 0 ? r.scannedBytes / 1e9 / (r.durationMs / 1000) : 0, 5, 2)} |` +
      ` ${fmt(d.durationMs, 10, 0)} ${fmt(d.redispatchedBytes / 1e6, 16, 0)} ${fmt(derivedSeconds > 0 ? rebuiltMessages / derivedSeconds : 0, 8, 0)} |` +
      ` ${fmt(s.rawReadMs, 11, 0)} ${fmt(rawBytesPerSec / 1e9, 5, 2)} | ${fmt(derivedBytesPerSec / rawBytesPerSec, 11, 3)} | ${fmt(s.rssBeforeBytes / MiB, 13, 0)} ${fmt(s.rssPeakBytes / MiB, 5, 0)}`,
  );
}

export async function runDerivedRecoveryBench(options: DerivedRecoveryBenchOptions): Promise<void> {
  const root = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'mqstore-derived-recovery-bench-'));
  const onSignal = (signal: NodeJS.Signals): void => {
    fs.rmSync(root, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  printHeader('mqstore derived-file recovery: consume queues and index at MessageStore.open() (issue 3)', root, {
    segment: `${options.segmentSizeBytes} bytes`,
    data: `${options.messages} messages of ${options.bodyBytes} B, a unique KEYS each, ${options.topics} topics × ${options.queuesPerTopic} queues, ` +
      `putMessages batches of ${options.batch}, ${options.concurrency} in flight, ASYNC_FLUSH, writer SIGKILLed after the last ack`,
    runs: `crash once, then ${options.runs} × each rebuild case; a raw sequential read before every open`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  });
  const storeDir = path.join(root, 'store');
  const samples: OpenSample[] = [];
  const problems: string[] = [];
  let checksum = 0;
  let written: Written;
  try {
    written = await writeAndKill(storeDir, options);
    console.log(
      `write: ${written.messages} messages, ${(written.endPhysicalOffset / 1e6).toFixed(0)} MB of CommitLog; puts ${(written.putMs / 1000).toFixed(1)} s ` +
        `(${(written.messages / (written.putMs / 1000)).toFixed(0)} msgs/s), child total ${(written.totalMs / 1000).toFixed(1)} s; ` +
        `the dispatcher was ${(written.dispatchBehindBytes / 1e6).toFixed(1)} MB behind at the last ack; SIGKILL; abort present: ` +
        `${fs.existsSync(path.join(storeDir, 'abort'))}\n`,
    );
    const commitLogDir = path.join(storeDir, 'commitlog');
    const cases: CaseName[] = ['crash'];
    for (let run = 0; run < options.runs; run++) cases.push('crash + rebuild', 'clean + rebuild');
    console.log(HEADER);
    console.log('-'.repeat(HEADER.length));
    for (const caseName of cases) {
      const raw = rawRead(commitLogDir, options.segmentSizeBytes, written.endPhysicalOffset);
      const sample = await openOnce(storeDir, caseName, written, options);
      sample.rawReadMs = raw.ms;
      samples.push(sample);
      printRow(sample, written);
      checksum = (checksum * 31 + raw.checksum + sample.report.endPhysicalOffset + sample.report.derived.redispatchedBytes) | 0;
      if (sample.problem !== null) problems.push(`${caseName}: ${sample.problem}`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log('');
  for (const caseName of ['crash + rebuild', 'clean + rebuild'] as const) {
    const rows = samples.filter((s) => s.caseName === caseName);
    if (rows.length === 0) continue;
    const derivedMs = median(rows.map((s) => s.report.derived.durationMs));
    const openMs = median(rows.map((s) => s.openMs));
    const rawMs = median(rows.map((s) => s.rawReadMs));
    console.log(
      `${caseName.padEnd(16)} medians: open ${(openMs / 1000).toFixed(2)} s, derived rebuild ${(derivedMs / 1000).toFixed(2)} s = ` +
        `${(written.messages / (derivedMs / 1000)).toFixed(0)} msgs/s, raw read ${(rawMs / 1000).toFixed(2)} s; derived/raw ${(rawMs / derivedMs).toFixed(3)}`,
    );
  }
  const crash = samples.find((s) => s.caseName === 'crash');
  if (crash !== undefined) {
    const d = crash.report.derived;
    console.log(
      `crash            re-dispatched from ${d.redispatchFromPhysicalOffset} (${(d.redispatchedBytes / 1e6).toFixed(1)} MB), ` +
        `queues rebuilt ${d.consumeQueuesRebuilt.length}, index slots repaired ${d.indexSlotsRepaired}, events: ${d.events.length === 0 ? 'none' : d.events.join(' | ')}`,
    );
  }
  console.log(
    '\nopen s: wall time of MessageStore.open(). CommitLog ms / GB/s: getRecoveryReport().durationMs and scannedBytes. derived\n' +
      'ms: report.derived.durationMs (the dispatcher\'s start-up: load, cut, re-dispatch, queue checks, flush); ≈msgs/s:\n' +
      'messages in the re-dispatched bytes ÷ derived seconds. derived/raw: re-dispatch bytes/s ÷ raw read bytes/s. RSS: the\n' +
      `whole process (main + workers) just before open() and its peak, sampled every 20 ms, during open(). close ms: ${samples.map((s) => s.closeMs.toFixed(0)).join(', ')}`,
  );
  console.log(`checksum    ${(checksum >>> 0).toString(16)}`);
  if (problems.length > 0) {
    console.log(`\n${problems.length} opens did not find what was written:`);
    for (const p of problems) console.log(`  ${p}`);
    process.exitCode = 1;
  }
}
