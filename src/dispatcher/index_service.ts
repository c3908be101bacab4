// The set of `index/<yyyyMMddHHmmssSSS>` hash-index files: RocketMQ's IndexService (reference 2d).
// Builds `topic#uniqKey` and `topic#key` entries per message and answers key lookups newest file first.
//
// Only the last (active) file is held in memory, as a HashIndexImage. buildIndex() changes only
// that image; commit() writes what changed, in crash-safe order: the new entries (one pwritev),
// the dirty 4 KiB slot pages (one pwritev per contiguous run), then the 40-byte header. flush()
// = commit() + fdatasync. A process crash can therefore leave slots pointing at entries past the
// header's indexCount, never at entries that are not on disk; load({ afterCrash: true }) rewinds
// such slots (HashIndexImage.rewind). See "Write order and crash repair" in hash_index.md.
//
// Loading the active file reads only the header, the slot table and the entries in use into a
// zero-filled image (Buffer.alloc pages nobody touches cost no memory), so a default 420 MB file
// costs a 20 MB read when empty. Older files keep only their header in memory and are read in
// ranges on demand (slot, then each entry of the chain via storage.pread).

import path from 'node:path';
import { assert } from '../assert.js';
import { StoreError } from '../errors.js';
import {
  entryPosition,
  HashIndexImage,
  type IndexByteRange,
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
/**
 * The most hash matches one query may return when the caller asks for more: the store checks
 * every match on its record, so colliding keys must not crowd out the real ones.
 */
export const INDEX_QUERY_CANDIDATES_MAX = 4096;
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

export interface IndexLoadOptions {
  /**
   * The previous run ended abnormally: rewind the active file to its header's indexCount, so no
   * slot points at an entry the header does not count (default false).
   */
  afterCrash?: boolean;
}

export interface IndexLoadReport {
  /** Slots of the active file that pointed past its indexCount and were rewound (afterCrash only). */
  slotsRepaired: number;
}

/** Where indexing has got to: the active file's end fields (RocketMQ "index last update"). */
export interface IndexLastUpdate {
  timestamp: number;
  physicalOffset: number;
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

  /**
   * Opens the existing files (17-digit names, sorted); the last one becomes the active file,
   * read cheaply (header, slots, entries in use). With `afterCrash` the active file is rewound
   * to its header's indexCount and the repair made durable before anything else is written.
   */
  load(options: IndexLoadOptions = {}): IndexLoadReport {
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
    if (lastName === undefined) return { slotsRepaired: 0 };
    this.#active = this.#openActive(lastName);
    if (options.afterCrash !== true) return { slotsRepaired: 0 };
    return { slotsRepaired: this.#repairAfterCrash(this.#active) };
  }

  /** endPhyOffset of the active file; 0 when there is none. */
  endPhyOffset(): number {
    return this.#active === null ? 0 : this.#active.image.header().endPhyOffset;
  }

  /** The active file's endTimestamp and endPhyOffset; 0 and 0 when there is no file. */
  lastUpdate(): IndexLastUpdate {
    if (this.#active === null) return { timestamp: 0, physicalOffset: 0 };
    const header = this.#active.image.header();
    return { timestamp: header.endTimestamp, physicalOffset: header.endPhyOffset };
  }

  /**
   * endTimestamp of the newest full (rolled-over, fdatasynced) file; 0 when there is none.
   * This is RocketMQ's checkpoint indexMsgTimestamp.
   */
  fullFileEndTimestamp(): number {
    return this.#older[this.#older.length - 1]?.header.endTimestamp ?? 0;
  }

  /** Number of index files (older and active). */
  fileCount(): number {
    return this.#older.length + (this.#active === null ? 0 : 1);
  }

  /** Names of the index files, oldest first. */
  fileNames(): string[] {
    const names = this.#older.map((file) => file.name);
    if (this.#active !== null) names.push(this.#active.name);
    return names;
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
   * whose store time lies in [beginMs, endMs], newest file first, at most maxNum (RocketMQ
   * caps maxNum at maxMsgsNumBatch, 64, before asking; this method only at
   * INDEX_QUERY_CANDIDATES_MAX, so a caller that checks each match can ask for more).
   */
  queryOffsets(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): IndexQueryResult {
    const countMax = Math.min(maxNum, INDEX_QUERY_CANDIDATES_MAX);
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
   * Removes every entry whose physical offset is ≥ `physicalOffset`, so a re-dispatch from there
   * indexes every later message again, and returns endPhyOffset() (< physicalOffset, or 0).
   * Deletes, newest first, the files whose beginPhyOffset ≥ physicalOffset: those with entries
   * hold only removed ones, and an empty one's begin is inherited from the end of the file before
   * it, which then holds a removed entry and must become the active file. The newest remaining
   * file becomes the active one and is rewound to its first entry at or after physicalOffset.
   * Everything is flushed before returning: a later put overwrites rewound entries, so stale slots
   * on disk must not point at them.
   */
  truncateAfter(physicalOffset: number): number {
    assert(Number.isSafeInteger(physicalOffset) && physicalOffset >= 0, 'bad physicalOffset');
    if (this.#active !== null && this.#active.image.header().beginPhyOffset >= physicalOffset) {
      // Uncommitted puts of a deleted file are dropped with it.
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
    }
    if (this.#active !== null) {
      const image = this.#active.image;
      const indexCount = image.firstEntryAtOrAfter(physicalOffset);
      if (indexCount < image.header().indexCount) image.rewind(indexCount);
    }
    this.flush();
    return this.endPhyOffset();
  }

  /**
   * RocketMQ deleteExpiredFile for the index (reference 2h): deletes index files, oldest first and
   * never the active one, whose endPhyOffset < `minPhysicalOffset` (the CommitLog's min offset);
   * stops at the first file that is kept. Returns the number of files deleted.
   */
  deleteExpiredFiles(minPhysicalOffset: number): number {
    assert(Number.isSafeInteger(minPhysicalOffset) && minPhysicalOffset >= 0, 'bad minPhysicalOffset');
    if (this.#older.length > 0) assert(this.#active !== null, 'older files without an active one');
    let deleted = 0;
    for (let oldest = this.#older[0]; oldest !== undefined; oldest = this.#older[0]) {
      if (oldest.header.endPhyOffset >= minPhysicalOffset) break;
      this.#storage.unlink(this.#filePath(oldest.name));
      this.#older.shift();
      this.#dirDirty = true;
      deleted++;
    }
    this.#syncDir();
    return deleted;
  }

  /**
   * Writes every change of the active image since the last commit, in crash-safe order: (a) the
   * new entries in one pwritev, (b) the dirty slot pages, one pwritev per contiguous run, (c) the
   * 40-byte header. Not durable until flush().
   */
  commit(): void {
    if (this.#active === null) return;
    const image = this.#active.image;
    const handle = this.#active.handle;
    const regions = image.dirtyRegions();
    if (regions.entries !== null) this.#writeRange(handle, image, regions.entries);
    for (const run of regions.slotRuns) this.#writeRange(handle, image, run);
    if (regions.header) this.#writeRange(handle, image, { position: 0, lengthBytes: INDEX_HEADER_BYTES });
    image.markClean();
  }

  /** Makes every put so far durable: commit(), fdatasync of the active file, then of the directory. */
  flush(): void {
    if (this.#active !== null) {
      this.commit();
      this.#storage.fdatasync(this.#active.handle);
    }
    this.#syncDir();
  }

  /**
   * Commits, then hands over what a flush must fsync (the active file, the directory if files
   * were created or deleted); they count as synced from now on. The caller fsyncs them off the
   * thread (DispatcherService) and treats a failure as fatal. Full files were already synced
   * when the active file rolled over.
   */
  takeFlushTargets(): { files: string[]; dirs: string[] } {
    this.commit();
    const files = this.#active === null ? [] : [this.#filePath(this.#active.name)];
    const dirs = this.#dirDirty ? [this.#indexDir] : [];
    this.#dirDirty = false;
    return { files, dirs };
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

  /** Reads header, slot table and entries [0, indexCount) into a zero-filled full-size image. */
  #openActive(name: string): IndexFileActive {
    const handle = this.#storage.open(this.#filePath(name), false);
    try {
      const buffer = Buffer.alloc(this.#fileSizeBytes);
      this.#readFully(handle, buffer.subarray(0, INDEX_HEADER_BYTES), 0, name);
      const indexCount = readIndexHeader(buffer).indexCount;
      if (indexCount > this.#indexNum) {
        const reason = `index file ${name} has indexCount ${indexCount} > indexNum ${this.#indexNum}`;
        throw new StoreError('E_STORE_CORRUPT', reason);
      }
      const usedEnd = entryPosition(this.#hashSlotNum, indexCount);
      this.#readFully(handle, buffer.subarray(INDEX_HEADER_BYTES, usedEnd), INDEX_HEADER_BYTES, name);
      const image = new HashIndexImage(buffer, { hashSlotNum: this.#hashSlotNum, indexNum: this.#indexNum });
      return { name, image, handle };
    } catch (error) {
      this.#storage.close(handle);
      throw error;
    }
  }

  /**
   * After a crash slots may point at entries in [indexCount, slotValueMax]: commit() writes
   * entries before slots, so those entries are on disk. Reads them, rewinds the image to the
   * header's indexCount and makes the repair durable. Returns the number of slots changed.
   */
  #repairAfterCrash(active: IndexFileActive): number {
    const image = active.image;
    const indexCount = image.header().indexCount;
    const entryEnd = Math.min(image.slotValueMax() + 1, this.#indexNum);
    if (entryEnd > indexCount) {
      const from = entryPosition(this.#hashSlotNum, indexCount);
      const to = entryPosition(this.#hashSlotNum, entryEnd);
      this.#readFully(active.handle, image.buffer.subarray(from, to), from, active.name);
    }
    const slotsRepaired = image.rewind(indexCount);
    this.flush();
    return slotsRepaired;
  }

  #writeRange(handle: StorageFile, image: HashIndexImage, range: IndexByteRange): void {
    const end = range.position + range.lengthBytes;
    this.#storage.pwritev(handle, [image.buffer.subarray(range.position, end)], range.position);
  }

  #activeOrCreate(): IndexFileActive {
    if (this.#active === null) this.#active = this.#createFile(null);
    return this.#active;
  }

  /** Flushes the full active file, keeps only its header, and starts a file continuing from it. */
  #rollOver(full: IndexFileActive): IndexFileActive {
    assert(full === this.#active);
    const header = full.image.header();
    this.commit();
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
    image.markClean();
    this.#dirDirty = true;
    return { name, image, handle };
  }

  /** putKey on the image only; commit() writes it. */
  #putKey(active: IndexFileActive, fullKey: string, message: IndexedMessage): boolean {
    return active.image.putKey(fullKey, message.physicalOffset, message.storeTimestamp);
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
