// A ConsumeQueue file: fixed 20-byte units, one per message of one topic-queue, pointing into
// the CommitLog (RocketMQ ConsumeQueue / CqUnit). Queue offset n lives at byte n × 20 of the
// queue's file sequence; files are named by their starting byte offset (20 digits).
//
//   file  := unit* zero-fill            (a file that starts the queue late begins with filler*)
//   unit  := physicalOffset:int64 sizeBytes:int32 tagsCode:int64      big-endian, 20 bytes
//   filler := physicalOffset=0 sizeBytes=2147483647 tagsCode=0
//
// Pure codec, no I/O. See ./consume_queue_entry.md.

import { assert } from '../assert.js';
import { readInt64, writeInt64 } from './commit_log_record.js';
import { javaStringHashCode } from './java_hash.js';
import { segmentName } from './segment_name.js';

export const CQ_POS_PHYSICAL_OFFSET = 0;
export const CQ_POS_SIZE_BYTES = 8;
export const CQ_POS_TAGS_CODE = 12;
export const CQ_ENTRY_BYTES = 20;

/** RocketMQ's default: 300000 units per file. */
export const CQ_FILE_ENTRIES_DEFAULT = 300000;
/** RocketMQ mappedFileSizeConsumeQueue default: 300000 × 20 bytes. */
export const MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT = 6000000;

/** The unit RocketMQ writes to blank-fill a queue's first file before its first real unit. */
export const CQ_FILLER_PHYSICAL_OFFSET = 0;
export const CQ_FILLER_SIZE_BYTES = 2147483647;
export const CQ_FILLER_TAGS_CODE = 0;

/** With ConsumeQueueExt, tags codes at or below this are ext-file addresses (Integer.MIN_VALUE − 1). */
export const CQ_TAGS_CODE_EXT_ADDRESS_MAX = -2147483649;

assert(CQ_ENTRY_BYTES === 8 + 4 + 8, 'a ConsumeQueue unit is int64 + int32 + int64');
assert(CQ_POS_SIZE_BYTES === CQ_POS_PHYSICAL_OFFSET + 8);
assert(CQ_POS_TAGS_CODE === CQ_POS_SIZE_BYTES + 4);
assert(CQ_POS_TAGS_CODE + 8 === CQ_ENTRY_BYTES);
assert(MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT === CQ_FILE_ENTRIES_DEFAULT * CQ_ENTRY_BYTES);

