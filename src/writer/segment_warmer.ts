// SegmentWarmer (warmMapedFileEnable): zero-fills and fsyncs the NEXT segment while the writer
// fills the current one, so when the log rolls, every fdatasync overwrites allocated blocks and
// commits no file-system metadata: 1.6–2× cheaper on ext4 (BENCHMARKS.md, fsync_prealloc).
//
//   current segment (data, fsynced by SYNC_FLUSH)  | next segment: zeros, synced | burst | sparse…
//                                                   ^ next start                  ^ zeroedWhere
//
// Only the next segment is warmed: an fdatasync flushes every dirty page of its file, so zeros
// written into the segment being fsynced would be flushed by the data's fsyncs and slow them
// down. The first segment of a fresh store and the one in use at reopen are therefore not warmed.
// If the log reaches the next segment before it is fully warmed, the writer never writes into a
// burst still in flight (waitsFor), and the warmer moves on to the segment after.

import type { Storage } from '../io/storage.js';
import type { CommitLogFiles } from './commit_log_files.js';
import { ioError } from '../errors.js';

/** Bytes zero-filled per burst, then fdatasynced on their own. */
export const WARM_BURST_BYTES = 8 * 1024 * 1024;

export class SegmentWarmer {
  private readonly storage: Storage;
  private readonly files: CommitLogFiles;
  private readonly onDone: (error: unknown) => void;
  /** Physical offset up to which the segment being warmed is zeroed and synced. */
  private zeroedWhere = 0;
  private burst: { start: number; end: number } | null = null;

  constructor(storage: Storage, files: CommitLogFiles, onDone: (error: unknown) => void) {
    this.storage = storage;
    this.files = files;
    this.onDone = onDone;
  }

  /** Starts the next burst into the segment after the one holding `wroteWhere`, if any is left. */
  step(wroteWhere: number): void {
    if (this.burst !== null) return;
    const size = this.files.segmentSizeBytes;
    const current = this.files.segmentStartOf(wroteWhere);
    const next = current + size;
    this.zeroedWhere = Math.max(this.zeroedWhere, next);
    // Pace the zeros with the data: keep the next segment warmed as far (plus one burst) as the
    // current one is filled, so the extra writes are spread out instead of saturating the disk
    // the moment a segment is opened.
    const target = Math.min(next + size, next + (wroteWhere - current) + WARM_BURST_BYTES);
    if (this.zeroedWhere >= target) return;
    const start = this.zeroedWhere;
    const end = Math.min(start + WARM_BURST_BYTES, target);
    const segment = this.files.segmentFor(start, start);
    this.burst = { start, end };
    this.storage
      .zeroFillAsync(segment.file, start - next, end - start)
      .then(() => this.storage.fdatasyncAsync(segment.file))
      .then(
        () => {
          this.burst = null;
          this.zeroedWhere = Math.max(this.zeroedWhere, end);
          this.onDone(null);
        },
        (error: unknown) => {
          this.burst = null;
          this.onDone(ioError(`zero-fill of CommitLog segment ${segment.file.path} failed`, error));
        },
      );
  }

  /** True when writing [physicalOffset, end) now would race a burst still in flight. */
  waitsFor(physicalOffset: number, lengthBytes: number): boolean {
    const burst = this.burst;
    return burst !== null && physicalOffset + lengthBytes > burst.start && physicalOffset < burst.end;
  }

  get busy(): boolean {
    return this.burst !== null;
  }

  /** Start offset of the segment a burst is writing to, or -1. */
  busySegmentStart(): number {
    return this.burst === null ? -1 : this.files.segmentStartOf(this.burst.start);
  }
}
