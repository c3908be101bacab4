// Reads one CommitLog segment record by record and classifies every position with the
// recovery decision table (src/format/commit_log_record.md, "Recovery decision table").

import { assert } from '../assert.js';
import {
  BLANK_RECORD_BYTES,
  MAGIC_BLANK,
  MAGIC_V1,
  MAGIC_V2,
  bodyLengthPosition,
  POS_PHYSICALOFFSET,
  POS_QUEUEID,
  POS_QUEUEOFFSET,
  POS_SYSFLAG,
  readInt64,
  RECORD_FIXED_BYTES,
  recordInvalidReason,
  storeTimestampPosition,
} from '../format/commit_log_record.js';
import type { Storage, StorageFile } from '../io/storage.js';

const CHUNK_BYTES = 4 * 1024 * 1024;
const MAGIC_V1_BYTES = Buffer.from([0xda, 0xa3, 0x20, 0xa7]);
const MAGIC_V2_BYTES = Buffer.from([0xda, 0xa3, 0x20, 0xab]);

/** What the scanner found at the position where it stopped. */
export type ScanStop =
  /** R1: a zero header — the preallocated tail, end of data. */
  | { kind: 'zero' }
  /** R2: a BLANK closing the segment — the log continues in the next segment. */
  | { kind: 'blank' }
  /** R3, R5–R10: bytes that are not a valid record — cut here. */
  | { kind: 'invalid'; reason: string };

export interface ScannedRecord {
  physicalOffset: number;
  sizeBytes: number;
  topic: string;
  queueId: number;
  queueOffset: number;
  sysFlag: number;
  storeTimestamp: number;
}

export interface ScanResult {
  /** Segment-relative position of the first byte that is not part of a valid record. */
  endPosition: number;
  stop: ScanStop;
  scannedBytes: number;
}

/** Reads a segment through a sliding window, so one record is always contiguous in memory. */
export class SegmentScanner {
  private readonly storage: Storage;
  private readonly file: StorageFile;
  private readonly startOffset: number;
  private readonly segmentSizeBytes: number;
  private buffer: Buffer;
  /** Segment position of buffer[0] and how many bytes of the buffer are valid. */
  private windowStart = 0;
  private windowBytes = 0;
  scannedBytes = 0;

  /** RocketMQ's forceVerifyPropCRC: every record must carry a matching appended CRC. */
  private readonly requireRecordCrc: boolean;

