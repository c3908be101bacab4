// The set of `index/<yyyyMMddHHmmssSSS>` hash-index files: RocketMQ's IndexService (reference 2d).
// Builds `topic#uniqKey` and `topic#key` entries per message and answers key lookups newest file first.
//
// Only the last (active) file is held in memory, as a HashIndexImage; every put writes the
// changed header, slot and entry through storage.pwritev, and flush() fdatasyncs it. Older
// files keep only their header in memory and are read in ranges on demand (slot, then each
// entry of the chain via storage.pread), so a default 400 MiB file is never read whole for a
// query. Loading the active file still reads it whole (RocketMQ maps it): fine for small
// layouts, a later step may map it in ranges too.

import path from 'node:path';
import { assert } from '../assert.js';
import { StoreError } from '../errors.js';
import {
  entryPosition,
  HashIndexImage,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEX_INVALID,
  INDEX_NAME_DIGITS,
  INDEX_SLOT_BYTES,
  walkIndexChain,
  type IndexHeader,
  indexFileName,
  indexFileSizeBytes,
  indexKey,
  indexKeyHash,
  readIndexHeader,
  slotPosition,
} from '../format/hash_index.js';
import type { Storage, StorageFile } from '../io/storage.js';

/** RocketMQ maxMsgsNumBatch: at most this many offsets per query. */
export const INDEX_QUERY_COUNT_MAX = 64;
/** sysFlag bits of a transaction record's type; both set = ROLLBACK (embedded on disk — never renumber). */
const TRANSACTION_TYPE_MASK = 0xc;
const TRANSACTION_ROLLBACK_TYPE = 0xc;
const INDEX_NAME_PATTERN = new RegExp(`^\\d{${INDEX_NAME_DIGITS}}$`);

export interface IndexServiceOptions {
  indexDir: string;
  hashSlotNum: number;
  indexNum: number;
  /** Clock for new file names (local time); tests inject a fixed one. */
  now?: () => Date;
}

export interface IndexedMessage {
  topic: string;
  keys: string[];
  uniqKey?: string;
  physicalOffset: number;
  storeTimestamp: number;
  sysFlag: number;
}

export interface IndexQueryResult {
  /** Hash matches, newest first; different keys with the same hash are included. */
  physicalOffsets: number[];
  indexLastUpdateTimestamp: number;
  indexLastUpdatePhyoffset: number;
}

/** An older index file: its header is cached, its bytes stay on disk. */
interface IndexFileOnDisk {
  name: string;
  header: IndexHeader;
}

/** The active (last) index file: its whole image in memory, its handle open. */
interface IndexFileActive {
  name: string;
  image: HashIndexImage;
  handle: StorageFile;
}

export class IndexService {
  readonly #storage: Storage;
  readonly #indexDir: string;
  readonly #hashSlotNum: number;
  readonly #indexNum: number;
  readonly #now: () => Date;
  readonly #fileSizeBytes: number;
  /** Files before the active one, oldest first. */
  #older: IndexFileOnDisk[] = [];
  #active: IndexFileActive | null = null;
  /** Set when a file was created or deleted and the directory is not yet fsynced. */
  #dirDirty = false;

  constructor(storage: Storage, options: IndexServiceOptions) {
    assert(Number.isSafeInteger(options.hashSlotNum) && options.hashSlotNum > 0, 'hashSlotNum must be > 0');
    assert(Number.isSafeInteger(options.indexNum) && options.indexNum > 1, 'indexNum must be > 1');
    this.#storage = storage;
    this.#indexDir = options.indexDir;
    this.#hashSlotNum = options.hashSlotNum;
    this.#indexNum = options.indexNum;
    this.#now = options.now ?? (() => new Date());
    this.#fileSizeBytes = indexFileSizeBytes(options.hashSlotNum, options.indexNum);
  }

