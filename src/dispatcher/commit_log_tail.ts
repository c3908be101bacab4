// Tails the CommitLog for the dispatcher (RocketMQ ReputMessageService, reference 2c "Rebuild by
// the dispatcher"): reads whole records up to a limit and turns each into a DispatchRequest.
//
// Record classification (valid record, BLANK, zero header, invalid bytes) is SegmentScanner's:
// this class only drives it segment by segment, stops it at the limit or the record budget, and
// reads the properties the scanner does not decode (TAGS, KEYS, UNIQ_KEY). No CRC check (RocketMQ's
// reput skips it) and no body decode.

import path from 'node:path';

import { assert } from '../assert.js';
import { StoreError } from '../errors.js';
import {
  bodyLengthPosition,
  MAGIC_V2,
  POS_MAGIC,
  POS_TOTALSIZE,
  PROPERTY_KEYS,
  PROPERTY_TAGS,
  PROPERTY_UNIQ_KEY,
  stringToProperties,
} from '../format/commit_log_record.js';
import { tagsCodeOf } from '../format/consume_queue_entry.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import type { Storage, StorageFile } from '../io/storage.js';
import { SegmentScanner, type ScannedRecord, type ScanResult } from '../recovery/segment_scanner.js';

/** Bytes read at once when re-reading scanned records for their properties (grown for a bigger record). */
const READ_CHUNK_BYTES_MAX = 4 * 1024 * 1024;
/** RocketMQ MessageConst.KEY_SEPARATOR. */
const KEY_SEPARATOR = ' ';

/** What the dispatcher needs of one CommitLog record (RocketMQ DispatchRequest). */
export interface DispatchRequest {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  sizeBytes: number;
  /** String.hashCode of the TAGS property, 0 without tags (ConsumeQueue tags code). */
  tagsCode: number;
  /** The KEYS property split on ' ', empty parts dropped. */
  keys: string[];
  uniqKey: string | undefined;
  storeTimestamp: number;
  sysFlag: number;
}

export interface CommitLogTailOptions {
  commitLogDir: string;
  segmentSizeBytes: number;
}

/** Thrown from the scanner's callback to stop a scan early; never escapes readUpTo. */
const kStopScan = Symbol('stopScan');

export class CommitLogTail {
  private readonly storage: Storage;
  private readonly commitLogDir: string;
  private readonly segmentSizeBytes: number;
  /** The next physical offset to read. */
  private physicalOffset: number;
  /** The open segment and its start offset, or null. */
  private file: StorageFile | null = null;
  private fileStartOffset = -1;
  private buffer: Buffer | null = null;
  /**
   * Set by readUpTo when the segment at the position was missing (deleted by retention) and the
   * tail jumped forward to this segment start; undefined when the last call did not jump.
   */
  skippedTo: number | undefined = undefined;

  constructor(storage: Storage, options: CommitLogTailOptions, fromPhysicalOffset: number) {
    assert(Number.isSafeInteger(options.segmentSizeBytes), 'segment size is a safe integer');
    assert(options.segmentSizeBytes > 0, 'segment size is > 0');
    this.storage = storage;
    this.commitLogDir = options.commitLogDir;
    this.segmentSizeBytes = options.segmentSizeBytes;
    this.physicalOffset = 0;
    this.seek(fromPhysicalOffset);
  }

  /** The next physical offset to read. */
  position(): number {
    return this.physicalOffset;
  }

  /** Moves the tail to `physicalOffset`, which must be a record (or segment) start. */
  seek(physicalOffset: number): void {
    assert(Number.isSafeInteger(physicalOffset), 'physical offset is a safe integer');
    assert(physicalOffset >= 0, 'physical offset is ≥ 0');
    this.physicalOffset = physicalOffset;
  }

