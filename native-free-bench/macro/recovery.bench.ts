// How long MessageStore.open() takes to recover S bytes of CommitLog (1 GiB and 10 GiB; smoke
// 64 MiB), after a clean close and after a crash, with the page cache warm and (when
// /proc/sys/vm/drop_caches can be written) cold.
//
//   normal          clean close: checkpoint + queue-offset snapshot, scan of the last segment only
//   abnormal crc    `abort` left in the root (what a killed writer leaves): every segment, body CRCs,
//                   scanned in parallel on the piscina pool when there is enough data
//   abnormal 1 thr  the same scanned by the writer alone (internals.recoveryScanThreads 1): the
//                   pool's gain is the ratio of the two rows
//   abnormal nocrc  the same with checkCRCOnRecover: false
//
// The store is built once per size with ASYNC_FLUSH and ~4 KiB bodies at high concurrency. Every
// open is timed on the wall clock and its RecoverySummary is checked against what was written
// (log end, sum of the queue offsets), so a recovery that loses data cannot look fast.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, type RecoverySummary } from '../../src/index.js';
import { printHeader } from '../bench_env.js';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const TOPICS = ['RecoveryBench0', 'RecoveryBench1', 'RecoveryBench2', 'RecoveryBench3'];
const QUEUES_PER_TOPIC = 4;
/** A drop counts as working when at most this share of the bytes stays resident. */
const DROPPED_RESIDENT_MAX = 0.05;
/** A warm open below this share of resident full segments re-reads them first. */
const WARM_RESIDENT_MIN = 0.9;

export interface RecoveryBenchOptions {
  sizesBytes: number[];
  segmentSizeBytes: number;
  bodyBytes: number;
  concurrency: number;
  /** Timed opens per (size, case, cache state); the table shows medians. */
  runs: number;
  /**
   * Try /proc/sys/vm/drop_caches for cold-cache runs. It empties the whole machine's page cache,
   * so smoke runs (inside npm test, next to other work) leave it off.
   */
  dropCaches: boolean;
  dir?: string;
}

type CaseName = 'normal' | 'abnormal crc' | 'abnormal 1 thr' | 'abnormal nocrc';
type CacheState = 'warm' | 'cold';

interface RecoveryCase {
  name: CaseName;
  crash: boolean;
  checkCRCOnRecover: boolean;
  expectFullScan: boolean;
  /** Forces the scan thread count (undefined: the store decides). */
  scanThreads?: number;
}

const CASES: RecoveryCase[] = [
  { name: 'normal', crash: false, checkCRCOnRecover: true, expectFullScan: false },
  { name: 'abnormal crc', crash: true, checkCRCOnRecover: true, expectFullScan: true },
  { name: 'abnormal 1 thr', crash: true, checkCRCOnRecover: true, expectFullScan: true, scanThreads: 1 },
  { name: 'abnormal nocrc', crash: true, checkCRCOnRecover: false, expectFullScan: true },
];

interface Built {
  endPhysicalOffset: number;
  messages: number;
}

interface OpenSample {
  openMs: number;
  report: RecoverySummary;
  /** Share of the full data segments in the page cache just before the open; null without fincore. */
  resident: number | null;
  /** A warm open found the cache partly reclaimed and read the segments again first. */
  rewarmed: boolean;
}

interface Row {
  sizeBytes: number;
  caseName: CaseName;
  cache: CacheState;
  samples: OpenSample[];
}

