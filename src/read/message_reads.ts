// MessageReads: every read of the public API, on the main thread, over asynchronous file reads
// (the event loop never blocks). RocketMQ's DefaultMessageStore read paths (reference 2c, 2d,
// 2g): getMessage with its status table and transfer limits, time lookups by binary search
// over a consume queue, key lookups through the index (asked of the dispatcher, which owns
// the index files) with every hit checked on the record itself.
//
// Which consume queue units exist is known from the dispatcher's DISPATCHED messages (the
// queue ranges): a unit is read only after the dispatcher wrote it.

import os from 'node:os';
import path from 'node:path';
import type { MessageStoreConfig } from '../config.js';
import { StoreError } from '../errors.js';
import {
  decodeMessage,
  type MessageExt,
  POS_SYSFLAG,
  PROPERTY_UNIQ_KEY,
  RECORD_FIXED_BYTES,
  readInt64,
  storeTimestampPosition,
} from '../format/commit_log_record.js';
import {
  CQ_ENTRY_BYTES,
  consumeQueueFileSizeBytes,
  isTagsCodeExtAddress,
  readConsumeQueueEntry,
  rollNextFileQueueOffset,
  tagsCodeOf,
} from '../format/consume_queue_entry.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import { topicDirName } from '../format/topic_dir.js';
import type { QueueRange } from '../shared/messages.js';
import { GetMessageStatus, type GetMessageResult, type QueryMessageResult } from '../status.js';
import { FileReader } from './file_reader.js';

/** RocketMQ MAX_PULL_MSG_SIZE: the byte cap of one pull whatever the other limits say. */
const MAX_PULL_MSG_SIZE_BYTES = 128 * 1024 * 1024;
/** Rounds of index lookups per queryMessage (RocketMQ: 3). */
const QUERY_ROUNDS_MAX = 3;
/** Bytes read at once for neighbouring records of one pull. */
const SPAN_BYTES_MAX = 256 * 1024;
/** Enough of a record's head to reach its STORETIMESTAMP with IPv6 hosts. */
const RECORD_HEAD_BYTES = 80;
/** Store file handles the main thread keeps open for reads. */
const READ_FILES_MAX = 128;

export interface GetMessageRequest {
  group: string;
  topic: string;
  queueId: number;
  offset: number;
  maxMsgNums: number;
  subscription?: { tags: string[] } | undefined;
}

export type BoundaryType = 'LOWER' | 'UPPER';

export interface IndexQueryAnswer {
  physicalOffsets: number[];
  indexLastUpdateTimestamp: number;
  indexLastUpdatePhyoffset: number;
}

/** What the reads need from the store. */
export interface ReadContext {
  config(): MessageStoreConfig;
  /** First CommitLog offset still stored, −1 when the log holds no data. */
  minPhysicalOffset(): number;
  /** End of the bytes in the CommitLog files. */
  readableEnd(): number;
  queueRange(topic: string, queueId: number): QueueRange | undefined;
  queryIndex(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): Promise<IndexQueryAnswer>;
}

interface TagFilter {
  codes: Set<number>;
  tags: Set<string>;
}

interface Unit {
  queueOffset: number;
  physicalOffset: number;
  sizeBytes: number;
  tagsCode: number;
}

export class MessageReads {
  private readonly context: ReadContext;
  private readonly files = new FileReader(READ_FILES_MAX);
  private readonly commitLogDir: string;
  private readonly consumeQueueDir: string;
  private readonly segmentSizeBytes: number;
  private readonly cqFileSizeBytes: number;
  private readonly totalMemoryBytes = os.totalmem();

  constructor(context: ReadContext) {
    this.context = context;
    const config = context.config();
    this.commitLogDir = config.storePathCommitLog;
    this.consumeQueueDir = path.join(config.storePathRootDir, 'consumequeue');
    this.segmentSizeBytes = config.mappedFileSizeCommitLog;
    this.cqFileSizeBytes = consumeQueueFileSizeBytes(config.mappedFileSizeConsumeQueue);
  }

  close(): Promise<void> {
    return this.files.closeAll();
  }

  /**
   * Drops cached handles of files retention may have deleted: segments below the new minimum
   * and every consume queue file (reopened on the next read), so their disk space is freed.
   */
  forgetDeletedFiles(minPhysicalOffset: number): void {
    const commitLogPrefix = this.commitLogDir + path.sep;
    const consumeQueuePrefix = this.consumeQueueDir + path.sep;
    this.files.forgetMatching((file) => {
      if (file.startsWith(consumeQueuePrefix)) return true;
      if (!file.startsWith(commitLogPrefix)) return false;
      const start = parseSegmentName(path.basename(file));
      return start !== null && start < minPhysicalOffset;
    });
  }

