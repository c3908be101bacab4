// Full recovery scans every segment with CRC checks: CPU-bound (CRC) and independent per segment.
// With more than one core and enough data, the segments are scanned in parallel on a piscina
// pool; Recovery then walks the summaries in order exactly as it would walk its own scans, so
// the cut, the events and the queue offsets are the same either way (tests compare them).
//
// Parallel pays off when the log is in the page cache (a killed process: 1.8x on 10 GiB) and
// can lose when it must come from a slow disk (after a reboot: two sequential readers
// interleave; 0.78x measured). A short timed read of the first segment tells them apart.

import os from 'node:os';
import { Piscina } from 'piscina';
import type { Storage, StorageSpec } from '../io/storage.js';
import type { SegmentScanSummary, SegmentScanTask } from './segment_scan_task.js';

/** Below this much data a pool costs more (thread start-up) than it saves. */
export const PARALLEL_SCAN_BYTES_MIN = 256 * 1024 * 1024;
/** The probe reads this much of the first segment... */
const PROBE_BYTES = 32 * 1024 * 1024;
/** ...and the log counts as cached (or on a disk fast enough for parallel reads) above this rate. */
const PROBE_BYTES_PER_SEC_MIN = 6e9;

export interface ParallelScanOptions {
  segments: ReadonlyArray<{ startOffset: number; path: string }>;
  segmentSizeBytes: number;
  verifyCrc: boolean;
  requireRecordCrc?: boolean | undefined;
  storage: StorageSpec | undefined;
  /** Threads to use; default: the available parallelism, at most 4. 1 means do not use a pool. */
  threads?: number | undefined;
  /** Told as each segment's scan ends, in completion order (progress display). */
  onSegmentDone?: ((summary: SegmentScanSummary) => void) | undefined;
}

/**
 * The number of scan threads worth starting (1 = scan in the writer): `threads` when given;
 * otherwise the cores (at most 4) for at least PARALLEL_SCAN_BYTES_MIN over 2+ segments that
 * read fast enough (`readProbe`, bytes per second of a timed read), else 1.
 */
export function scanThreadsFor(options: ParallelScanOptions, readProbe?: () => number): number {
  if (options.threads !== undefined) return Math.max(1, Math.min(options.threads, options.segments.length));
  const cores = Math.min(4, os.availableParallelism());
  if (cores < 2 || options.segments.length < 2 || options.segments.length * options.segmentSizeBytes < PARALLEL_SCAN_BYTES_MIN) return 1;
  if (readProbe !== undefined && readProbe() < PROBE_BYTES_PER_SEC_MIN) return 1;
  return Math.min(cores, options.segments.length);
}

/**
 * Bytes per second of a sequential read of the start of `file` (at most PROBE_BYTES, 4 MiB at
 * a time). The bytes read stay in the page cache for the scan that follows.
 */
export function probeReadRate(storage: Storage, file: string): number {
  const handle = storage.open(file, false);
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    const startedNs = process.hrtime.bigint();
    let total = 0;
    while (total < PROBE_BYTES) {
      const got = storage.pread(handle, buffer, 0, buffer.length, total);
      if (got <= 0) break;
      total += got;
    }
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    return seconds > 0 ? total / seconds : Number.POSITIVE_INFINITY;
  } finally {
    storage.close(handle);
  }
}

/** Scans every segment on a pool; resolves with one summary per segment, by start offset. */
export async function scanSegmentsInParallel(options: ParallelScanOptions, threads: number): Promise<Map<number, SegmentScanSummary>> {
  const pool = new Piscina<SegmentScanTask, SegmentScanSummary>({
    filename: new URL('./segment_scan_task.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 1000,
  });
  try {
    const summaries = await Promise.all(
      options.segments.map((segment) =>
        pool
          .run({
            path: segment.path,
            startOffset: segment.startOffset,
            segmentSizeBytes: options.segmentSizeBytes,
            verifyCrc: options.verifyCrc,
            requireRecordCrc: options.requireRecordCrc,
            storage: options.storage,
          })
          .then((summary) => {
            options.onSegmentDone?.(summary);
            return summary;
          }),
      ),
    );
    return new Map(summaries.map((summary) => [summary.startOffset, summary]));
  } finally {
    await pool.destroy();
  }
}