type DropProbe = { works: true; detail: string } | { works: false; detail: string };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function sizeLabel(bytes: number): string {
  return bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${(bytes / MiB).toFixed(0)} MiB`;
}

/** Bytes of `files` resident in the page cache (fincore, util-linux), or null when unavailable. */
function residentBytes(files: string[]): number | null {
  if (files.length === 0) return 0;
  try {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files], { encoding: 'utf8' });
    return out.trim().split('\n').reduce((sum, line) => sum + Number(line), 0);
  } catch {
    return null;
  }
}

/** sync(1), then drop clean page-cache pages; returns the error message when the write fails. */
function dropPageCache(): string | null {
  try {
    execFileSync('sync');
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0]!;
  }
}

/** Whether dropping works here, judged on a fresh 16 MiB file: resident before, gone after. */
function probeDropCaches(root: string): DropProbe {
  const file = path.join(root, 'drop-probe');
  try {
    const fd = fs.openSync(file, 'w');
    try {
      fs.writeSync(fd, randomBytes(16 * MiB));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const before = residentBytes([file]);
    const error = dropPageCache();
    if (error !== null) return { works: false, detail: `cannot drop caches (${error})` };
    const after = residentBytes([file]);
    if (before === null || after === null) return { works: false, detail: 'wrote drop_caches, but cannot verify it without fincore' };
    if (before === 0) return { works: false, detail: 'cannot verify: the probe file was never resident' };
    if (after > before * DROPPED_RESIDENT_MAX) return { works: false, detail: `no effect (${after} of ${before} probe bytes stayed resident)` };
    return { works: true, detail: `works (probe file ${before} → ${after} bytes resident); a virtual disk's host cache may still serve "cold" reads` };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Segments entirely below `end`: the bytes whose residency tells warm from cold. */
function fullSegmentFiles(commitLogDir: string, segmentSizeBytes: number, end: number): string[] {
  return fs
    .readdirSync(commitLogDir)
    .filter((name) => /^\d{20}$/.test(name) && Number(name) + segmentSizeBytes <= end)
    .map((name) => path.join(commitLogDir, name));
}

function residentShare(files: string[], segmentSizeBytes: number): number | null {
  if (files.length === 0) return null;
  const resident = residentBytes(files);
  return resident === null ? null : resident / (files.length * segmentSizeBytes);
}

/** Reads `files` once so their pages are in the page cache again. */
function readThrough(files: string[]): void {
  const buffer = Buffer.allocUnsafe(4 * MiB);
  for (const file of files) {
    const fd = fs.openSync(file, 'r');
    try {
      while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Fills a new store to at least `sizeBytes` of CommitLog with `concurrency` closed-loop senders. */
async function build(storeDir: string, sizeBytes: number, options: RecoveryBenchOptions): Promise<Built> {
  const body = randomBytes(options.bodyBytes);
  const store = await MessageStore.open({
    storePathRootDir: storeDir,
    flushDiskType: 'ASYNC_FLUSH',
    mappedFileSizeCommitLog: options.segmentSizeBytes,
  });
  let messages = 0;
  let ackedEnd = 0;
  let failure: string | null = null;
  const startMs = performance.now();
  let putMs = 0;
  try {
    const sender = async (index: number): Promise<void> => {
      const topic = TOPICS[index % TOPICS.length]!;
      const queueId = Math.floor(index / TOPICS.length) % QUEUES_PER_TOPIC;
      while (failure === null && store.getMaxPhyOffset() < sizeBytes) {
        const result = await store.putMessage({ topic, queueId, body });
        const appended = result.appendMessageResult;
        if (result.putMessageStatus === 'PUT_OK' && appended !== undefined) {
          messages++;
          ackedEnd = Math.max(ackedEnd, appended.wroteOffset + appended.wroteBytes);
        } else {
          failure ??= result.putMessageStatus;
        }
      }
    };
    const senders: Promise<void>[] = [];
    for (let i = 0; i < options.concurrency; i++) senders.push(sender(i));
    await Promise.all(senders);
    putMs = performance.now() - startMs;
  } finally {
    await store.close();
  }
  if (failure !== null) throw new Error(`building the store: a put failed with ${failure}`);
  const totalMs = performance.now() - startMs;
  // The end the puts acknowledged, not the store's own counter: recovery is checked against it.
  const end = ackedEnd;
  console.log(
    `build ${sizeLabel(sizeBytes)}: ${messages} messages of ${options.bodyBytes} B, ${(end / 1e6).toFixed(0)} MB in ` +
      `${(totalMs / 1000).toFixed(1)} s (puts ${(putMs / 1000).toFixed(1)} s + close ${((totalMs - putMs) / 1000).toFixed(1)} s) ` +
      `= ${(end / 1e6 / (totalMs / 1000)).toFixed(0)} MB/s`,
  );
  const tailBytes = end % options.segmentSizeBytes === 0 ? 0 : options.segmentSizeBytes - (end % options.segmentSizeBytes);
  console.log(
    `  the last segment holds ${((end % options.segmentSizeBytes) / 1e6).toFixed(1)} MB; abnormal recovery also reads its ` +
      `${(tailBytes / 1e6).toFixed(1)} MB unwritten tail to check it is zero (in durationMs, not in scannedBytes)`,
  );
  return { endPhysicalOffset: end, messages };
}

/** One timed open + close; returns what recovery reported. */
async function openOnce(storeDir: string, c: RecoveryCase, cache: CacheState, options: RecoveryBenchOptions, built: Built): Promise<OpenSample> {
  if (c.crash) fs.writeFileSync(path.join(storeDir, 'abort'), String(process.pid));
  const files = fullSegmentFiles(path.join(storeDir, 'commitlog'), options.segmentSizeBytes, built.endPhysicalOffset);
  let resident = residentShare(files, options.segmentSizeBytes);
  let rewarmed = false;
  if (cache === 'warm' && resident !== null && resident < WARM_RESIDENT_MIN) {
    // Something outside this process reclaimed the cache (another drop, memory pressure): refill it.
    readThrough(files);
    resident = residentShare(files, options.segmentSizeBytes);
    rewarmed = true;
  }
  const startMs = performance.now();
  const store = await MessageStore.open(
    {
      storePathRootDir: storeDir,
      mappedFileSizeCommitLog: options.segmentSizeBytes,
      checkCRCOnRecover: c.checkCRCOnRecover,
    },
    c.scanThreads === undefined ? {} : { recoveryScanThreads: c.scanThreads },
  );
  const openMs = performance.now() - startMs;
  const report = store.getRecoveryReport();
  await store.close();
  return { openMs, report, resident, rewarmed };
}

/** What is wrong with a recovery, or null: it must find exactly what was written. */
function checkSample(sample: OpenSample, c: RecoveryCase, built: Built): string | null {
  const r = sample.report;
  const queued = r.queueOffsets.reduce((sum, [, , next]) => sum + next, 0);
  const problems: string[] = [];
  if (r.endPhysicalOffset !== built.endPhysicalOffset) problems.push(`log end ${r.endPhysicalOffset}, wrote ${built.endPhysicalOffset}`);
  if (queued !== built.messages) problems.push(`queue offsets sum to ${queued}, wrote ${built.messages} messages`);
  if (r.mode !== (c.crash ? 'abnormal' : 'normal')) problems.push(`mode ${r.mode}`);
  if (r.fullScan !== c.expectFullScan) problems.push(`fullScan ${r.fullScan}`);
  const loud = r.events.filter((e) => e.loud);
  if (loud.length > 0) problems.push(`${loud.length} loud recovery events, first: ${loud[0]!.kind} ${loud[0]!.reason}`);
  return problems.length === 0 ? null : problems.join('; ');
}

const HEADER =
  'size    case            cache | open ms  (min–max)        | recovery ms  scanned MB  scan GB/s | threads | mode/fullScan   resident';

function printTable(rows: Row[]): void {
  console.log(HEADER);
  console.log('-'.repeat(HEADER.length));
  const fmt = (n: number, w: number, d = 0): string => n.toFixed(d).padStart(w);
  for (const row of rows) {
    const opens = row.samples.map((s) => s.openMs);
    const durationMs = median(row.samples.map((s) => s.report.durationMs));
    const scanned = median(row.samples.map((s) => s.report.scannedBytes));
    const gbPerSec = durationMs > 0 ? scanned / 1e9 / (durationMs / 1000) : 0;
    const r = row.samples[0]!.report;
    const shares = row.samples.map((s) => s.resident).filter((s): s is number => s !== null);
    const resident = shares.length === 0 ? 'n/a' : `${(median(shares) * 100).toFixed(0)}%`;
    console.log(
      `${sizeLabel(row.sizeBytes).padEnd(7)} ${row.caseName.padEnd(15)} ${row.cache.padEnd(5)} |` +
        ` ${fmt(median(opens), 7, 1)}  (${fmt(Math.min(...opens), 7, 1)}–${fmt(Math.max(...opens), 7, 1)}) |` +
        ` ${fmt(durationMs, 11, 1)} ${fmt(scanned / 1e6, 11, 1)} ${fmt(gbPerSec, 10, 2)} |` +
        ` ${fmt(r.scanThreads, 7)} |` +
        ` ${`${r.mode}/${r.fullScan}`.padEnd(15)} ${resident.padStart(8)}`,
    );
  }
}

export async function runRecoveryBench(options: RecoveryBenchOptions): Promise<void> {
  const root = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'mqstore-recovery-bench-'));
  // Up to 20 GiB in the temp dir: remove it on Ctrl-C too, not only on errors.
  const onSignal = (signal: NodeJS.Signals): void => {
    fs.rmSync(root, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  const problems: string[] = [];
  let checksum = 0;
  try {
    const drop: DropProbe = options.dropCaches
      ? probeDropCaches(root)
      : { works: false, detail: 'not tried (it empties the whole machine\'s page cache): warm runs only' };
    printHeader('mqstore recovery time: MessageStore.open() after a clean close and after a crash', root, {
      segment: `${options.segmentSizeBytes} bytes`,
      sizes: options.sizesBytes.map(sizeLabel).join(', '),
      records: `${options.bodyBytes} B bodies, ${options.concurrency} in flight, ${TOPICS.length} topics × ${QUEUES_PER_TOPIC} queues, ASYNC_FLUSH`,
      runs: `${options.runs} opens per case and cache state; medians`,
      'drop cache': drop.detail,
      memory: `${(os.totalmem() / GiB).toFixed(1)} GiB (a warm cache holds the whole log only if it fits)`,
    });
    const caches: CacheState[] = drop.works ? ['warm', 'cold'] : ['warm'];
    for (const sizeBytes of options.sizesBytes) {
      const stats = fs.statfsSync(root);
      const freeBytes = stats.bavail * stats.bsize;
      if (freeBytes < 2 * sizeBytes) {
        console.log(`skip ${sizeLabel(sizeBytes)}: ${(freeBytes / GiB).toFixed(1)} GiB free in ${root}, need 2 × ${sizeLabel(sizeBytes)}\n`);
        continue;
      }
      const storeDir = path.join(root, `store-${sizeBytes}`);
      try {
        const built = await build(storeDir, sizeBytes, options);
        for (const cache of caches) {
          for (const c of CASES) {
            const row: Row = { sizeBytes, caseName: c.name, cache, samples: [] };
            for (let run = 0; run < options.runs; run++) {
              if (cache === 'cold') {
                const error = dropPageCache();
                if (error !== null) throw new Error(`drop_caches stopped working: ${error}`);
              }
              const sample = await openOnce(storeDir, c, cache, options, built);
              row.samples.push(sample);
              const r = sample.report;
              checksum = (checksum * 31 + r.endPhysicalOffset + r.queueOffsets.reduce((s, [, , next]) => s + next, 0)) % 0x7fffffff;
              const problem = checkSample(sample, c, built);
              if (problem !== null) problems.push(`${sizeLabel(sizeBytes)} ${c.name} ${cache} run ${run + 1}: ${problem}`);
              console.log(
                `  ${sizeLabel(sizeBytes)} ${c.name} ${cache} ${run + 1}/${options.runs}: open ${sample.openMs.toFixed(1)} ms, ` +
                  `recovery ${r.durationMs.toFixed(1)} ms, scanned ${(r.scannedBytes / 1e6).toFixed(1)} MB` +
                  (sample.resident === null ? '' : `, resident before ${(sample.resident * 100).toFixed(0)}%`) +
                  (sample.rewarmed ? ' (page cache had been reclaimed: re-read first)' : '') +
                  (problem === null ? '' : `  !! ${problem}`),
              );
            }
            rows.push(row);
          }
        }
      } finally {
        fs.rmSync(storeDir, { recursive: true, force: true });
      }
      console.log('');
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    fs.rmSync(root, { recursive: true, force: true });
  }
  if (rows.length > 0) printTable(rows);
  console.log('');
  console.log(
    'open ms: wall time of MessageStore.open() (worker start, recovery, checkpoint, next segment). recovery ms and scanned MB:\n' +
      'getRecoveryReport().durationMs / scannedBytes (CommitLog bytes read record by record). resident: share of the full\n' +
      'segments in the page cache just before the open (fincore).',
  );
  console.log(`checksum    ${checksum.toString(16)} (log ends + queue offsets of ${rows.reduce((n, r) => n + r.samples.length, 0)} opens)`);
  if (problems.length > 0) {
    console.log(`\n${problems.length} recoveries did not find what was written:`);
    for (const p of problems) console.log(`  ${p}`);
    process.exitCode = 1;
  }
}