  /**
   * Reads at most `maxRecords` records from the position, none ending past
   * `limitPhysicalOffset` (flushedWhere in SYNC_FLUSH, the written end in ASYNC_FLUSH). A BLANK
   * moves to the next segment start (when the whole BLANK is below the limit); a zero header
   * means "not written yet". Invalid bytes before the limit throw E_STORE_CORRUPT — unless
   * records were read first in this call: those are returned, and the next call throws.
   */
  readUpTo(limitPhysicalOffset: number, maxRecords: number): DispatchRequest[] {
    assert(Number.isSafeInteger(limitPhysicalOffset), 'limit is a safe integer');
    assert(Number.isSafeInteger(maxRecords), 'maxRecords is a safe integer');
    assert(maxRecords >= 0, 'maxRecords is ≥ 0');
    this.skippedTo = undefined;
    const out: DispatchRequest[] = [];
    while (out.length < maxRecords && this.physicalOffset < limitPhysicalOffset) {
      const segmentStart = this.physicalOffset - (this.physicalOffset % this.segmentSizeBytes);
      const file = this.openSegment(segmentStart);
      if (file === null) break; // Not created yet: nothing to read.
      if (this.fileStartOffset !== segmentStart) continue; // Jumped forward past a deleted segment.

      const found: ScannedRecord[] = [];
      const recordsMax = maxRecords - out.length;
      const scanner = new SegmentScanner(this.storage, file, segmentStart, this.segmentSizeBytes);
      let result: ScanResult | null = null;
      try {
        result = scanner.scan(this.physicalOffset - segmentStart, false, (record) => {
          if (record.physicalOffset + record.sizeBytes > limitPhysicalOffset) throw kStopScan;
          found.push(record);
          if (found.length === recordsMax) throw kStopScan;
        });
      } catch (error) {
        if (error !== kStopScan) throw error;
      }
      this.describeAll(file, segmentStart, found, out);
      const last = found[found.length - 1];
      if (last !== undefined) this.physicalOffset = last.physicalOffset + last.sizeBytes;
      if (result === null) break; // Stopped at the limit or at maxRecords.

      const stopPhysicalOffset = segmentStart + result.endPosition;
      assert(stopPhysicalOffset === this.physicalOffset, 'the scan stops right after the last record it reported');
      const stop = result.stop;
      if (stop.kind === 'zero') break; // Not written yet.
      if (stop.kind === 'blank') {
        const segmentEnd = segmentStart + this.segmentSizeBytes;
        if (segmentEnd > limitPhysicalOffset) break; // The BLANK itself is not visible yet.
        this.physicalOffset = segmentEnd;
        continue;
      }
      if (stopPhysicalOffset >= limitPhysicalOffset) break; // Beyond the limit: not ours to judge.
      if (out.length > 0) break; // Hand out what was read; the next call throws.
      throw new StoreError(
        'E_STORE_CORRUPT',
        `CommitLog ${file.path} has an invalid record at physical offset ${stopPhysicalOffset} ` +
          `(position ${result.endPosition}), below the dispatch limit ${limitPhysicalOffset}: ${stop.reason}`,
      );
    }
    return out;
  }

  /** Closes the open segment file, if any. The tail may be used again (it reopens). */
  close(): void {
    if (this.file === null) return;
    const file = this.file;
    this.file = null;
    this.fileStartOffset = -1;
    this.storage.close(file);
  }

  /**
   * The open file of the segment starting at `segmentStart`. When it does not exist but a later
   * segment does (retention deleted it), jumps the position to the first later segment, sets
   * skippedTo and returns that segment's file. Null when no such segment exists yet.
   */
  private openSegment(segmentStart: number): StorageFile | null {
    if (this.file !== null && this.fileStartOffset === segmentStart) return this.file;
    this.close();
    const wanted = path.join(this.commitLogDir, segmentName(segmentStart));
    if (this.storage.exists(wanted)) return this.openFile(wanted, segmentStart);
    let nextStart = -1;
    for (const name of this.storage.list(this.commitLogDir)) {
      const start = parseSegmentName(name);
      if (start === null || start <= segmentStart) continue;
      if (nextStart < 0 || start < nextStart) nextStart = start;
    }
    if (nextStart < 0) return null;
    assert(nextStart % this.segmentSizeBytes === 0, 'segment starts are multiples of the segment size');
    this.physicalOffset = nextStart;
    this.skippedTo = nextStart;
    return this.openFile(path.join(this.commitLogDir, segmentName(nextStart)), nextStart);
  }

