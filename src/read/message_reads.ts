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
  recordInvalidReason,
  POS_SYSFLAG,
  PROPERTY_UNIQ_KEY,
  RECORD_FIXED_BYTES,
  readInt64,
  storeTimestampPosition,
} from '../format/commit_log_record.js';
import {
  CQ_ENTRY_BYTES,
  consumeQueueFileSizeBytes,
  CQ_POS_PHYSICAL_OFFSET,
  CQ_POS_SIZE_BYTES,
  CQ_POS_TAGS_CODE,
  isTagsCodeExtAddress,
  rollNextFileQueueOffset,
  tagsCodeAgrees,
  tagsCodeOf,
} from '../format/consume_queue_entry.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import { takesQueueOffset } from '../recovery/queue_offset_table.js';
import { topicDirName } from '../format/topic_dir.js';
import type { QueueRange } from '../shared/messages.js';
import { GetMessageStatus, type GetMessageResult, type QueryMessageResult } from '../status.js';
import { BLOCK_BYTES, BLOCK_OVERHANG_BYTES, BlockCache } from './block_cache.js';
import { FileReader } from './file_reader.js';

/** RocketMQ MAX_PULL_MSG_SIZE: the byte cap of one pull whatever the other limits say. */
const MAX_PULL_MSG_SIZE_BYTES = 128 * 1024 * 1024;
/** Rounds of index lookups per queryMessage (RocketMQ: 3). */
const QUERY_ROUNDS_MAX = 3;
/** Index matches asked for per round (the dispatcher caps at INDEX_QUERY_CANDIDATES_MAX). */
const QUERY_CANDIDATES = 4096;
/** Index entry times are whole seconds after the file's begin time (RocketMQ's timeDiff). */
const INDEX_TIME_SLACK_MS = 1000;
/** Enough of a record's head to reach its STORETIMESTAMP with IPv6 hosts. */
const RECORD_HEAD_BYTES = 80;
/** Store file handles the main thread keeps open for reads. */
const READ_FILES_MAX = 128;
/** CommitLog blocks cached for reads (× BLOCK_BYTES: 16 MiB). */
const BLOCKS_MAX = 64;
/** Queues whose last consume queue read is kept for the next pull. */
const UNIT_CACHE_QUEUES_MAX = 1024;
/** A cached run serves a pull when it holds at least this many of the units asked for. */
const UNIT_CACHE_HIT_UNITS_MIN = 64;
/** Units read at once when a lookup of a record at rest checks it against its unit (5 KiB). */
const CONFIRM_READ_AHEAD_UNITS = 256;
/** Runs larger than this are not kept (a pull with a huge maxMsgNums): the cache stays ≤ 16 MiB. */
const UNIT_RUN_CACHE_BYTES_MAX = 16 * 1024;

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
  /**
   * How far the queue ranges reach: every record ending at or below it has its consume queue
   * unit. Without it lookMessageByOffset cannot check a record against its unit.
   */
  dispatchedWhere?: () => number;
  /**
   * CommitLog offset from which this process wrote the records or checked their CRCs at open
   * (a full recovery scan): reads check records below it, which rested on disk unverified.
   * Default 0: every read is checked.
   */
  trustedFrom?: () => number;
  queryIndex(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): Promise<IndexQueryAnswer>;
}

interface TagFilter {
  codes: Set<number>;
  tags: Set<string>;
}

/** The units of one consume queue read, kept for the next pull of the same queue. */
interface UnitRun {
  fromQueueOffset: number;
  bytes: Buffer;
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
  private readonly blocks = new BlockCache(BLOCKS_MAX);
  /** Block reads in flight, by aligned start. */
  private readonly blockLoads = new Map<number, { readableEnd: number; promise: Promise<{ start: number; bytes: Buffer } | null> }>();
  /** Last consume queue read per queue; Map order is the recency order. */
  private readonly unitRuns = new Map<string, UnitRun>();
  private readonly commitLogDir: string;
  private readonly consumeQueueDir: string;
  private readonly segmentSizeBytes: number;
  private readonly cqFileSizeBytes: number;
  private readonly totalMemoryBytes = os.totalmem();
  /** forceVerifyPropCRC: a record read must carry a matching appended record CRC. */
  private readonly requireRecordCrc: boolean;

  constructor(context: ReadContext) {
    this.context = context;
    const config = context.config();
    this.commitLogDir = config.storePathCommitLog;
    this.consumeQueueDir = path.join(config.storePathRootDir, 'consumequeue');
    this.segmentSizeBytes = config.mappedFileSizeCommitLog;
    this.cqFileSizeBytes = consumeQueueFileSizeBytes(config.mappedFileSizeConsumeQueue);
    this.requireRecordCrc = config.forceVerifyPropCRC;
  }

