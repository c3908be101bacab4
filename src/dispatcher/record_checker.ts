// Checks that a derived-file entry points at the message it claims: a consume queue unit at a
// record of its own topic, queue, queue offset and size; an index entry at a record with a key
// of its hash. Used by the dispatcher's start-up checks and by `mqstore verify`. Reads single
// records through Storage, keeping the last segment open.

import path from 'node:path';
import { decodeMessage, type MessageExt, PROPERTY_UNIQ_KEY, RECORD_FIXED_BYTES } from '../format/commit_log_record.js';
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

  /** Why the record at `physicalOffset` is not this unit's message, or null when it is. */
  unitMismatch(physicalOffset: number, sizeBytes: number, topic: string, queueId: number, queueOffset: number): string | null {
    const message = this.messageAt(physicalOffset, sizeBytes);
    if (typeof message === 'string') return message;
    if (message.topic !== topic || message.queueId !== queueId || message.queueOffset !== queueOffset) {
      return `points at ${message.topic}/${message.queueId} queue offset ${message.queueOffset}, not ${topic}/${queueId} ${queueOffset}`;
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
