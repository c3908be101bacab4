// Tails the CommitLog for the dispatcher (RocketMQ ReputMessageService, reference 2c "Rebuild by
// the dispatcher"): reads whole records up to a limit and turns each into a DispatchRequest.
//
// It reads only below the limit, in chunks of up to READ_CHUNK_BYTES_MAX into one reused buffer,
// and classifies each position as the recovery decision table does (valid record, BLANK, zero
// header, invalid bytes) with the same checks as recovery minus the CRC (RocketMQ's reput skips
// it): magic, every length (recordInvalidReason) and PHYSICALOFFSET = its own position. Only
// what dispatch needs is decoded: no body, and of the properties only TAGS, KEYS and UNIQ_KEY.

import path from 'node:path';

import { assert } from '../assert.js';
import { StoreError } from '../errors.js';
import {
  BLANK_RECORD_BYTES,
  bodyLengthPosition,
  MAGIC_BLANK,
  MAGIC_V1,
  MAGIC_V2,
  NAME_VALUE_SEPARATOR,
  POS_MAGIC,
  POS_PHYSICALOFFSET,
  POS_QUEUEID,
  POS_QUEUEOFFSET,
  POS_SYSFLAG,
  POS_TOTALSIZE,
  PROPERTY_KEYS,
  PROPERTY_SEPARATOR,
  PROPERTY_TAGS,
  PROPERTY_UNIQ_KEY,
  readInt64,
  RECORD_FIXED_BYTES,
  recordInvalidReason,
  storeTimestampPosition,
} from '../format/commit_log_record.js';
import { tagsCodeOf } from '../format/consume_queue_entry.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import type { Storage, StorageFile } from '../io/storage.js';

/** Bytes read at once (grown for a bigger record); never more than the limit allows. */
const READ_CHUNK_BYTES_MAX = 1024 * 1024;
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
      const step = this.readChunk(file, segmentStart, limitPhysicalOffset, maxRecords, out);
      if (step === 'wait') break;
    }
    return out;
  }

  /**
   * Reads one chunk from the position and appends its records. 'more' when the caller should
   * read again (chunk used up, a BLANK moved to the next segment, or a record needs a bigger
   * buffer); 'wait' when nothing more is visible (zero header, the limit, the record budget).
   */
  private readChunk(file: StorageFile, segmentStart: number, limit: number, maxRecords: number, out: DispatchRequest[]): 'more' | 'wait' {
    const segmentEnd = segmentStart + this.segmentSizeBytes;
    const readEnd = Math.min(limit, segmentEnd);
    if (readEnd - this.physicalOffset < BLANK_RECORD_BYTES) return 'wait'; // Not even a header is visible.
    const buffer = this.chunk(0);
    const want = Math.min(buffer.length, readEnd - this.physicalOffset);
    const got = this.storage.pread(file, buffer, 0, want, this.physicalOffset - segmentStart);
    let at = 0;
    while (out.length < maxRecords) {
      const physicalOffset = this.physicalOffset;
      if (got - at < BLANK_RECORD_BYTES) return got === want && want > 0 && at > 0 ? 'more' : 'wait';
      const sizeBytes = buffer.readInt32BE(at + POS_TOTALSIZE);
      const magic = buffer.readInt32BE(at + POS_MAGIC);
      if (sizeBytes === 0 && magic === 0) return 'wait'; // Not written yet.
      const bytesLeft = segmentEnd - physicalOffset;
      if (magic === MAGIC_BLANK && sizeBytes === bytesLeft) {
        if (segmentEnd > limit) return 'wait'; // The BLANK itself is not visible yet.
        this.physicalOffset = segmentEnd;
        return 'more';
      }
      let reason: string | null = null;
      if (magic !== MAGIC_V1 && magic !== MAGIC_V2) reason = `bad magic 0x${(magic >>> 0).toString(16)}`;
      else if (sizeBytes < RECORD_FIXED_BYTES || sizeBytes > bytesLeft - BLANK_RECORD_BYTES) reason = `record size ${sizeBytes} impossible with ${bytesLeft} bytes left`;
      else if (physicalOffset + sizeBytes > limit) return 'wait'; // Beyond the limit: not ours to judge.
      else if (at + sizeBytes > got) {
        if (at > 0) return 'more'; // Read again from this record.
        if (buffer.length >= sizeBytes) return 'wait'; // The file is shorter than the record: nothing to read.
        this.chunk(sizeBytes); // A record larger than the buffer: grow it, read again.
        return 'more';
      } else {
        reason = recordInvalidReason(buffer, at, sizeBytes, false);
        const stated = reason === null ? readInt64(buffer, at + POS_PHYSICALOFFSET) : physicalOffset;
        if (stated !== physicalOffset) reason = `PHYSICALOFFSET ${stated} is not the record's position ${physicalOffset}`;
      }
      if (reason !== null) {
        if (out.length > 0) return 'wait'; // Hand out what was read; the next call throws.
        throw new StoreError(
          'E_STORE_CORRUPT',
          `CommitLog ${file.path} has an invalid record at physical offset ${physicalOffset} ` +
            `(position ${physicalOffset - segmentStart}), below the dispatch limit ${limit}: ${reason}`,
        );
      }
      out.push(describe(buffer, at, sizeBytes, physicalOffset));
      at += sizeBytes;
      this.physicalOffset += sizeBytes;
    }
    return 'wait';
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

  /** The reused read buffer, grown to hold at least `bytes`. */
  private chunk(bytes: number): Buffer {
    if (this.buffer === null || this.buffer.length < bytes) {
      this.buffer = Buffer.allocUnsafe(Math.max(bytes, Math.min(READ_CHUNK_BYTES_MAX, this.segmentSizeBytes)));
    }
    return this.buffer;
  }
}