  private trustedFrom(): number {
    return this.context.trustedFrom?.() ?? 0;
  }

  close(): Promise<void> {
    return this.files.closeAll();
  }

  /**
   * Drops cached handles of files retention may have deleted: segments below the new minimum
   * and every consume queue file (reopened on the next read), so their disk space is freed.
   */
  forgetDeletedFiles(minPhysicalOffset: number): void {
    this.blocks.dropBelow(minPhysicalOffset);
    this.unitRuns.clear();
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
    // Records this process wrote, or verified when it opened, are trusted: only older bytes at
    // rest are checked (their CRCs, and without the record CRC their consume queue unit).
    const atRest = commitLogOffset < this.trustedFrom();
    const message = decodeAt(record, 0, commitLogOffset, size, this.requireRecordCrc, atRest);
    if (message === null || this.requireRecordCrc || !atRest) return message;
    return (await this.unitConfirms(message)) ? message : null;
  }

  /**
   * Without the appended record CRC nothing covers a record's topic, queue id, queue offset or
   * properties: a flipped byte there decodes as another, plausible message. Once dispatched,
   * the record's consume queue unit is a second copy of where it lives and of its tags hash:
   * a record its own unit does not point at is damage (found by the corruption campaign:
   * lookMessageByOffset returned a message with a flipped topic byte as valid).
   */
  private async unitConfirms(message: MessageExt): Promise<boolean> {
    const dispatchedWhere = this.context.dispatchedWhere?.() ?? 0;
    if (message.commitLogOffset + message.storeSize > dispatchedWhere) return true; // Not dispatched yet.
    if (!takesQueueOffset(message.sysFlag)) return true; // PREPARED and ROLLBACK have no unit.
    const range = this.context.queueRange(message.topic, message.queueId);
    if (range !== undefined && message.queueOffset < range.minQueueOffset) return true; // Unit removed by retention.
    // Read ahead: a walk over old records (queryMessage, a tool) asks for the next units next.
    const unit = await this.unitAt(message.topic, message.queueId, message.queueOffset, CONFIRM_READ_AHEAD_UNITS);
    if (unit === null || unit.physicalOffset !== message.commitLogOffset || unit.sizeBytes !== message.storeSize) return false;
    return unitMatches(unit, message, message.topic, message.queueId, false);
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
  private async readLog(physicalOffset: number, length: number): Promise<Buffer | null> {
    const min = this.context.minPhysicalOffset();
    const readableEnd = this.context.readableEnd();
    if (min < 0 || physicalOffset < min || physicalOffset + length > readableEnd) return null;
    const segmentStart = physicalOffset - (physicalOffset % this.segmentSizeBytes);
    if (physicalOffset - segmentStart + length > this.segmentSizeBytes) return null;
    const cached = this.blocks.get(physicalOffset, length);
    if (cached !== undefined) return cached;
    const aligned = physicalOffset - (physicalOffset % BLOCK_BYTES);
    const block = await this.loadBlock(segmentStart, aligned, readableEnd);
    if (block !== null && physicalOffset + length <= block.start + block.bytes.length) {
      // Sequential readers find the next block loaded (or loading) when they get there.
      const next = aligned + BLOCK_BYTES;
      if (next < readableEnd && next < segmentStart + this.segmentSizeBytes && this.blocks.get(next, 1) === undefined) {
        this.loadBlock(segmentStart, next, readableEnd).catch(() => undefined);
      }
      return block.bytes.subarray(physicalOffset - block.start, physicalOffset - block.start + length);
    }
    // Larger than a block with its overhang: read it alone.
    return this.files.read(path.join(this.commitLogDir, segmentName(segmentStart)), physicalOffset - segmentStart, length);
  }

  /**
   * Reads the block at `aligned` (with its overhang, clipped to the segment and the readable
   * end) into the cache; one read per block at a time.
   */
  private loadBlock(segmentStart: number, aligned: number, readableEnd: number): Promise<{ start: number; bytes: Buffer } | null> {
    const loading = this.blockLoads.get(aligned);
    if (loading !== undefined && loading.readableEnd >= readableEnd) return loading.promise;
    const start = Math.max(segmentStart, aligned);
    const end = Math.min(aligned + BLOCK_BYTES + BLOCK_OVERHANG_BYTES, segmentStart + this.segmentSizeBytes, readableEnd);
    const promise = this.files
      .read(path.join(this.commitLogDir, segmentName(segmentStart)), start - segmentStart, end - start)
      .then((bytes) => {
        if (bytes === null) return null;
        this.blocks.put(start, bytes);
        return { start, bytes };
      })
      .finally(() => {
        if (this.blockLoads.get(aligned)?.promise === promise) this.blockLoads.delete(aligned);
      });
    this.blockLoads.set(aligned, { readableEnd, promise });
    return promise;
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
      const runFrom = next;
      const run = await this.readUnitBytes(topic, queueId, runFrom, count);
      if (run === null || !unitAt(run, 0, runFrom)) {
        result.status = GetMessageStatus.OFFSET_FOUND_NULL;
        next = rollNextFileQueueOffset(next, entriesPerFile);
        break;
      }
      let nextPhysicalFileStart = Number.NEGATIVE_INFINITY;
      const unit: Unit = { queueOffset: 0, physicalOffset: 0, sizeBytes: 0, tagsCode: 0 };
      // Units are decoded one at a time: a pull usually needs 32 of the hundreds read.
      for (let i = 0; i < run.length / CQ_ENTRY_BYTES && unitAt(run, i, runFrom, unit); i++) {
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
        const record = this.blocks.get(unit.physicalOffset, unit.sizeBytes) ?? (await this.readLog(unit.physicalOffset, unit.sizeBytes));
        if (record === null) {
          // The CommitLog no longer holds it (retention): skip the rest of that segment.
          if (result.bufferTotalSize === 0) result.status = GetMessageStatus.MESSAGE_WAS_REMOVING;
          nextPhysicalFileStart = unit.physicalOffset - (unit.physicalOffset % this.segmentSizeBytes) + this.segmentSizeBytes;
          continue;
        }
        const message = decodeAt(record, 0, unit.physicalOffset, unit.sizeBytes, this.requireRecordCrc, unit.physicalOffset < this.trustedFrom());
        // A record that fails its checks is damage (the rest of its segment is still good), and
        // so is a unit that does not point at its own message: never hand either out.
        if (message === null || !unitMatches(unit, message, topic, queueId, this.requireRecordCrc)) continue;
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

  /**
   * The bytes of up to `count` units from `fromQueueOffset` (inside one file, below the
   * queue's max). The queue's last read serves when it holds enough of them (all, or at least
   * UNIT_CACHE_HIT_UNITS_MIN): a consumer's next pulls then cost no I/O. Written units never
   * change while the store is open.
   */
  private async readUnitBytes(topic: string, queueId: number, fromQueueOffset: number, count: number): Promise<Buffer | null> {
    const key = `${queueId}\u0000${topic}`;
    const run = this.unitRuns.get(key);
    if (run !== undefined) {
      const skip = fromQueueOffset - run.fromQueueOffset;
      const available = Math.min(count, run.bytes.length / CQ_ENTRY_BYTES - skip);
      if (skip >= 0 && available >= Math.min(count, UNIT_CACHE_HIT_UNITS_MIN)) {
        this.unitRuns.delete(key);
        this.unitRuns.set(key, run);
        return run.bytes.subarray(skip * CQ_ENTRY_BYTES, (skip + available) * CQ_ENTRY_BYTES);
      }
    }
    const atBytes = fromQueueOffset * CQ_ENTRY_BYTES;
    const fileStart = atBytes - (atBytes % this.cqFileSizeBytes);
    const file = path.join(this.consumeQueueDir, topicDirName(topic), String(queueId), segmentName(fileStart));
    const bytes = await this.files.read(file, atBytes - fileStart, count * CQ_ENTRY_BYTES);
    if (bytes === null) return null;
    this.unitRuns.delete(key);
    if (bytes.length > UNIT_RUN_CACHE_BYTES_MAX) return bytes;
    if (this.unitRuns.size >= UNIT_CACHE_QUEUES_MAX) this.unitRuns.delete(this.unitRuns.keys().next().value as string);
    this.unitRuns.set(key, { fromQueueOffset, bytes });
    return bytes;
  }

  /** The unit at `queueOffset` if it is inside the queue's readable range. */
  private async unitAt(topic: string, queueId: number, queueOffset: number, readAheadUnits = 1): Promise<Unit | null> {
    const range = this.context.queueRange(topic, queueId);
    if (range === undefined || queueOffset < range.minQueueOffset || queueOffset >= range.maxQueueOffset) return null;
    // Never past the queue's end (units not written yet must not enter the cache), nor past the
    // end of the consume queue file (a read there is short and finds nothing).
    const unitsLeftInFile = (this.cqFileSizeBytes - ((queueOffset * CQ_ENTRY_BYTES) % this.cqFileSizeBytes)) / CQ_ENTRY_BYTES;
    const count = Math.max(1, Math.min(readAheadUnits, range.maxQueueOffset - queueOffset, unitsLeftInFile));
    const run = await this.readUnitBytes(topic, queueId, queueOffset, count);
    const unit: Unit = { queueOffset: 0, physicalOffset: 0, sizeBytes: 0, tagsCode: 0 };
    return run !== null && unitAt(run, 0, queueOffset, unit) ? unit : null;
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
   * store time lies in [beginMs, endMs], newest first from the index, at most
   * min(`maxNum`, maxMsgsNumBatch), checked
   * on the record itself (a hash collision never returns a wrong message). Oldest first in the
   * result.
   */
  async queryMessage(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): Promise<QueryMessageResult> {
    const result: QueryMessageResult = { messages: [], indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0 };
    const seen = new Set<number>();
    const countMax = Math.min(maxNum, this.context.config().maxMsgsNumBatch); // RocketMQ's cap
    let lastQueryMsgTime = endMs;
    for (let round = 0; round < QUERY_ROUNDS_MAX && result.messages.length < countMax; round++) {
      // Hash matches are checked on their records below, so ask for many more than will be
      // returned: keys that collide with this one (same Java hash) must not crowd it out.
      // Index entries keep whole seconds after their file's begin time, so an entry can read up
      // to 999 ms before its message's store time: widen the walk, the record decides below.
      const answer = await this.context.queryIndex(topic, key, QUERY_CANDIDATES, beginMs - INDEX_TIME_SLACK_MS, lastQueryMsgTime);
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
        if (result.messages.length >= countMax) break;
        seen.add(physicalOffset);
        const message = await this.lookMessageByOffset(physicalOffset);
        if (message === null) continue;
        oldestTime = Math.min(oldestTime, message.storeTimestamp);
        const keyMatches = message.keys.includes(key) || message.properties[PROPERTY_UNIQ_KEY] === key;
        if (message.topic !== topic || !keyMatches) continue;
        if (message.storeTimestamp < beginMs || message.storeTimestamp > endMs) continue;
        result.messages.push(message);
      }
      if (oldestTime === Number.POSITIVE_INFINITY || oldestTime < beginMs) break;
      lastQueryMsgTime = oldestTime;
    }
    result.messages.sort((a, b) => a.commitLogOffset - b.commitLogOffset);
    return result;
  }
}

/**
 * Decodes unit `index` of a run read from `fromQueueOffset` into `out` (when given); false for
 * bytes that are no unit (damage, or not written), where reading stops.
 */
function unitAt(run: Buffer, index: number, fromQueueOffset: number, out?: Unit): boolean {
  const at = index * CQ_ENTRY_BYTES;
  const physicalOffset = readInt64(run, at + CQ_POS_PHYSICAL_OFFSET);
  const sizeBytes = run.readInt32BE(at + CQ_POS_SIZE_BYTES);
  if (physicalOffset < 0 || sizeBytes <= 0) return false;
  if (out !== undefined) {
    out.queueOffset = fromQueueOffset + index;
    out.physicalOffset = physicalOffset;
    out.sizeBytes = sizeBytes;
    out.tagsCode = readInt64(run, at + CQ_POS_TAGS_CODE);
  }
  return true;
}

/**
 * The record is the unit's own message: topic, queue, queue offset, and (unless the record
 * passed a required record CRC) tags with the unit's tags code. Without the appended record
 * CRC the properties have no checksum: the unit's hash is a second copy that catches a
 * damaged TAGS (then a damaged unit also hides a good message: nothing, never a wrong one).
 */
function unitMatches(unit: Unit, message: MessageExt, topic: string, queueId: number, recordCrcChecked: boolean): boolean {
  if (message.topic !== topic || message.queueId !== queueId || message.queueOffset !== unit.queueOffset) return false;
  return recordCrcChecked || tagsCodeAgrees(topic, unit.tagsCode, message.tags);
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

/**
 * Decodes the record at `start` if it is the one expected at `commitLogOffset` (size included)
 * and it passes every check recovery would make: lengths, the body CRC and the appended record
 * CRC (required with forceVerifyPropCRC). A clean reopen scans only the newest segment, so a
 * flipped byte in an older record is first met here: it must read as no message, never as a
 * damaged one (the corruption campaign, issue 5).
 */
function decodeAt(
  buffer: Buffer,
  start: number,
  commitLogOffset: number,
  sizeBytes: number,
  requireRecordCrc: boolean,
  checkCrc = true,
): MessageExt | null {
  if (buffer.readInt32BE(start) !== sizeBytes) return null;
  const record = start === 0 && buffer.length === sizeBytes ? buffer : buffer.subarray(start, start + sizeBytes);
  if (checkCrc && recordInvalidReason(record, 0, sizeBytes, true, requireRecordCrc) !== null) return null;
  try {
    // decodeMessage repeats the structural checks; the CRCs were checked above when asked for.
    const message = decodeMessage(record, 0, false);
    return message.commitLogOffset === commitLogOffset ? message : null;
  } catch (error) {
    if (error instanceof StoreError && error.code === 'E_RECORD_INVALID') return null;
    throw error;
  }
}
