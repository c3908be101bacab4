// CommitLog recovery: find where the valid log ends, cut everything after it, and rebuild the
// queue offset table. Runs in the writer worker before it accepts any write.
//
// Normal recovery (no `abort` file, valid checkpoint and queue-offset snapshot): CRC-scan only
// from the segment holding the clean end. Abnormal recovery (or anything missing): scan every
// segment. Either way the scan stops at the first position the decision table does not accept,
// and that position becomes the end of the log. See src/format/commit_log_record.md.

import path from 'node:path';
import { StoreError } from '../errors.js';
import { type Checkpoint, decodeCheckpoint, emptyCheckpoint } from '../format/checkpoint.js';
import { MAGIC_V1, MAGIC_V2, RECORD_FIXED_BYTES, recordInvalidReason } from '../format/commit_log_record.js';
import { checkRecordCrc } from '../format/record_crc.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import type { Storage, StorageFile } from '../io/storage.js';
import { CHECKPOINT_FILE_NAME } from '../writer/checkpoint_file.js';
import { type QueueOffsetEntry, QueueOffsetTable, readQueueOffsetSnapshot, takesQueueOffset } from './queue_offset_table.js';
import type { SegmentScanSummary } from './segment_scan_task.js';
import { isZeroFrom, type ScanStop, SegmentScanner, zeroFrom } from './segment_scanner.js';

export const ABORT_FILE_NAME = 'abort';
const STOP_SCAN = Symbol('stop scan');

export interface RecoveryEvent {
  /** 'cut': the log was cut at physicalOffset; 'removed': a file was deleted; 'ignored': a file or value was not used. */
  kind: 'cut' | 'removed' | 'ignored';
  file: string;
  physicalOffset: number;
  reason: string;
  /** True when acknowledged-durable data was affected: reported as a process warning. */
  loud: boolean;
}

export interface RecoveryResult {
  lastExitOK: boolean;
  /** First segment's start offset, or -1 when the log holds no data. */
  minPhysicalOffset: number;
  endPhysicalOffset: number;
  checkpoint: Checkpoint;
  queueOffsets: QueueOffsetEntry[];
  events: RecoveryEvent[];
  scannedBytes: number;
  durationMs: number;
  /** 'normal' after a clean shutdown (no `abort` file), else 'abnormal' (RocketMQ's terms). */
  mode: 'normal' | 'abnormal';
  /** True when the clean-shutdown shortcut was not usable and every segment was scanned. */
  fullScan: boolean;
}

export interface RecoveryOptions {
  rootDir: string;
  commitLogDir: string;
  segmentSizeBytes: number;
  checkCrc: boolean;
  /** RocketMQ's forceVerifyPropCRC: every record must carry a matching appended CRC. */
  requireRecordCrc?: boolean;
}

export interface SegmentEntry {
  startOffset: number;
  path: string;
}

/** What run() will do, decided from the files before anything is scanned or changed. */
interface RecoveryPlan {
  lastExitOK: boolean;
  checkpoint: Checkpoint | null;
  segments: SegmentEntry[];
  trustedEnd: number;
  snapshot: ReturnType<typeof readQueueOffsetSnapshot>;
  /** The clean-shutdown shortcut applies: scan only from the segment holding the clean end. */
  normal: boolean;
  firstIndex: number;
}

export class Recovery {
  private readonly storage: Storage;
  private readonly options: RecoveryOptions;
  private readonly events: RecoveryEvent[] = [];
  private scannedBytes = 0;
  /** The log end a clean shutdown recorded, or -1 after a crash. */
  private cleanEnd = -1;

  constructor(storage: Storage, options: RecoveryOptions) {
    this.storage = storage;
    this.options = options;
  }

  /**
   * The segments run() will scan from their first byte (every one after a crash), so the
   * caller can scan them in parallel beforehand (./parallel_scan.ts) and pass the summaries to
   * run(). Empty when the clean-shutdown shortcut applies.
   */
  segmentsToScan(): SegmentEntry[] {
    const plan = this.plan();
    return plan.normal ? [] : plan.segments.slice(plan.firstIndex);
  }