  /** Opens the existing files (17-digit names, sorted); the last one becomes the active file. */
  load(): void {
    this.close();
    const names = this.#storage
      .list(this.#indexDir)
      .filter((name) => INDEX_NAME_PATTERN.test(name))
      .sort();
    for (const name of names) {
      const sizeBytes = this.#storage.sizeBytes(this.#filePath(name));
      if (sizeBytes !== this.#fileSizeBytes) {
        throw new StoreError(
          'E_STORE_CORRUPT',
          `index file ${name} is ${sizeBytes} bytes, expected ${this.#fileSizeBytes}`,
        );
      }
    }
    const lastName = names.pop();
    for (const name of names) this.#older.push({ name, header: this.#readHeader(name) });
    if (lastName !== undefined) this.#active = this.#openActive(lastName);
  }

  /** endPhyOffset of the active file; 0 when there is none. */
  endPhyOffset(): number {
    return this.#active === null ? 0 : this.#active.image.header().endPhyOffset;
  }

  /** Number of index files (older and active). */
  fileCount(): number {
    return this.#older.length + (this.#active === null ? 0 : 1);
  }

  /** RocketMQ IndexService.buildIndex: adds `topic#uniqKey` and `topic#key` entries for one message. */
  buildIndex(message: IndexedMessage): void {
    assert(Number.isSafeInteger(message.physicalOffset) && message.physicalOffset >= 0, 'bad physicalOffset');
    assert(Number.isSafeInteger(message.storeTimestamp), 'bad storeTimestamp');
    let active = this.#activeOrCreate();
    // Already indexed (re-dispatch after recovery). As in RocketMQ, an offset equal to
    // endPhyOffset is indexed again: the last message of a crashed run may be repeated.
    if (message.physicalOffset < active.image.header().endPhyOffset) return;
    if ((message.sysFlag & TRANSACTION_TYPE_MASK) === TRANSACTION_ROLLBACK_TYPE) return;

    const keys: string[] = [];
    if (message.uniqKey !== undefined && message.uniqKey.length > 0) keys.push(message.uniqKey);
    for (const key of message.keys) if (key.length > 0) keys.push(key);
    for (const key of keys) {
      const fullKey = indexKey(message.topic, key);
      if (!this.#putKey(active, fullKey, message)) {
        active = this.#rollOver(active);
        const put = this.#putKey(active, fullKey, message);
        assert(put, 'a fresh index file must accept a key');
      }
    }
  }

  /**
   * RocketMQ IndexService.queryOffset: physical offsets whose key hash matches `topic#key` and
   * whose store time lies in [beginMs, endMs], newest file first, at most min(maxNum, 64).
   */
  queryOffsets(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): IndexQueryResult {
    const countMax = Math.min(maxNum, INDEX_QUERY_COUNT_MAX);
    const fullKey = indexKey(topic, key);
    const physicalOffsets: number[] = [];
    const result: IndexQueryResult = { physicalOffsets, indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0 };
    if (countMax <= 0) return result;
    if (this.#active !== null) {
      const header = this.#active.image.header();
      result.indexLastUpdateTimestamp = header.endTimestamp;
      result.indexLastUpdatePhyoffset = header.endPhyOffset;
      if (isTimeMatched(header, beginMs, endMs)) {
        physicalOffsets.push(...this.#active.image.selectPhysicalOffsets(fullKey, countMax, beginMs, endMs));
      }
      if (header.beginTimestamp < beginMs || physicalOffsets.length >= countMax) return result;
    }
    for (let i = this.#older.length - 1; i >= 0; i--) {
      const file = this.#older[i];
      assert(file !== undefined);
      if (isTimeMatched(file.header, beginMs, endMs)) {
        const countLeft = countMax - physicalOffsets.length;
        physicalOffsets.push(...this.#selectOnDisk(file, fullKey, countLeft, beginMs, endMs));
      }
      if (file.header.beginTimestamp < beginMs || physicalOffsets.length >= countMax) break;
    }
    return result;
  }

  /**
   * Deletes the index files whose beginPhyOffset ≥ physicalOffset and returns the newest remaining
   * file's endPhyOffset (0 when none is left); the caller re-dispatches from there. The last kept
   * file may still hold entries above physicalOffset: queries re-check topic and key on the record,
   * so a stale entry is filtered. But buildIndex skips offsets below that endPhyOffset, so a
   * message rewritten in [physicalOffset, endPhyOffset) would not be indexed; callers should
   * re-dispatch from the returned offset only over an unchanged CommitLog.
   */
  truncateAfter(physicalOffset: number): number {
    assert(Number.isSafeInteger(physicalOffset) && physicalOffset >= 0, 'bad physicalOffset');
    if (this.#active !== null && this.#active.image.header().beginPhyOffset >= physicalOffset) {
      this.#storage.close(this.#active.handle);
      this.#storage.unlink(this.#filePath(this.#active.name));
      this.#dirDirty = true;
      this.#active = null;
      while (this.#older.length > 0) {
        const file = this.#older[this.#older.length - 1];
        assert(file !== undefined);
        if (file.header.beginPhyOffset < physicalOffset) break;
        this.#storage.unlink(this.#filePath(file.name));
        this.#older.pop();
      }
      const last = this.#older.pop();
      if (last !== undefined) this.#active = this.#openActive(last.name);
      this.#syncDir();
    }
    return this.endPhyOffset();
  }

  /** Makes every put so far durable: fdatasync of the active file, then of the directory. */
  flush(): void {
    if (this.#active !== null) this.#storage.fdatasync(this.#active.handle);
    this.#syncDir();
  }

  /** Flushes and releases the active file; load() opens the files again. */
  close(): void {
    if (this.#active !== null) {
      this.flush();
      this.#storage.close(this.#active.handle);
      this.#active = null;
    }
    this.#older = [];
  }

  #filePath(name: string): string {
    return path.join(this.#indexDir, name);
  }

  #syncDir(): void {
    if (!this.#dirDirty) return;
    this.#storage.fsyncDir(this.#indexDir);
    this.#dirDirty = false;
  }

  #readHeader(name: string): IndexHeader {
    const handle = this.#storage.open(this.#filePath(name), false);
    try {
      const target = Buffer.alloc(INDEX_HEADER_BYTES);
      this.#readFully(handle, target, 0, name);
      return readIndexHeader(target);
    } finally {
      this.#storage.close(handle);
    }
  }

  #readFully(handle: StorageFile, target: Buffer, position: number, name: string): void {
    const bytesRead = this.#storage.pread(handle, target, 0, target.length, position);
    if (bytesRead !== target.length) {
      throw new StoreError('E_STORE_CORRUPT', `index file ${name} is short at byte ${position}`);
    }
  }

  #openActive(name: string): IndexFileActive {
    const handle = this.#storage.open(this.#filePath(name), false);
    try {
      const buffer = Buffer.alloc(this.#fileSizeBytes);
      this.#readFully(handle, buffer, 0, name);
      const image = new HashIndexImage(buffer, { hashSlotNum: this.#hashSlotNum, indexNum: this.#indexNum });
      return { name, image, handle };
    } catch (error) {
      this.#storage.close(handle);
      throw error;
    }
  }

  #activeOrCreate(): IndexFileActive {
    if (this.#active === null) this.#active = this.#createFile(null);
    return this.#active;
  }

  /** Flushes the full active file, keeps only its header, and starts a file continuing from it. */
  #rollOver(full: IndexFileActive): IndexFileActive {
    assert(full === this.#active);
    const header = full.image.header();
    this.#storage.fdatasync(full.handle);
    this.#storage.close(full.handle);
    this.#older.push({ name: full.name, header });
    this.#active = this.#createFile(header);
    return this.#active;
  }

  /** A new sparse file named by now() (bumped by 1 ms until it sorts after every existing name). */
  #createFile(previous: IndexHeader | null): IndexFileActive {
    const lastName = this.#older[this.#older.length - 1]?.name ?? '';
    let date = this.#now();
    let name = indexFileName(date);
    for (let bumps = 0; name <= lastName || this.#storage.exists(this.#filePath(name)); bumps++) {
      assert(bumps < 1_000_000, 'no free index file name');
      date = new Date(date.getTime() + 1);
      name = indexFileName(date);
    }
    const image = HashIndexImage.allocate({ hashSlotNum: this.#hashSlotNum, indexNum: this.#indexNum });
    if (previous !== null) image.continueFrom(previous.endPhyOffset, previous.endTimestamp);
    image.flushHeader();
    this.#storage.mkdirp(this.#indexDir);
    const handle = this.#storage.open(this.#filePath(name), true);
    try {
      this.#storage.truncate(handle, this.#fileSizeBytes);
      this.#storage.pwritev(handle, [image.buffer.subarray(0, INDEX_HEADER_BYTES)], 0);
    } catch (error) {
      this.#storage.close(handle);
      throw error;
    }
    this.#dirDirty = true;
    return { name, image, handle };
  }

  /** putKey on the image, then writes the three changed regions: entry, slot, header. */
  #putKey(active: IndexFileActive, fullKey: string, message: IndexedMessage): boolean {
    const image = active.image;
    const indexNumber = image.header().indexCount;
    if (!image.putKey(fullKey, message.physicalOffset, message.storeTimestamp)) return false;
    const entryAt = entryPosition(this.#hashSlotNum, indexNumber);
    const slotAt = slotPosition(indexKeyHash(fullKey), this.#hashSlotNum);
    const buffer = image.buffer;
    this.#storage.pwritev(active.handle, [buffer.subarray(entryAt, entryAt + INDEX_ENTRY_BYTES)], entryAt);
    this.#storage.pwritev(active.handle, [buffer.subarray(slotAt, slotAt + INDEX_SLOT_BYTES)], slotAt);
    this.#storage.pwritev(active.handle, [buffer.subarray(0, INDEX_HEADER_BYTES)], 0);
    return true;
  }

  /**
   * HashIndexImage.selectPhysicalOffsets over a file on disk: reads the slot, then each entry of
   * the chain. Same stop rules; never walks more than indexNum entries.
   */
  #selectOnDisk(file: IndexFileOnDisk, fullKey: string, maxNum: number, beginMs: number, endMs: number): number[] {
    const physicalOffsets: number[] = [];
    const header = file.header;
    if (header.indexCount <= 1 || maxNum <= 0) return physicalOffsets;
    const keyHash = indexKeyHash(fullKey);
    const handle = this.#storage.open(this.#filePath(file.name), false);
    try {
      const slot = Buffer.alloc(INDEX_SLOT_BYTES);
      this.#readFully(handle, slot, slotPosition(keyHash, this.#hashSlotNum), file.name);
      const slotValue = slot.readInt32BE(0);
      if (slotValue <= INDEX_INVALID || slotValue > header.indexCount) return physicalOffsets;
      walkIndexChain(header, this.#indexNum, keyHash, slotValue, maxNum, beginMs, endMs, physicalOffsets, (indexNumber, entry) => {
        this.#readFully(handle, entry, entryPosition(this.#hashSlotNum, indexNumber), file.name);
      });
    } finally {
      this.#storage.close(handle);
    }
    return physicalOffsets;
  }
}

/** RocketMQ IndexFile.isTimeMatched: the file's [begin, end] time range overlaps [beginMs, endMs]. */
function isTimeMatched(header: IndexHeader, beginMs: number, endMs: number): boolean {
  if (beginMs < header.beginTimestamp && endMs > header.endTimestamp) return true;
  if (beginMs >= header.beginTimestamp && beginMs <= header.endTimestamp) return true;
  return endMs >= header.beginTimestamp && endMs <= header.endTimestamp;
}
