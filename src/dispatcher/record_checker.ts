// Checks that a derived-file entry points at the message it claims: a consume queue unit at a
// record of its own topic, queue, queue offset and size; an index entry at a record with a key
// of its hash. Used by the dispatcher's start-up checks and by `mqstore verify`. Reads single
// records through Storage, keeping the last segment open.

import path from 'node:path';
import { decodeMessage, type MessageExt, PROPERTY_UNIQ_KEY, RECORD_FIXED_BYTES } from '../format/commit_log_record.js';
import { tagsCodeAgrees, tagsCodeOf } from '../format/consume_queue_entry.js';
import { indexKey, indexKeyHash } from '../format/hash_index.js';
import { segmentName } from '../format/segment_name.js';
import type { Storage, StorageFile } from '../io/storage.js';

export class RecordChecker {
  private readonly storage: Storage;
  private readonly dir: string;
  private readonly segmentSizeBytes: number;
  private file: StorageFile | null = null;
  private fileStart = -1;

  constructor(storage: Storage, commitLogDir: string, segmentSizeBytes: number) {
    this.storage = storage;
    this.dir = commitLogDir;
    this.segmentSizeBytes = segmentSizeBytes;
  }

  /**
   * Why the record at `physicalOffset` is not this unit's message, or null when it is. With
   * `tagsCode` the unit's tags hash must match the record's TAGS too (the dispatcher writes
   * tagsCodeOf(TAGS)); RocketMQ's schedule topic and ConsumeQueueExt addresses are exempt.
   */
  unitMismatch(physicalOffset: number, sizeBytes: number, topic: string, queueId: number, queueOffset: number, tagsCode?: number): string | null {
    const message = this.messageAt(physicalOffset, sizeBytes);
    if (typeof message === 'string') return message;
    if (message.topic !== topic || message.queueId !== queueId || message.queueOffset !== queueOffset) {
      return `points at ${message.topic}/${message.queueId} queue offset ${message.queueOffset}, not ${topic}/${queueId} ${queueOffset}`;
    }
    if (tagsCode !== undefined && !tagsCodeAgrees(topic, tagsCode, message.tags)) {
      return `tags code ${tagsCode} is not the hash of the record's tags ${JSON.stringify(message.tags ?? '')} (${tagsCodeOf(message.tags)})`;
    }
    return null;
  }

  /** Why no key (KEYS or UNIQ_KEY) of the record at `physicalOffset` hashes to `keyHash`, or null. */
  keyMismatch(physicalOffset: number, keyHash: number): string | null {
    const head = this.read(physicalOffset, 4);
    if (typeof head === 'string') return head;
    const message = this.messageAt(physicalOffset, head.readInt32BE(0));
    if (typeof message === 'string') return message;
    const keys = [...message.keys];
    const uniqKey = message.properties[PROPERTY_UNIQ_KEY];
    if (uniqKey !== undefined) keys.push(uniqKey);
    if (keys.some((key) => indexKeyHash(indexKey(message.topic, key)) === keyHash)) return null;
    return `key hash ${keyHash} matches no key of the record (${message.topic}: ${keys.join(' ') || 'no keys'})`;
  }

  /**
   * Why an index entry's time does not fit the record it points at, or null: entries after
   * the first carry trunc((storeTimestamp − beginTimestamp) / 1000) seconds, clamped to
   * [0, 2^31 − 1] (0 when beginTimestamp ≤ 0). The first entry of a file is computed before the
   * file's begin time is set, so it is not checked.
   */
  timeDiffMismatch(physicalOffset: number, beginTimestamp: number, timeDiff: number): string | null {
    const head = this.read(physicalOffset, 4);
    if (typeof head === 'string') return head;
    const message = this.messageAt(physicalOffset, head.readInt32BE(0));
    if (typeof message === 'string') return message;
    let expected = Math.trunc((message.storeTimestamp - beginTimestamp) / 1000);
    if (beginTimestamp <= 0 || expected < 0) expected = 0;
    else if (expected > 2147483647) expected = 2147483647;
    return expected === timeDiff ? null : `time diff ${timeDiff} s, but the record was stored ${expected} s after the file's begin time`;
  }

  /** The store time of the record at `physicalOffset`, or why there is no record. */
  storeTimestampAt(physicalOffset: number): number | string {
    const head = this.read(physicalOffset, 4);
    if (typeof head === 'string') return head;
    const message = this.messageAt(physicalOffset, head.readInt32BE(0));
    return typeof message === 'string' ? message : message.storeTimestamp;
  }

  close(): void {
    if (this.file !== null) this.storage.close(this.file);
    this.file = null;
    this.fileStart = -1;
  }

  /** The record of `sizeBytes` at `physicalOffset`, decoded without its CRC, or why it is not one. */
  private messageAt(physicalOffset: number, sizeBytes: number): MessageExt | string {
    if (sizeBytes < RECORD_FIXED_BYTES) return `points at no record (size ${sizeBytes})`;
    if ((physicalOffset % this.segmentSizeBytes) + sizeBytes > this.segmentSizeBytes) return `a record of ${sizeBytes} bytes here would cross a segment end`;
    const record = this.read(physicalOffset, sizeBytes);
    if (typeof record === 'string') return record;
    try {
      const message = decodeMessage(record, 0, false);
      if (message.storeSize !== sizeBytes || message.commitLogOffset !== physicalOffset) {
        return `points at a record of ${message.storeSize} bytes stating offset ${message.commitLogOffset}`;
      }
      return message;
    } catch (error) {
      return `does not point at a record (${(error as Error).message})`;
    }
  }

  /** `length` bytes at `physicalOffset`, or why they cannot be read. */
  private read(physicalOffset: number, length: number): Buffer | string {
    const start = physicalOffset - (physicalOffset % this.segmentSizeBytes);
    if (start !== this.fileStart) {
      this.close();
      try {
        this.file = this.storage.open(path.join(this.dir, segmentName(start)), false);
      } catch {
        return `segment ${segmentName(start)} is missing`;
      }
      this.fileStart = start;
    }
    const out = Buffer.allocUnsafe(length);
    return this.storage.pread(this.file!, out, 0, length, physicalOffset - start) === length ? out : 'record cut short';
  }
}