/** The dispatch request of the valid record at `start` in `buffer`. */
function describe(buffer: Buffer, start: number, sizeBytes: number, physicalOffset: number): DispatchRequest {
  const sysFlag = buffer.readInt32BE(start + POS_SYSFLAG);
  const bodyLengthPos = start + bodyLengthPosition(sysFlag);
  const topicLengthPos = bodyLengthPos + 4 + buffer.readInt32BE(bodyLengthPos);
  const v2 = buffer.readInt32BE(start + POS_MAGIC) === MAGIC_V2;
  const topicBytes = v2 ? buffer.readInt16BE(topicLengthPos) : buffer.readInt8(topicLengthPos);
  const topicStart = topicLengthPos + (v2 ? 2 : 1);
  const propertiesStart = topicStart + topicBytes + 2;
  const propertiesEnd = start + sizeBytes;
  let tags: string | undefined;
  let keys: string | undefined;
  let uniqKey: string | undefined;
  if (propertiesEnd > propertiesStart) {
    // name\u0001value\u0002…: only three names matter here, so no properties object is built.
    const text = buffer.toString('utf8', propertiesStart, propertiesEnd);
    for (let at = 0; at < text.length; ) {
      const split = text.indexOf(NAME_VALUE_SEPARATOR, at);
      if (split < 0) break;
      let stop = text.indexOf(PROPERTY_SEPARATOR, split + 1);
      if (stop < 0) stop = text.length;
      const nameLength = split - at;
      if (nameLength === 4 && text.startsWith(PROPERTY_TAGS, at)) tags = text.slice(split + 1, stop);
      else if (nameLength === 4 && text.startsWith(PROPERTY_KEYS, at)) keys = text.slice(split + 1, stop);
      else if (nameLength === 8 && text.startsWith(PROPERTY_UNIQ_KEY, at)) uniqKey = text.slice(split + 1, stop);
      at = stop + 1;
    }
  }
  return {
    topic: buffer.toString('utf8', topicStart, topicStart + topicBytes),
    queueId: buffer.readInt32BE(start + POS_QUEUEID),
    queueOffset: readInt64(buffer, start + POS_QUEUEOFFSET),
    physicalOffset,
    sizeBytes,
    tagsCode: tags === undefined || tags.length === 0 ? 0 : tagsCodeOf(tags),
    keys: keys === undefined ? [] : keys.split(KEY_SEPARATOR).filter((key) => key.length > 0),
    uniqKey: uniqKey === undefined || uniqKey.length === 0 ? undefined : uniqKey,
    storeTimestamp: readInt64(buffer, start + storeTimestampPosition(sysFlag)),
    sysFlag,
  };
}