  private plan(): RecoveryPlan {
    const { rootDir, commitLogDir } = this.options;
    this.storage.mkdirp(rootDir);
    this.storage.mkdirp(commitLogDir);
    const lastExitOK = !this.storage.exists(path.join(rootDir, ABORT_FILE_NAME));
    const checkpoint = this.loadCheckpoint();
    const segments = this.listSegments();
    if (segments.length === 0 && checkpoint !== null && checkpoint.flushedPhyOffset > 0) {
      throw new StoreError(
        'E_STORE_CORRUPT',
        `${commitLogDir} holds no segments but the checkpoint says ${checkpoint.flushedPhyOffset} bytes were flushed; refusing to start an empty log over lost data`,
      );
    }
    if (this.options.requireRecordCrc === true) this.checkRecordsCarryCrc(segments);
    const trustedEnd = checkpoint?.flushedPhyOffset ?? 0;
    const snapshot = lastExitOK && checkpoint !== null ? readQueueOffsetSnapshot(this.storage, rootDir) : null;
    const normal = snapshot !== null && snapshot.physicalOffset === trustedEnd;
    const firstIndex = normal ? this.segmentIndexFor(segments, trustedEnd) : 0;
    return { lastExitOK, checkpoint, segments, trustedEnd, snapshot, normal, firstIndex };
  }

  /**
   * forceVerifyPropCRC on a log written without enabledAppendPropCRC would cut it at its first
   * record and delete the rest: refuse to open instead (the first record of the first and of
   * the last segment must carry the appended CRC).
   */
  private checkRecordsCarryCrc(segments: readonly SegmentEntry[]): void {
    for (const segment of new Set([segments[0], segments.at(-1)])) {
      if (segment === undefined) continue;
      const file = this.storage.open(segment.path, false);
      try {
        const header = Buffer.alloc(8);
        if (this.storage.pread(file, header, 0, 8, 0) < 8) continue;
        const totalSize = header.readInt32BE(0);
        const magic = header.readInt32BE(4);
        if ((magic !== MAGIC_V1 && magic !== MAGIC_V2) || totalSize < RECORD_FIXED_BYTES || totalSize > this.options.segmentSizeBytes) continue;
        const record = Buffer.alloc(totalSize);
        if (this.storage.pread(file, record, 0, totalSize, 0) < totalSize) continue;
        // A damaged record is recovery's to judge; only a sound one without the CRC is refused here.
        if (recordInvalidReason(record, 0, totalSize, true) !== null) continue;
        if (checkRecordCrc(record, totalSize) === 'absent') {
          throw new StoreError(
            'E_CONFIG_INVALID',
            `forceVerifyPropCRC needs every record to carry the appended record CRC, but the record at ${segment.startOffset} ` +
              `(${segment.path}) was written without enabledAppendPropCRC; open without forceVerifyPropCRC`,
          );
        }
      } finally {
        this.storage.close(file);
      }
    }
  }

