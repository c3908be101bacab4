// The writer's view of the CommitLog segments: which files exist, which are open, and how far
// each is written and flushed. Segments are created at full size ahead of need, so a roll never
// waits for file creation. Only the writer worker owns an instance.
//
//   |<------------- segment N ------------->|<----------- segment N+1 ----------->|
//   [records...][blank][zeros]               [records...][zeros ...................]
//   ^start               ^ wrote/flushed may point anywhere in the newest segment

import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assert } from '../assert.js';
import { ioError, StoreError } from '../errors.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import type { Storage, StorageFile } from '../io/storage.js';

export interface Segment {
  readonly startOffset: number;
  readonly file: StorageFile;
  /** Highest physical offset written into this segment (exclusive). */
  wroteEnd: number;
  /** Physical offset up to which this segment's bytes are known durable. */
  flushedEnd: number;
  /** The fdatasync in flight on the thread pool, if any: the descriptor stays open until it ends. */
  syncing?: Promise<void> | null;
  /** Closed (deleted or past): a flush that listed it earlier skips it. */
  closed?: boolean;
}

export class CommitLogFiles {
  readonly segmentSizeBytes: number;
  private readonly dir: string;
  private readonly storage: Storage;
  /** Open segments by start offset, oldest first. */
  private readonly segments = new Map<number, Segment>();

  constructor(storage: Storage, dir: string, segmentSizeBytes: number) {
    this.storage = storage;
    this.dir = dir;
    this.segmentSizeBytes = segmentSizeBytes;
  }

  segmentStartOf(physicalOffset: number): number {
    return physicalOffset - (physicalOffset % this.segmentSizeBytes);
  }

  /** The segment holding `physicalOffset`, opened or created (at full size) as needed. */
  segmentFor(physicalOffset: number, flushedUpTo: number): Segment {
    const startOffset = this.segmentStartOf(physicalOffset);
    const open = this.segments.get(startOffset);
    if (open !== undefined) return open;
    const file = path.join(this.dir, segmentName(startOffset));
    let handle: StorageFile;
    try {
      const sizeBytes = this.storage.sizeBytes(file);
      handle = this.storage.open(file, true);
      if (sizeBytes !== this.segmentSizeBytes) {
        // New (or a zero-length leftover): extend to full size; blocks are allocated on write.
        this.storage.truncate(handle, this.segmentSizeBytes);
        this.storage.fsyncDir(this.dir);
      }
    } catch (error) {
      throw ioError(`cannot create CommitLog segment ${file}`, error, 'create-segment');
    }
    const flushedEnd = Math.max(startOffset, Math.min(flushedUpTo, startOffset + this.segmentSizeBytes));
    const segment: Segment = { startOffset, file: handle, wroteEnd: flushedEnd, flushedEnd };
    this.segments.set(startOffset, segment);
    return segment;
  }

  /**
   * Zero-fills and fsyncs an unwritten segment before first use, fsyncing every `syncEveryPages`
   * pages (RocketMQ's warm-up of a new file, flushLeastPagesWhenWarmMapedFile). Blocks the
   * caller: used once at start-up for a brand-new segment; later segments are warmed in the
   * background by the SegmentWarmer.
   */
  warmSync(startOffset: number, syncEveryPages: number): void {
    const segment = this.segmentFor(startOffset, startOffset);
    const zeros = Buffer.alloc(1024 * 1024);
    const syncEveryBytes = syncEveryPages * 4096;
    let unsyncedBytes = 0;
    try {
      for (let position = 0; position < this.segmentSizeBytes; position += zeros.length) {
        const length = Math.min(zeros.length, this.segmentSizeBytes - position);
        this.storage.pwritev(segment.file, [zeros.subarray(0, length)], position);
        unsyncedBytes += length;
        if (unsyncedBytes >= syncEveryBytes) {
          this.storage.fdatasync(segment.file);
          unsyncedBytes = 0;
        }
      }
      this.storage.fdatasync(segment.file);
    } catch (error) {
      throw ioError(`warm-up of CommitLog segment ${segment.file.path} failed`, error, 'create-segment');
    }
  }

  /** Creates the segment after the one holding `physicalOffset` if it does not exist yet. */
  preallocateNext(physicalOffset: number): void {
    const next = this.segmentStartOf(physicalOffset) + this.segmentSizeBytes;
    if (!this.segments.has(next)) this.segmentFor(next, next);
  }