  // ------------------------------------------------------------------------------------------
  // By CommitLog offset

  /**
   * The message whose record starts at `commitLogOffset`, or null when there is none (out of
   * range, not a record boundary, or the record fails its checks). `sizeBytes`, if given,
   * must match the record's size.
   */
  async lookMessageByOffset(commitLogOffset: number, sizeBytes?: number): Promise<MessageExt | null> {
    let size = sizeBytes;
    if (size === undefined) {
      const head = await this.readLog(commitLogOffset, 4);
      if (head === null) return null;
      size = head.readInt32BE(0);
    }
    if (size < RECORD_FIXED_BYTES) return null;
    const record = await this.readLog(commitLogOffset, size);
    if (record === null) return null;
    return decodeAt(record, 0, commitLogOffset, size);
  }

  /** Store time of the record at `commitLogOffset` (RocketMQ pickupStoreTimestamp), or −1. */
  async storeTimestampAt(commitLogOffset: number, sizeBytes: number): Promise<number> {
    if (sizeBytes < RECORD_FIXED_BYTES) return -1;
    const head = await this.readLog(commitLogOffset, Math.min(sizeBytes, RECORD_HEAD_BYTES));
    if (head === null) return -1;
    const at = storeTimestampPosition(head.readInt32BE(POS_SYSFLAG));
    return at + 8 <= head.length ? readInt64(head, at) : -1;
  }

  /**
   * `length` bytes of the CommitLog at `physicalOffset`, or null when they are not all inside
   * one segment, below the readable end and above the minimum.
   */
  private readLog(physicalOffset: number, length: number): Promise<Buffer | null> {
    const min = this.context.minPhysicalOffset();
    if (min < 0 || physicalOffset < min || physicalOffset + length > this.context.readableEnd()) return Promise.resolve(null);
    const segmentStart = physicalOffset - (physicalOffset % this.segmentSizeBytes);
    if (physicalOffset - segmentStart + length > this.segmentSizeBytes) return Promise.resolve(null);
    return this.files.read(path.join(this.commitLogDir, segmentName(segmentStart)), physicalOffset - segmentStart, length);
  }

  // ------------------------------------------------------------------------------------------
  // By queue offset