  /**
   * Recovers the log. `prescanned` holds summaries of whole-segment scans made beforehand
   * (segmentsToScan() + scanSegmentsInParallel); a segment without one is scanned here.
   */
  run(prescanned?: ReadonlyMap<number, SegmentScanSummary>): RecoveryResult {
    const startedMs = performance.now();
    const { lastExitOK, checkpoint, segments, trustedEnd, snapshot, normal, firstIndex } = this.plan();
    let table = normal && snapshot !== null ? QueueOffsetTable.fromEntries(snapshot.entries) : new QueueOffsetTable();
    const tableFrom = normal ? trustedEnd : -1;
    let lastStoreTimestamp = 0;
    this.cleanEnd = normal ? trustedEnd : -1;
    const end = this.scanFrom(segments, firstIndex, trustedEnd, prescanned, {
      onRecord: (record) => {
        lastStoreTimestamp = record.storeTimestamp;
        if (record.physicalOffset >= tableFrom && takesQueueOffset(record.sysFlag)) {
          table.observe(record.topic, record.queueId, record.queueOffset);
        }
      },
      onSummary: (summary) => {
        // Only whole-segment scans are summarised: every record counts (tableFrom is −1).
        if (summary.recordCount > 0) lastStoreTimestamp = summary.lastStoreTimestamp;
        for (const [topic, queueId, next] of summary.queueOffsets) table.observe(topic, queueId, next - 1);
      },
    });
    if (end < trustedEnd && !this.events.some((e) => e.loud && e.physicalOffset === end)) {
      this.note('cut', '', end, `the log ends at ${end} but the checkpoint says ${trustedEnd} bytes were fsynced`, true);
    }
    if (normal && end !== trustedEnd) {
      this.note('ignored', '', end, `clean shutdown recorded the log end at ${trustedEnd}, the scan found ${end}`, end < trustedEnd);
      // The saved table describes records that are gone (or misses new ones): rebuild it, so an
      // offset cut with its record is given out again and queues stay gap-free.
      table = this.rebuildTable();
    }
    const remaining = this.listSegments();
    // After a crash the kept tail may hold bytes that reached the page cache but were never
    // fsynced; make them durable now, before anything is acknowledged on top of them.
    if (!normal) this.syncTail(remaining, trustedEnd, end);
    const base = checkpoint ?? emptyCheckpoint();
    return {
      lastExitOK,
      minPhysicalOffset: remaining.length === 0 || end === remaining[0]!.startOffset ? -1 : remaining[0]!.startOffset,
      endPhysicalOffset: end,
      checkpoint: {
        ...base,
        physicMsgTimestamp: Math.max(base.physicMsgTimestamp, lastStoreTimestamp),
        flushedPhyOffset: end,
        confirmPhyOffset: end,
      },
      queueOffsets: table.entries(),
      events: this.events,
      scannedBytes: this.scannedBytes,
      durationMs: performance.now() - startedMs,
      mode: lastExitOK ? 'normal' : 'abnormal',
      fullScan: !normal,
    };
  }

  /**
   * Scans segments from `firstIndex` on; returns the end of the valid log after cutting (zeroing
   * the rest of the segment where the cut falls and deleting every later segment).
   */
  private scanFrom(
    segments: SegmentEntry[],
    firstIndex: number,
    trustedEnd: number,
    prescanned: ReadonlyMap<number, SegmentScanSummary> | undefined,
    sink: { onRecord: Parameters<SegmentScanner['scan']>[2]; onSummary: (summary: SegmentScanSummary) => void },
  ): number {
    const size = this.options.segmentSizeBytes;
    for (let i = firstIndex; i < segments.length; i++) {
      const segment = segments[i]!;
      const file = this.storage.open(segment.path, false);
      let result: { endPosition: number; stop: ScanStop };
      try {
        const scanner = new SegmentScanner(this.storage, file, segment.startOffset, size, this.options.requireRecordCrc === true);
        const summary = prescanned?.get(segment.startOffset);
        if (summary !== undefined) {
          sink.onSummary(summary);
          this.scannedBytes += summary.scannedBytes;
          result = summary;
        } else {
          result = scanner.scan(0, this.options.checkCrc, sink.onRecord);
          this.scannedBytes += scanner.scannedBytes;
        }
        if (result.stop.kind === 'blank') continue;
        this.cut(segment, file, scanner, result.endPosition, result.stop, trustedEnd);
      } finally {
        this.storage.close(file);
      }
      this.removeLaterSegments(segments.slice(i + 1), segment.startOffset + result.endPosition);
      return segment.startOffset + result.endPosition;
    }
    // Every scanned segment closed with a BLANK (or there were none): the log ends at a boundary.
    const last = segments[segments.length - 1];
    return last === undefined ? 0 : last.startOffset + size;
  }