  constructor(storage: Storage, file: StorageFile, startOffset: number, segmentSizeBytes: number, requireRecordCrc = false) {
    this.requireRecordCrc = requireRecordCrc;
    this.storage = storage;
    this.file = file;
    this.startOffset = startOffset;
    this.segmentSizeBytes = segmentSizeBytes;
    this.buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, segmentSizeBytes));
  }

  /** Scans from `position` until a stop; calls onRecord for every valid record. */
  scan(position: number, verifyCrc: boolean, onRecord: (record: ScannedRecord) => void): ScanResult {
    let at = position;
    for (;;) {
      const verdict = this.classify(at, verifyCrc);
      if (typeof verdict !== 'number') return { endPosition: at, stop: verdict, scannedBytes: this.scannedBytes };
      onRecord(this.describe(at, verdict));
      at += verdict;
    }
  }

  /**
   * The position of the first valid record after `position` (magic, lengths, CRC, and a
   * PHYSICALOFFSET equal to its own position), or -1. Finds candidates by searching for the
   * magic bytes, so a long stretch of zeros or garbage costs a memchr, not a check per byte.
   * Used after a cut: a valid record beyond it means damage in the middle of data.
   */
  findRecordAfter(position: number): number {
    let from = position + 1;
    while (from + BLANK_RECORD_BYTES <= this.segmentSizeBytes) {
      const length = Math.min(this.buffer.length, this.segmentSizeBytes - from);
      const start = this.window(from, length);
      const slice = this.buffer.subarray(start, start + length);
      const v1 = slice.indexOf(MAGIC_V1_BYTES);
      const v2 = slice.indexOf(MAGIC_V2_BYTES);
      const hit = v1 < 0 ? v2 : v2 < 0 ? v1 : Math.min(v1, v2);
      if (hit < 0) {
        if (from + length >= this.segmentSizeBytes) return -1;
        from += length - 3; // A magic may straddle the window edge.
        continue;
      }
      const candidate = from + hit - 4;
      if (candidate > position && typeof this.classify(candidate, true) === 'number') return candidate;
      from += hit + 1;
    }
    return -1;
  }

  /** The record size at `position`, or the reason the scan stops there. */
  private classify(position: number, verifyCrc: boolean): number | ScanStop {
    const bytesLeft = this.segmentSizeBytes - position;
    if (bytesLeft < BLANK_RECORD_BYTES) return { kind: 'invalid', reason: `only ${bytesLeft} bytes left in the segment` };
    const header = this.window(position, BLANK_RECORD_BYTES);
    const totalSize = this.buffer.readInt32BE(header);
    const magic = this.buffer.readInt32BE(header + 4);
    if (totalSize === 0 && magic === 0) return { kind: 'zero' };
    if (magic === MAGIC_BLANK) {
      if (totalSize === bytesLeft) return { kind: 'blank' };
      return { kind: 'invalid', reason: `BLANK record claims ${totalSize} bytes but ${bytesLeft} are left` };
    }
    if (magic !== MAGIC_V1 && magic !== MAGIC_V2) {
      return { kind: 'invalid', reason: `bad magic 0x${(magic >>> 0).toString(16)}` };
    }
    if (totalSize < RECORD_FIXED_BYTES || totalSize > bytesLeft - BLANK_RECORD_BYTES) {
      return { kind: 'invalid', reason: `record size ${totalSize} impossible with ${bytesLeft} bytes left` };
    }
    const start = this.window(position, totalSize);
    const reason = recordInvalidReason(this.buffer, start, totalSize, verifyCrc, this.requireRecordCrc);
    if (reason !== null) return { kind: 'invalid', reason };
    const stated = readInt64(this.buffer, start + POS_PHYSICALOFFSET);
    if (stated !== this.startOffset + position) {
      return { kind: 'invalid', reason: `PHYSICALOFFSET ${stated} is not the record's position ${this.startOffset + position}` };
    }
    return totalSize;
  }

  private describe(position: number, sizeBytes: number): ScannedRecord {
    const start = this.window(position, sizeBytes);
    const buf = this.buffer;
    const sysFlag = buf.readInt32BE(start + POS_SYSFLAG);
    const storeTimestampPos = start + storeTimestampPosition(sysFlag);
    const bodyLenPos = start + bodyLengthPosition(sysFlag);
    const topicLenPos = bodyLenPos + 4 + buf.readInt32BE(bodyLenPos);
    const v2 = buf.readInt32BE(start + 4) === MAGIC_V2;
    const topicBytes = v2 ? buf.readInt16BE(topicLenPos) : buf.readInt8(topicLenPos);
    const topicStart = topicLenPos + (v2 ? 2 : 1);
    return {
      physicalOffset: this.startOffset + position,
      sizeBytes,
      topic: buf.toString('utf8', topicStart, topicStart + topicBytes),
      queueId: buf.readInt32BE(start + POS_QUEUEID),
      queueOffset: readInt64(buf, start + POS_QUEUEOFFSET),
      sysFlag,
      storeTimestamp: readInt64(buf, storeTimestampPos),
    };
  }

  /** Makes [position, position + length) resident and returns its index in the buffer. */
  private window(position: number, length: number): number {
    assert(position + length <= this.segmentSizeBytes, 'window stays inside the segment');
    if (position >= this.windowStart && position + length <= this.windowStart + this.windowBytes) {
      return position - this.windowStart;
    }
    if (length > this.buffer.length) this.buffer = Buffer.allocUnsafe(length);
    const want = Math.min(this.buffer.length, this.segmentSizeBytes - position);
    const got = this.storage.pread(this.file, this.buffer, 0, want, position);
    this.scannedBytes += got;
    if (got < want) this.buffer.fill(0, got, want); // A short file reads as zeros past its end.
    this.windowStart = position;
    this.windowBytes = want;
    return 0;
  }
}

/** True when every byte of the segment from `position` on is zero. */
export function isZeroFrom(storage: Storage, file: StorageFile, position: number, segmentSizeBytes: number): boolean {
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, segmentSizeBytes));
  const zeros = Buffer.alloc(chunk.length);
  for (let at = position; at < segmentSizeBytes; at += chunk.length) {
    const want = Math.min(chunk.length, segmentSizeBytes - at);
    const got = storage.pread(file, chunk, 0, want, at);
    if (!chunk.subarray(0, got).equals(zeros.subarray(0, got))) return false;
  }
  return true;
}

/**
 * Overwrites with zeros every non-zero chunk of the segment from `position` on, so bytes left
 * by a torn or lost write can never be read as records later. Returns the bytes zeroed.
 */
export function zeroFrom(storage: Storage, file: StorageFile, position: number, segmentSizeBytes: number): number {
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, segmentSizeBytes));
  const zeros = Buffer.alloc(chunk.length);
  let zeroedBytes = 0;
  for (let at = position; at < segmentSizeBytes; at += chunk.length) {
    const want = Math.min(chunk.length, segmentSizeBytes - at);
    const got = storage.pread(file, chunk, 0, want, at);
    if (chunk.subarray(0, got).equals(zeros.subarray(0, got))) continue;
    storage.pwritev(file, [zeros.subarray(0, want)], at);
    zeroedBytes += want;
  }
  return zeroedBytes;
}