  async getMessage(request: GetMessageRequest): Promise<GetMessageResult> {
    const { topic, queueId, offset, maxMsgNums } = request;
    const config = this.context.config();
    const range = this.context.queueRange(topic, queueId);
    const minOffset = range?.minQueueOffset ?? 0;
    const maxOffset = range?.maxQueueOffset ?? 0;
    const result: GetMessageResult = {
      status: GetMessageStatus.NO_MESSAGE_IN_QUEUE,
      nextBeginOffset: offset,
      minOffset,
      maxOffset,
      messages: [],
      bufferTotalSize: 0,
      suggestPullingFromSlave: false,
    };
    if (maxOffset === 0) {
      result.nextBeginOffset = 0;
      return result;
    }
    if (offset < minOffset) return done(result, GetMessageStatus.OFFSET_TOO_SMALL, minOffset);
    if (offset === maxOffset) return done(result, GetMessageStatus.OFFSET_OVERFLOW_ONE, offset);
    if (offset > maxOffset) return done(result, GetMessageStatus.OFFSET_OVERFLOW_BADLY, maxOffset);

    const filter = tagFilterOf(request.subscription);
    const maxFilterBytes = Math.max(config.maxFilterMessageSize, maxMsgNums * CQ_ENTRY_BYTES);
    const maxPhysicalOffset = this.context.readableEnd();
    const inMemoryBytes = (this.totalMemoryBytes * config.accessMessageInMemoryMaxRatio) / 100;
    const entriesPerFile = this.cqFileSizeBytes / CQ_ENTRY_BYTES;
    result.status = GetMessageStatus.NO_MATCHED_MESSAGE;
    let next = offset;
    let messageCount = 0;
    let maxPhysicalOffsetPulling = 0;
    for (let cqFileNum = 0; result.bufferTotalSize <= 0 && next < maxOffset && cqFileNum < config.travelCqFileNumWhenGetMessage; cqFileNum++) {
      const unitsToFileEnd = entriesPerFile - (next % entriesPerFile);
      const unitsInBudget = Math.floor(maxFilterBytes / CQ_ENTRY_BYTES) + 1 - (next - offset);
      const count = Math.min(unitsToFileEnd, maxOffset - next, Math.max(1, unitsInBudget));
      const units = await this.readUnits(topic, queueId, next, count);
      if (units === null) {
        result.status = GetMessageStatus.OFFSET_FOUND_NULL;
        next = rollNextFileQueueOffset(next, entriesPerFile);
        break;
      }
      const spans = new SpanReader(units, this.segmentSizeBytes, (at, length) => this.readLog(at, length));
      let nextPhysicalFileStart = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < units.length; i++) {
        const unit = units[i]!;
        if ((unit.queueOffset - offset) * CQ_ENTRY_BYTES > maxFilterBytes) break;
        const inMemory = maxPhysicalOffset - unit.physicalOffset <= inMemoryBytes;
        if (isBatchFull(config, unit.sizeBytes, maxMsgNums, result.bufferTotalSize, messageCount, inMemory)) break;
        if (result.bufferTotalSize >= MAX_PULL_MSG_SIZE_BYTES) break;
        maxPhysicalOffsetPulling = unit.physicalOffset;
        next = unit.queueOffset + 1;
        if (unit.physicalOffset < nextPhysicalFileStart) continue;
        // An ext address (ConsumeQueueExt) is no tags code: leave the check to the record.
        if (filter !== null && !filter.codes.has(unit.tagsCode) && !isTagsCodeExtAddress(unit.tagsCode)) {
          if (result.bufferTotalSize === 0) result.status = GetMessageStatus.NO_MATCHED_MESSAGE;
          continue;
        }
        const message = await spans.message(i);
        if (message === null) {
          // The CommitLog no longer holds it (retention): skip the rest of that segment.
          if (result.bufferTotalSize === 0) result.status = GetMessageStatus.MESSAGE_WAS_REMOVING;
          nextPhysicalFileStart = unit.physicalOffset - (unit.physicalOffset % this.segmentSizeBytes) + this.segmentSizeBytes;
          continue;
        }
        if (message.topic !== topic || message.queueId !== queueId || message.queueOffset !== unit.queueOffset) {
          // A unit that does not point at its own message is damage: never hand it out.
          continue;
        }
        if (filter !== null && (message.tags === undefined || !filter.tags.has(message.tags))) {
          if (result.bufferTotalSize === 0) result.status = GetMessageStatus.NO_MATCHED_MESSAGE;
          continue;
        }
        result.messages.push(message);
        result.bufferTotalSize += unit.sizeBytes;
        messageCount += 1;
        result.status = GetMessageStatus.FOUND;
        nextPhysicalFileStart = Number.NEGATIVE_INFINITY;
      }
    }
    result.nextBeginOffset = next;
    result.suggestPullingFromSlave = maxPhysicalOffset - maxPhysicalOffsetPulling > inMemoryBytes;
    return result;
  }

  /** Up to `count` units from `fromQueueOffset`, all inside one consume queue file; null if it is gone. */
  private async readUnits(topic: string, queueId: number, fromQueueOffset: number, count: number): Promise<Unit[] | null> {
    const atBytes = fromQueueOffset * CQ_ENTRY_BYTES;
    const fileStart = atBytes - (atBytes % this.cqFileSizeBytes);
    const file = path.join(this.consumeQueueDir, topicDirName(topic), String(queueId), segmentName(fileStart));
    const bytes = await this.files.read(file, atBytes - fileStart, count * CQ_ENTRY_BYTES);
    if (bytes === null) return null;
    const units: Unit[] = [];
    for (let i = 0; i < count; i++) {
      const entry = readConsumeQueueEntry(bytes, i * CQ_ENTRY_BYTES);
      if (entry.physicalOffset < 0 || entry.sizeBytes <= 0) break; // Damage, or not written: stop.
      units.push({ queueOffset: fromQueueOffset + i, physicalOffset: entry.physicalOffset, sizeBytes: entry.sizeBytes, tagsCode: entry.tagsCode });
    }
    return units.length === 0 ? null : units;
  }

  /** The unit at `queueOffset` if it is inside the queue's readable range. */
  private async unitAt(topic: string, queueId: number, queueOffset: number): Promise<Unit | null> {
    const range = this.context.queueRange(topic, queueId);
    if (range === undefined || queueOffset < range.minQueueOffset || queueOffset >= range.maxQueueOffset) return null;
    const units = await this.readUnits(topic, queueId, queueOffset, 1);
    return units?.[0] ?? null;
  }

  /** Store time of the message at a queue offset, or −1 (RocketMQ getMessageStoreTimeStamp). */
  async getMessageStoreTimeStamp(topic: string, queueId: number, queueOffset: number): Promise<number> {
    const unit = await this.unitAt(topic, queueId, queueOffset);
    return unit === null ? -1 : this.storeTimestampAt(unit.physicalOffset, unit.sizeBytes);
  }

  /**
   * Store time of the oldest message: of the whole CommitLog without arguments, of one queue
   * with them; −1 when there is none.
   */
  async getEarliestMessageTime(topic?: string, queueId?: number): Promise<number> {
    if (topic === undefined) {
      const min = this.context.minPhysicalOffset();
      if (min < 0) return -1;
      // The first record of the oldest segment (a segment never starts with a BLANK).
      const head = await this.readLog(min, RECORD_FIXED_BYTES);
      if (head === null) return -1;
      return this.storeTimestampAt(min, head.readInt32BE(0));
    }
    const range = this.context.queueRange(topic, queueId!);
    if (range === undefined) return -1;
    for (let queueOffset = range.minQueueOffset; queueOffset < range.maxQueueOffset; queueOffset++) {
      const unit = await this.unitAt(topic, queueId!, queueOffset);
      if (unit === null) return -1;
      const time = await this.storeTimestampAt(unit.physicalOffset, unit.sizeBytes);
      if (time >= 0) return time;
      // Below the CommitLog's minimum (not yet trimmed from the queue): try the next unit.
      if (unit.physicalOffset >= this.context.minPhysicalOffset()) return -1;
    }
    return -1;
  }

  /**
   * RocketMQ getOffsetInQueueByTime (5.x): LOWER = the first offset whose store time is ≥
   * `timestamp` (max when there is none); UPPER = the last offset whose store time is ≤
   * `timestamp` (min when there is none). Units whose message was removed count as older than
   * any timestamp.
   */
  async getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary: BoundaryType): Promise<number> {
    const range = this.context.queueRange(topic, queueId);
    if (range === undefined) return 0;
    const { minQueueOffset: min, maxQueueOffset: max } = range;
    if (min >= max) return max;
    const timeAt = async (queueOffset: number): Promise<number> => {
      const unit = await this.unitAt(topic, queueId, queueOffset);
      if (unit === null) return Number.NEGATIVE_INFINITY;
      const time = await this.storeTimestampAt(unit.physicalOffset, unit.sizeBytes);
      return time < 0 ? Number.NEGATIVE_INFINITY : time;
    };
    if (boundary === 'LOWER') {
      // First offset in [min, max) with time ≥ timestamp; max if none.
      let low = min;
      let high = max;
      while (low < high) {
        const middle = Math.floor((low + high) / 2);
        if ((await timeAt(middle)) >= timestamp) high = middle;
        else low = middle + 1;
      }
      return low;
    }
    // Last offset with time ≤ timestamp; min if none.
    let low = min;
    let high = max;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if ((await timeAt(middle)) > timestamp) high = middle;
      else low = middle + 1;
    }
    return Math.max(min, low - 1);
  }

  // ------------------------------------------------------------------------------------------
  // By key

  /**
   * RocketMQ queryMessage: messages of `topic` whose KEYS or UNIQ_KEY contain `key` and whose
   * store time lies in [beginMs, endMs], newest first from the index, at most `maxNum`, checked
   * on the record itself (a hash collision never returns a wrong message). Oldest first in the
   * result.
   */
  async queryMessage(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): Promise<QueryMessageResult> {
    const result: QueryMessageResult = { messages: [], indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0 };
    const seen = new Set<number>();
    let lastQueryMsgTime = endMs;
    for (let round = 0; round < QUERY_ROUNDS_MAX && result.messages.length < maxNum; round++) {
      const answer = await this.context.queryIndex(topic, key, this.context.config().maxMsgsNumBatch, beginMs, lastQueryMsgTime);
      if (round === 0) {
        result.indexLastUpdateTimestamp = answer.indexLastUpdateTimestamp;
        result.indexLastUpdatePhyoffset = answer.indexLastUpdatePhyoffset;
      }
      // An offset can appear twice even in one answer: the last message before a crash is
      // indexed again when it is re-dispatched (RocketMQ's rule, endPhyOffset inclusive).
      const fresh = [...new Set(answer.physicalOffsets)].filter((offset) => !seen.has(offset));
      if (fresh.length === 0) break;
      let oldestTime = Number.POSITIVE_INFINITY;
      for (const physicalOffset of fresh) {
        seen.add(physicalOffset);
        const message = await this.lookMessageByOffset(physicalOffset);
        if (message === null) continue;
        oldestTime = Math.min(oldestTime, message.storeTimestamp);
        const keyMatches = message.keys.includes(key) || message.properties[PROPERTY_UNIQ_KEY] === key;
        if (message.topic !== topic || !keyMatches) continue;
        if (message.storeTimestamp < beginMs || message.storeTimestamp > endMs) continue;
        if (result.messages.length < maxNum) result.messages.push(message);
      }
      if (oldestTime === Number.POSITIVE_INFINITY || oldestTime < beginMs) break;
      lastQueryMsgTime = oldestTime;
    }
    result.messages.sort((a, b) => a.commitLogOffset - b.commitLogOffset);
    return result;
  }
}