  private cut(
    segment: SegmentEntry,
    file: StorageFile,
    scanner: SegmentScanner,
    position: number,
    stop: ScanStop,
    trustedEnd: number,
  ): void {
    const size = this.options.segmentSizeBytes;
    const physicalOffset = segment.startOffset + position;
    // Past a clean shutdown's recorded end nothing was ever written: no need to read it.
    if (stop.kind === 'zero' && physicalOffset === this.cleanEnd) return;
    const dirtyTail = stop.kind === 'invalid' || !isZeroFrom(this.storage, file, position, size);
    if (dirtyTail) {
      // A valid record after the cut means damage in the middle of data, not a torn tail.
      const next = scanner.findRecordAfter(position);
      const reason = stop.kind === 'invalid' ? stop.reason : 'zero header';
      if (next >= 0) {
        this.note('cut', segment.path, physicalOffset, `${reason}, followed by a valid record at ${segment.startOffset + next}`, true);
      } else if (stop.kind === 'invalid') {
        this.note('cut', segment.path, physicalOffset, reason, physicalOffset < trustedEnd);
      }
    }
    // Bytes past the end may be a torn record, or pages of a lost write that reached the disk
    // out of order. Zero them, so a later record can never line up with stale bytes.
    if (dirtyTail || physicalOffset < trustedEnd) {
      const zeroedBytes = zeroFrom(this.storage, file, position, size);
      if (zeroedBytes > 0) this.storage.fdatasync(file);
    }
  }

  private removeLaterSegments(later: SegmentEntry[], endPhysicalOffset: number): void {
    for (const segment of later) {
      const holdsData = this.firstRecordValid(segment);
      this.storage.unlink(segment.path);
      const loud = holdsData || segment.startOffset < (this.loadCheckpoint()?.flushedPhyOffset ?? 0);
      const what = holdsData ? 'segment holding valid records' : 'segment';
      this.note('removed', segment.path, endPhysicalOffset, `${what} after the end of the log at ${endPhysicalOffset}`, loud);
    }
    if (later.length > 0) this.storage.fsyncDir(this.options.commitLogDir);
  }

  private firstRecordValid(segment: SegmentEntry): boolean {
    const file = this.storage.open(segment.path, false);
    try {
      const scanner = new SegmentScanner(this.storage, file, segment.startOffset, this.options.segmentSizeBytes, this.options.requireRecordCrc === true);
      let valid = false;
      scanner.scan(0, this.options.checkCrc, () => {
        valid = true;
        throw STOP_SCAN;
      });
      return valid;
    } catch (error) {
      if (error === STOP_SCAN) return true;
      throw error;
    } finally {
      this.storage.close(file);
    }
  }

  /** The queue offset table from every record of the (already cut) log. */
  private rebuildTable(): QueueOffsetTable {
    const table = new QueueOffsetTable();
    for (const segment of this.listSegments()) {
      const file = this.storage.open(segment.path, false);
      try {
        const scanner = new SegmentScanner(this.storage, file, segment.startOffset, this.options.segmentSizeBytes, this.options.requireRecordCrc === true);
        scanner.scan(0, false, (record) => {
          if (takesQueueOffset(record.sysFlag)) table.observe(record.topic, record.queueId, record.queueOffset);
        });
        this.scannedBytes += scanner.scannedBytes;
      } finally {
        this.storage.close(file);
      }
    }
    return table;
  }

  /** fdatasyncs every segment that may hold bytes between `fromOffset` and `end`. */
  private syncTail(segments: SegmentEntry[], fromOffset: number, end: number): void {
    const size = this.options.segmentSizeBytes;
    for (const segment of segments) {
      if (segment.startOffset + size <= fromOffset || segment.startOffset > end) continue;
      const file = this.storage.open(segment.path, false);
      try {
        this.storage.fdatasync(file);
      } finally {
        this.storage.close(file);
      }
    }
  }