  private openFile(file: string, segmentStart: number): StorageFile {
    this.file = this.storage.open(file, false);
    this.fileStartOffset = segmentStart;
    return this.file;
  }

  /** Re-reads the scanned records (contiguous, in order) in chunks and appends their requests. */
  private describeAll(file: StorageFile, segmentStart: number, found: ScannedRecord[], out: DispatchRequest[]): void {
    let first = 0;
    while (first < found.length) {
      const head = found[first];
      assert(head !== undefined);
      // Take records while they fit in one chunk (always at least one).
      let end = first + 1;
      let bytes = head.sizeBytes;
      for (;;) {
        const next = found[end];
        if (next === undefined || bytes + next.sizeBytes > READ_CHUNK_BYTES_MAX) break;
        assert(next.physicalOffset === head.physicalOffset + bytes, 'scanned records are contiguous');
        bytes += next.sizeBytes;
        end += 1;
      }
      const buffer = this.chunk(bytes);
      const got = this.storage.pread(file, buffer, 0, bytes, head.physicalOffset - segmentStart);
      if (got !== bytes) {
        throw new StoreError('E_STORE_CORRUPT', `CommitLog ${file.path} shrank while reading physical offset ${head.physicalOffset}`);
      }
      for (let index = first; index < end; index += 1) {
        const record = found[index];
        assert(record !== undefined);
        out.push(describe(buffer, record.physicalOffset - head.physicalOffset, record, file.path));
      }
      first = end;
    }
  }

  private chunk(bytes: number): Buffer {
    if (this.buffer === null || this.buffer.length < bytes) {
      this.buffer = Buffer.allocUnsafe(Math.max(bytes, Math.min(READ_CHUNK_BYTES_MAX, this.segmentSizeBytes)));
    }
    return this.buffer;
  }
}

/** The dispatch request of a record the scanner validated, read at `start` in `buffer`. */
function describe(buffer: Buffer, start: number, record: ScannedRecord, filePath: string): DispatchRequest {
  if (buffer.readInt32BE(start + POS_TOTALSIZE) !== record.sizeBytes) {
    throw new StoreError('E_STORE_CORRUPT', `CommitLog ${filePath} changed under the tail at physical offset ${record.physicalOffset}`);
  }
  const bodyLengthPos = start + bodyLengthPosition(record.sysFlag);
  const topicLengthPos = bodyLengthPos + 4 + buffer.readInt32BE(bodyLengthPos);
  const v2 = buffer.readInt32BE(start + POS_MAGIC) === MAGIC_V2;
  const topicBytes = v2 ? buffer.readInt16BE(topicLengthPos) : buffer.readInt8(topicLengthPos);
  const propertiesLengthPos = topicLengthPos + (v2 ? 2 : 1) + topicBytes;
  const propertiesStart = propertiesLengthPos + 2;
  const propertiesEnd = propertiesStart + buffer.readInt16BE(propertiesLengthPos);
  assert(propertiesEnd === start + record.sizeBytes, 'properties end the record');
  const properties =
    propertiesEnd > propertiesStart ? stringToProperties(buffer.toString('utf8', propertiesStart, propertiesEnd)) : {};
  const keys = properties[PROPERTY_KEYS];
  return {
    topic: record.topic,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    physicalOffset: record.physicalOffset,
    sizeBytes: record.sizeBytes,
    tagsCode: tagsCodeOf(properties[PROPERTY_TAGS]),
    keys: keys === undefined ? [] : keys.split(KEY_SEPARATOR).filter((key) => key.length > 0),
    uniqKey: properties[PROPERTY_UNIQ_KEY],
    storeTimestamp: record.storeTimestamp,
    sysFlag: record.sysFlag,
  };
}
