// Full recovery scans every segment with CRC checks: CPU-bound (CRC) and independent per segment.
// With more than one core and enough data, the segments are scanned in parallel on a piscina
// pool; Recovery then walks the summaries in order exactly as it would walk its own scans, so
// the cut, the events and the queue offsets are the same either way (tests compare them).

import os from 'node:os';
import { Piscina } from 'piscina';
import type { StorageSpec } from '../io/storage.js';
import type { SegmentScanSummary, SegmentScanTask } from './segment_scan_task.js';

/** Below this much data a pool costs more (thread start-up) than it saves. */
export const PARALLEL_SCAN_BYTES_MIN = 256 * 1024 * 1024;

export interface ParallelScanOptions {
  segments: ReadonlyArray<{ startOffset: number; path: string }>;
  segmentSizeBytes: number;
  verifyCrc: boolean;
  storage: StorageSpec | undefined;
  /** Threads to use; default: the available parallelism, at most 4. 1 means do not use a pool. */
  threads?: number | undefined;
}

/** The number of scan threads worth starting for this many segments (1 = scan in place). */
export function scanThreadsFor(options: ParallelScanOptions): number {
  const requested = options.threads ?? Math.min(4, os.availableParallelism());
  if (options.segments.length < 2 || options.segments.length * options.segmentSizeBytes < PARALLEL_SCAN_BYTES_MIN) {
    return options.threads === undefined ? 1 : Math.min(requested, options.segments.length);
  }
  return Math.max(1, Math.min(requested, options.segments.length));
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
        pool.run({
          path: segment.path,
          startOffset: segment.startOffset,
          segmentSizeBytes: options.segmentSizeBytes,
          verifyCrc: options.verifyCrc,
          storage: options.storage,
        }),
      ),
    );
    return new Map(summaries.map((summary) => [summary.startOffset, summary]));
  } finally {
    await pool.destroy();
  }
}