function done(result: GetMessageResult, status: GetMessageStatus, nextBeginOffset: number): GetMessageResult {
  result.status = status;
  result.nextBeginOffset = nextBeginOffset;
  return result;
}

function tagFilterOf(subscription: GetMessageRequest['subscription']): TagFilter | null {
  if (subscription === undefined || subscription.tags.length === 0 || subscription.tags.includes('*')) return null;
  return { codes: new Set(subscription.tags.map((tag) => tagsCodeOf(tag))), tags: new Set(subscription.tags) };
}

/** RocketMQ isTheBatchFull: never full before the first message. */
function isBatchFull(
  config: MessageStoreConfig,
  sizeBytes: number,
  maxMsgNums: number,
  bufferTotal: number,
  messageTotal: number,
  inMemory: boolean,
): boolean {
  if (bufferTotal === 0 || messageTotal === 0) return false;
  if (messageTotal + 1 > maxMsgNums) return true;
  if (bufferTotal + sizeBytes > MAX_PULL_MSG_SIZE_BYTES) return true;
  if (inMemory) {
    if (bufferTotal + sizeBytes > config.maxTransferBytesOnMessageInMemory) return true;
    return messageTotal > config.maxTransferCountOnMessageInMemory - 1;
  }
  if (bufferTotal + sizeBytes > config.maxTransferBytesOnMessageInDisk) return true;
  return messageTotal > config.maxTransferCountOnMessageInDisk - 1;
}