  /**
   * Writes `buffers` (one contiguous range) at `physicalOffset`. The range must stay inside one
   * segment: the main thread never lets a record or batch straddle segments.
   */
  write(physicalOffset: number, buffers: readonly Uint8Array[], lengthBytes: number, flushedUpTo: number): void {
    const segment = this.segmentFor(physicalOffset, flushedUpTo);
    const position = physicalOffset - segment.startOffset;
    assert(position + lengthBytes <= this.segmentSizeBytes, 'a write never straddles two segments');
    try {
      this.storage.pwritev(segment.file, buffers, position);
    } catch (error) {
      throw ioError(`write of ${lengthBytes} bytes at CommitLog offset ${physicalOffset} failed`, error, 'write');
    }
    segment.wroteEnd = Math.max(segment.wroteEnd, physicalOffset + lengthBytes);
  }

  /** Segments with written bytes not yet covered by an fsync, oldest first. */
  dirtySegments(): Segment[] {
    const out: Segment[] = [];
    for (const segment of this.segments.values()) {
      if (segment.wroteEnd > segment.flushedEnd) out.push(segment);
    }
    return out;
  }

  /**
   * fdatasyncs every dirty segment on the thread pool; each one's flushedEnd then covers what was
   * written before its sync began. Throws a StoreError (E_STORE_IO / E_STORE_NO_SPACE).
   */
  async flushAsync(): Promise<void> {
    const dirty = this.dirtySegments();
    for (const segment of dirty) {
      // Retention may have deleted it while an earlier segment of this list was syncing.
      if (segment.closed === true) continue;
      const target = segment.wroteEnd;
      const sync = this.storage.fdatasyncAsync(segment.file);
      segment.syncing = sync;
      try {
        await sync;
      } catch (error) {
        throw ioError(`fdatasync of CommitLog segment ${segment.file.path} failed`, error, 'fsync');
      } finally {
        segment.syncing = null;
      }
      segment.flushedEnd = Math.max(segment.flushedEnd, target);
    }
  }

  /**
   * Closes segments that end at or before `physicalOffset` and are fully flushed, except
   * `keepStart` (a segment another operation, such as a zero-fill burst, still writes to).
   */
  closeBefore(physicalOffset: number, keepStart = -1): void {
    for (const [start, segment] of this.segments) {
      const end = start + this.segmentSizeBytes;
      if (end <= physicalOffset && start !== keepStart && segment.flushedEnd >= segment.wroteEnd) {
        this.closeSegment(segment);
      }
    }
  }

  /**
   * RocketMQ deleteExpiredFileByTime: deletes segments oldest first, never the one holding
   * `activePhysicalOffset` nor any after it, while they were last modified at or before
   * `expiredBeforeMs` (or always with `force`), at most `batchMax`, pausing `pauseMs` between
   * two. Stops at the first segment that is not expired, so the log never has holes. Returns
   * how many were deleted and the first offset still stored (−1 when nothing is left).
   */
  async deleteExpired(options: {
    activePhysicalOffset: number;
    expiredBeforeMs: number;
    force: boolean;
    batchMax: number;
    pauseMs: number;
  }): Promise<{ deletedCount: number; minPhysicalOffset: number }> {
    const activeStart = this.segmentStartOf(options.activePhysicalOffset);
    const starts: number[] = [];
    for (const name of this.storage.list(this.dir)) {
      const start = parseSegmentName(name);
      if (start !== null) starts.push(start);
    }
    starts.sort((a, b) => a - b);
    let deletedCount = 0;
    let minPhysicalOffset = starts[0] ?? -1;
    for (const start of starts) {
      if (start >= activeStart || deletedCount >= options.batchMax) break;
      const file = path.join(this.dir, segmentName(start));
      const modifiedMs = this.storage.modifiedMs(file);
      if (!options.force && modifiedMs > options.expiredBeforeMs) break;
      if (deletedCount > 0 && options.pauseMs > 0) await sleep(options.pauseMs);
      const open = this.segments.get(start);
      if (open !== undefined) {
        // Never close a descriptor under an fdatasync still running on the thread pool (EBADF,
        // or worse, a reused descriptor): wait for it; its outcome is the flush's to report.
        if (open.syncing != null) await open.syncing.catch(() => undefined);
        if (this.segments.get(start) === open) this.closeSegment(open);
      }
      try {
        this.storage.unlink(file);
        this.storage.fsyncDir(this.dir);
      } catch (error) {
        throw ioError(`cannot delete expired CommitLog segment ${file}`, error, 'other');
      }
      deletedCount += 1;
      minPhysicalOffset = start + this.segmentSizeBytes;
    }
    return { deletedCount, minPhysicalOffset };
  }

  closeAll(): void {
    for (const segment of [...this.segments.values()]) this.closeSegment(segment);
  }

  private closeSegment(segment: Segment): void {
    this.segments.delete(segment.startOffset);
    segment.closed = true;
    try {
      this.storage.close(segment.file);
    } catch (error) {
      throw new StoreError('E_STORE_IO', `close of ${segment.file.path} failed: ${(error as Error).message}`);
    }
  }
}