export interface ConsumeQueueEntry {
  /** Byte position of the message's record in the CommitLog. */
  physicalOffset: number;
  /** The record's TOTALSIZE in bytes. */
  sizeBytes: number;
  /** Java hashCode of the TAGS property (0 when absent); a delivery time for delayed messages. */
  tagsCode: number;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** RocketMQ getMappedFileSizeConsumeQueue: rounds a configured size up to whole units. */
export function consumeQueueFileSizeBytes(configured: number): number {
  assert(Number.isSafeInteger(configured), 'configured ConsumeQueue file size must be an integer');
  assert(configured > 0, 'configured ConsumeQueue file size must be > 0');
  return Math.ceil(configured / CQ_ENTRY_BYTES) * CQ_ENTRY_BYTES;
}

/** The tags code RocketMQ stores: String.hashCode of the whole TAGS string, 0 when absent. */
export function tagsCodeOf(tags: string | undefined): number {
  if (tags === undefined || tags.length === 0) return 0;
  return javaStringHashCode(tags);
}

export function isFillerEntry(entry: ConsumeQueueEntry): boolean {
  return (
    entry.physicalOffset === CQ_FILLER_PHYSICAL_OFFSET &&
    entry.sizeBytes === CQ_FILLER_SIZE_BYTES &&
    entry.tagsCode === CQ_FILLER_TAGS_CODE
  );
}

/** All 20 bytes zero: the preallocated tail of a file, i.e. the end of written data. */
export function isZeroEntry(entry: ConsumeQueueEntry): boolean {
  return entry.physicalOffset === 0 && entry.sizeBytes === 0 && entry.tagsCode === 0;
}

/** True when RocketMQ with ConsumeQueueExt would read tagsCode as an ext-file address. */
export function isTagsCodeExtAddress(tagsCode: number): boolean {
  return tagsCode <= CQ_TAGS_CODE_EXT_ADDRESS_MAX;
}

/** RocketMQ's schedule topic keeps a delivery time in tagsCode, not a tags hash. */
export const SCHEDULE_TOPIC = 'SCHEDULE_TOPIC_XXXX';

/**
 * Whether a unit's tags code agrees with its record's tags: the hash of the tags, except in the
 * schedule topic (a delivery time) and for a ConsumeQueueExt address (nothing to compare).
 */
export function tagsCodeAgrees(topic: string, tagsCode: number, tags: string | undefined): boolean {
  if (topic === SCHEDULE_TOPIC || isTagsCodeExtAddress(tagsCode)) return true;
  return tagsCode === tagsCodeOf(tags);
}

/** null for a unit that points at a message; otherwise why not (zero, filler or invalid). */
export function consumeQueueEntryInvalidReason(entry: ConsumeQueueEntry): string | null {
  if (isZeroEntry(entry)) return 'zero unit: end of written data';
  if (isFillerEntry(entry)) return 'filler unit: blank pre-fill below the queue minimum';
  if (!Number.isSafeInteger(entry.physicalOffset)) return `physicalOffset ${entry.physicalOffset} is not a safe integer`;
  if (entry.physicalOffset < 0) return `physicalOffset ${entry.physicalOffset} < 0`;
  if (!Number.isInteger(entry.sizeBytes)) return `sizeBytes ${entry.sizeBytes} is not an integer`;
  if (entry.sizeBytes <= 0) return `sizeBytes ${entry.sizeBytes} ≤ 0`;
  if (entry.sizeBytes > INT32_MAX) return `sizeBytes ${entry.sizeBytes} > 2147483647`;
  return null;
}

export type ConsumeQueueEntryKind = 'end' | 'filler' | 'unit' | 'invalid';

/** The reader's decision (see the .md decision table): exactly one kind per unit. */
export function consumeQueueEntryKind(entry: ConsumeQueueEntry): ConsumeQueueEntryKind {
  if (isZeroEntry(entry)) return 'end';
  if (isFillerEntry(entry)) return 'filler';
  return consumeQueueEntryInvalidReason(entry) === null ? 'unit' : 'invalid';
}

/** Writes one unit; only a valid unit or the filler may be written. */
export function writeConsumeQueueEntry(target: Buffer, position: number, entry: ConsumeQueueEntry): void {
  assert(Number.isSafeInteger(position), 'position must be an integer');
  assert(position >= 0, 'position must be ≥ 0');
  assert(position + CQ_ENTRY_BYTES <= target.length, 'unit must fit in the target');
  if (!isFillerEntry(entry)) {
    const reason = consumeQueueEntryInvalidReason(entry);
    assert(reason === null, `refusing to write an invalid ConsumeQueue unit: ${reason}`);
  }
  assert(Number.isSafeInteger(entry.tagsCode), 'tagsCode must be a safe integer');
  assert(!isTagsCodeExtAddress(entry.tagsCode), 'tagsCode must not look like a ConsumeQueueExt address');
  assert(entry.sizeBytes >= INT32_MIN && entry.sizeBytes <= INT32_MAX);
  writeInt64(target, position + CQ_POS_PHYSICAL_OFFSET, entry.physicalOffset);
  target.writeInt32BE(entry.sizeBytes, position + CQ_POS_SIZE_BYTES);
  writeInt64(target, position + CQ_POS_TAGS_CODE, entry.tagsCode);
}

/** Reads one unit; never throws for an in-bounds position (classify the result yourself). */
export function readConsumeQueueEntry(source: Buffer, position: number): ConsumeQueueEntry {
  assert(Number.isSafeInteger(position), 'position must be an integer');
  assert(position >= 0, 'position must be ≥ 0');
  assert(position + CQ_ENTRY_BYTES <= source.length, 'unit must lie inside the source');
  return {
    physicalOffset: readInt64(source, position + CQ_POS_PHYSICAL_OFFSET),
    sizeBytes: source.readInt32BE(position + CQ_POS_SIZE_BYTES),
    tagsCode: readInt64(source, position + CQ_POS_TAGS_CODE),
  };
}

function assertQueueOffset(queueOffset: number): void {
  assert(Number.isSafeInteger(queueOffset), 'queueOffset must be an integer');
  assert(queueOffset >= 0, 'queueOffset must be ≥ 0');
  assert(Number.isSafeInteger(queueOffset * CQ_ENTRY_BYTES), 'queueOffset × 20 must be a safe integer');
}

function assertFileSizeBytes(fileSizeBytes: number): void {
  assert(Number.isSafeInteger(fileSizeBytes), 'file size must be an integer');
  assert(fileSizeBytes > 0, 'file size must be > 0');
  assert(fileSizeBytes % CQ_ENTRY_BYTES === 0, 'file size must be a multiple of 20');
}

/** Byte position of queue offset n in the queue's file sequence: n × 20. */
export function queueOffsetToBytePosition(queueOffset: number): number {
  assertQueueOffset(queueOffset);
  return queueOffset * CQ_ENTRY_BYTES;
}

/** Start byte offset (= file name) of the file holding queueOffset. */
export function consumeQueueFileStart(queueOffset: number, fileSizeBytes: number): number {
  assertFileSizeBytes(fileSizeBytes);
  const bytePosition = queueOffsetToBytePosition(queueOffset);
  return bytePosition - (bytePosition % fileSizeBytes);
}

/** Position of queueOffset's unit inside its file. */
export function consumeQueuePositionInFile(queueOffset: number, fileSizeBytes: number): number {
  assertFileSizeBytes(fileSizeBytes);
  return queueOffsetToBytePosition(queueOffset) % fileSizeBytes;
}

/** The 20-digit name of the file holding queueOffset, e.g. 00000000000006000000. */
export function consumeQueueFileName(queueOffset: number, fileSizeBytes: number): string {
  return segmentName(consumeQueueFileStart(queueOffset, fileSizeBytes));
}

/** RocketMQ rollNextFile: the first queue offset of the file after queueOffset's file. */
export function rollNextFileQueueOffset(queueOffset: number, entriesPerFile: number): number {
  assertQueueOffset(queueOffset);
  assert(Number.isSafeInteger(entriesPerFile), 'entriesPerFile must be an integer');
  assert(entriesPerFile > 0, 'entriesPerFile must be > 0');
  return queueOffset + entriesPerFile - (queueOffset % entriesPerFile);
}