  /**
   * Segments sorted by start; refuses wrong sizes and gaps; drops zero-length files at the end.
   * A new segment is extended to full size but not fsynced until data lands in it, so after a
   * power cut the active segment and the one created ahead of need can both come back empty.
   */
  private listSegments(): SegmentEntry[] {
    const { commitLogDir, segmentSizeBytes } = this.options;
    const segments: SegmentEntry[] = [];
    for (const name of this.storage.list(commitLogDir)) {
      const startOffset = parseSegmentName(name);
      if (startOffset === null) continue;
      segments.push({ startOffset, path: path.join(commitLogDir, name) });
    }
    segments.sort((a, b) => a.startOffset - b.startOffset);
    // Below the checkpoint's durable end a segment held fsynced data, so its size was durable
    // too: an empty one there is damage, not an interrupted creation.
    const durableEnd = this.loadCheckpoint()?.flushedPhyOffset ?? 0;
    const damaged = (segment: SegmentEntry): StoreError =>
      new StoreError('E_STORE_CORRUPT', `CommitLog segment ${segment.path} is empty but the checkpoint says bytes up to ${durableEnd} were fsynced`);
    let removedEmpty = false;
    for (let last = segments.at(-1); last !== undefined && this.storage.sizeBytes(last.path) === 0; last = segments.at(-1)) {
      if (last.startOffset < durableEnd) throw damaged(last);
      this.storage.unlink(last.path);
      segments.pop();
      removedEmpty = true;
      this.note('removed', last.path, last.startOffset, 'zero-length last segment', false);
    }
    if (removedEmpty) this.storage.fsyncDir(commitLogDir);
    for (const segment of segments) {
      // Zero-length with later segments after it: after a power cut a later file's writes can
      // reach the disk while this one's extension to full size did not. It holds nothing: give
      // it its size back (zeros), so the scan ends the log at its start and treats what follows
      // as records past the end.
      if (this.storage.sizeBytes(segment.path) !== 0) continue;
      if (segment.startOffset < durableEnd) throw damaged(segment);
      const file = this.storage.open(segment.path, false);
      try {
        this.storage.truncate(file, segmentSizeBytes);
        this.storage.fdatasync(file);
      } finally {
        this.storage.close(file);
      }
      this.note('cut', segment.path, segment.startOffset, 'zero-length segment before later ones: extended with zeros, the log ends here', false);
    }
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const sizeBytes = this.storage.sizeBytes(segment.path);
      if (sizeBytes !== segmentSizeBytes) {
        throw new StoreError(
          'E_STORE_CORRUPT',
          `CommitLog segment ${segment.path} is ${sizeBytes} bytes but mappedFileSizeCommitLog is ${segmentSizeBytes}; was the store created with another segment size?`,
        );
      }
      if (segment.startOffset % segmentSizeBytes !== 0) {
        throw new StoreError('E_STORE_CORRUPT', `CommitLog segment ${segment.path} does not start at a multiple of ${segmentSizeBytes}`);
      }
      const previous = segments[i - 1];
      if (previous !== undefined && previous.startOffset + segmentSizeBytes !== segment.startOffset) {
        throw new StoreError(
          'E_STORE_CORRUPT',
          `CommitLog has a gap: ${segmentName(previous.startOffset + segmentSizeBytes)} is missing before ${segment.path}`,
        );
      }
    }
    return segments;
  }

  private segmentIndexFor(segments: SegmentEntry[], physicalOffset: number): number {
    const size = this.options.segmentSizeBytes;
    for (let i = segments.length - 1; i >= 0; i--) {
      const start = segments[i]!.startOffset;
      if (start <= physicalOffset && physicalOffset <= start + size) return i;
    }
    return 0;
  }

  private checkpointCache: Checkpoint | null | undefined;

  private loadCheckpoint(): Checkpoint | null {
    if (this.checkpointCache !== undefined) return this.checkpointCache;
    const file = path.join(this.options.rootDir, CHECKPOINT_FILE_NAME);
    const bytes = this.storage.readFile(file);
    let result: Checkpoint | null = null;
    if (bytes !== null) {
      const decoded = decodeCheckpoint(bytes);
      // A RocketMQ-written checkpoint keeps its timestamps; it carries no durable offset (0).
      if (decoded.kind === 'ok' || decoded.kind === 'rocketmq') result = decoded.checkpoint;
      else if (decoded.kind === 'invalid') this.note('ignored', file, 0, `checkpoint unreadable (${decoded.reason}); recovering from the first segment`, true);
    }
    this.checkpointCache = result;
    return result;
  }

  private note(kind: RecoveryEvent['kind'], file: string, physicalOffset: number, reason: string, loud: boolean): void {
    this.events.push({ kind, file, physicalOffset, reason, loud });
  }
}