/** Decodes the record at `start` if it is the one expected at `commitLogOffset` (size included). */
function decodeAt(buffer: Buffer, start: number, commitLogOffset: number, sizeBytes: number): MessageExt | null {
  if (buffer.readInt32BE(start) !== sizeBytes) return null;
  try {
    const message = decodeMessage(buffer.subarray(start, start + sizeBytes), 0, false);
    return message.commitLogOffset === commitLogOffset ? message : null;
  } catch (error) {
    if (error instanceof StoreError && error.code === 'E_RECORD_INVALID') return null;
    throw error;
  }
}

/**
 * Loads the records of a pull with few reads: a record not yet loaded is read together with
 * the following units' records when they lie close behind it in the same segment.
 */
class SpanReader {
  private readonly units: readonly Unit[];
  private readonly segmentSizeBytes: number;
  private readonly readLog: (physicalOffset: number, length: number) => Promise<Buffer | null>;
  private span: Buffer | null = null;
  private spanStart = 0;

  constructor(units: readonly Unit[], segmentSizeBytes: number, readLog: (physicalOffset: number, length: number) => Promise<Buffer | null>) {
    this.units = units;
    this.segmentSizeBytes = segmentSizeBytes;
    this.readLog = readLog;
  }

  async message(index: number): Promise<MessageExt | null> {
    const unit = this.units[index]!;
    const inSpan =
      this.span !== null && unit.physicalOffset >= this.spanStart && unit.physicalOffset + unit.sizeBytes <= this.spanStart + this.span.length;
    if (!inSpan) await this.load(index);
    if (this.span === null) return null;
    return decodeAt(this.span, unit.physicalOffset - this.spanStart, unit.physicalOffset, unit.sizeBytes);
  }

  private async load(index: number): Promise<void> {
    const first = this.units[index]!;
    const segmentEnd = first.physicalOffset - (first.physicalOffset % this.segmentSizeBytes) + this.segmentSizeBytes;
    let end = first.physicalOffset + first.sizeBytes;
    for (let i = index + 1; i < this.units.length; i++) {
      const unit = this.units[i]!;
      const unitEnd = unit.physicalOffset + unit.sizeBytes;
      if (unit.physicalOffset < end || unitEnd > segmentEnd || unitEnd - first.physicalOffset > SPAN_BYTES_MAX) break;
      end = unitEnd;
    }
    this.spanStart = first.physicalOffset;
    this.span = await this.readLog(first.physicalOffset, end - first.physicalOffset);
    if (this.span === null && end > first.physicalOffset + first.sizeBytes) {
      // The span reached past what is readable: read the one record alone.
      this.span = await this.readLog(first.physicalOffset, first.sizeBytes);
    }
  }
}
