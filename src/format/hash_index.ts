// An index file `index/<yyyyMMddHHmmssSSS>`: RocketMQ's IndexFile, a fixed-size hash table that
// maps "topic#key" to CommitLog physical offsets. Pure codec over a Buffer; no I/O. See ./hash_index.md.
//
//   indexFile := header slot{hashSlotNum} entry{indexNum}
//   header    := beginTimestamp endTimestamp beginPhyOffset endPhyOffset hashSlotCount indexCount
//   slot      := entryNumber (int32, 0 = empty)
//   entry     := keyHash physicalOffset timeDiffSeconds prevIndex      (entry 0 is never used)
//
// Every integer is big-endian. Entries of one slot form a chain, newest first, through prevIndex.

import { assert } from '../assert.js';
import { javaStringHashCode } from './java_hash.js';
import { readInt64, writeInt64 } from './commit_log_record.js';

export const INDEX_HEADER_BYTES = 40;
export const INDEX_SLOT_BYTES = 4;
export const INDEX_ENTRY_BYTES = 20;
export const MAX_HASH_SLOT_NUM_DEFAULT = 5000000;
export const MAX_INDEX_NUM_DEFAULT = 20000000;

export const INDEX_POS_BEGIN_TIMESTAMP = 0;
export const INDEX_POS_END_TIMESTAMP = 8;
export const INDEX_POS_BEGIN_PHY_OFFSET = 16;
export const INDEX_POS_END_PHY_OFFSET = 24;
export const INDEX_POS_HASH_SLOT_COUNT = 32;
export const INDEX_POS_INDEX_COUNT = 36;

/** Field positions inside one 20-byte entry. */
export const ENTRY_POS_KEY_HASH = 0;
export const ENTRY_POS_PHYSICAL_OFFSET = 4;
export const ENTRY_POS_TIME_DIFF = 12;
export const ENTRY_POS_PREV_INDEX = 16;

/** Slot value and prevIndex meaning "no entry"; entry number 0 is never written. */
export const INDEX_INVALID = 0;
export const INDEX_NAME_DIGITS = 17;

const INT32_MAX = 2147483647;

assert(INDEX_POS_INDEX_COUNT + 4 === INDEX_HEADER_BYTES, 'header fields must fill 40 bytes');
assert(ENTRY_POS_PREV_INDEX + 4 === INDEX_ENTRY_BYTES, 'entry fields must fill 20 bytes');

/** Bytes of an index file with `hashSlotNum` slots and `indexNum` entries (default 420000040). */
export function indexFileSizeBytes(
  hashSlotNum: number = MAX_HASH_SLOT_NUM_DEFAULT,
  indexNum: number = MAX_INDEX_NUM_DEFAULT,
): number {
  return INDEX_HEADER_BYTES + hashSlotNum * INDEX_SLOT_BYTES + indexNum * INDEX_ENTRY_BYTES;
}

/**
 * The layout of an index file of `sizeBytes` from a slot count and/or an entry count (the missing
 * one follows from the size, 40 + 4 × slots + 20 × entries), or null when no whole layout fits.
 * Index files do not record their layout: tools take it from the store's configuration.
 */
export function indexLayoutForSize(sizeBytes: number, hashSlotNum: number | undefined, indexNum: number | undefined): HashIndexLayout | null {
  if (hashSlotNum === undefined && indexNum === undefined) return null;
  const freeBytes = sizeBytes - INDEX_HEADER_BYTES;
  const slots = hashSlotNum ?? (freeBytes - indexNum! * INDEX_ENTRY_BYTES) / INDEX_SLOT_BYTES;
  const entries = indexNum ?? (freeBytes - hashSlotNum! * INDEX_SLOT_BYTES) / INDEX_ENTRY_BYTES;
  if (!Number.isSafeInteger(slots) || !Number.isSafeInteger(entries) || slots < 1 || entries < 2) return null;
  return indexFileSizeBytes(slots, entries) === sizeBytes ? { hashSlotNum: slots, indexNum: entries } : null;
}

export interface IndexHeader {
  /** Store time (ms) of the first entry, or inherited from the previous file; 0 when unknown. */
  beginTimestamp: number;
  /** Store time (ms) of the newest entry. */
  endTimestamp: number;
  /** CommitLog physical offset of the first entry's message. */
  beginPhyOffset: number;
  /** CommitLog physical offset of the newest entry's message. */
  endPhyOffset: number;
  /** Number of slots that are not empty. */
  hashSlotCount: number;
  /** Next entry number to write; starts at 1, so entries in use = indexCount − 1. */
  indexCount: number;
}

/** Reads the header at `position`; indexCount ≤ 0 reads as 1, as RocketMQ's IndexHeader.load does. */
export function readIndexHeader(source: Buffer, position = 0): IndexHeader {
  const indexCount = source.readInt32BE(position + INDEX_POS_INDEX_COUNT);
  return {
    beginTimestamp: readInt64(source, position + INDEX_POS_BEGIN_TIMESTAMP),
    endTimestamp: readInt64(source, position + INDEX_POS_END_TIMESTAMP),
    beginPhyOffset: readInt64(source, position + INDEX_POS_BEGIN_PHY_OFFSET),
    endPhyOffset: readInt64(source, position + INDEX_POS_END_PHY_OFFSET),
    hashSlotCount: source.readInt32BE(position + INDEX_POS_HASH_SLOT_COUNT),
    indexCount: indexCount <= 0 ? 1 : indexCount,
  };
}

export function writeIndexHeader(target: Buffer, header: IndexHeader, position = 0): void {
  writeInt64(target, position + INDEX_POS_BEGIN_TIMESTAMP, header.beginTimestamp);
  writeInt64(target, position + INDEX_POS_END_TIMESTAMP, header.endTimestamp);
  writeInt64(target, position + INDEX_POS_BEGIN_PHY_OFFSET, header.beginPhyOffset);
  writeInt64(target, position + INDEX_POS_END_PHY_OFFSET, header.endPhyOffset);
  target.writeInt32BE(header.hashSlotCount, position + INDEX_POS_HASH_SLOT_COUNT);
  target.writeInt32BE(header.indexCount, position + INDEX_POS_INDEX_COUNT);
}

/** abs(Java hashCode); Integer.MIN_VALUE, whose absolute value overflows, becomes 0. */
export function indexKeyHash(key: string): number {
  const hash = javaStringHashCode(key);
  const keyHash = Math.abs(hash) | 0; // |0 turns 2^31 (abs of MIN_VALUE) back into MIN_VALUE
  return keyHash < 0 ? 0 : keyHash;
}

/** The string RocketMQ hashes for a message key: `topic#key`. */
export function indexKey(topic: string, key: string): string {
  return `${topic}#${key}`;
}

/** Byte position of the slot for `keyHash` (keyHash % hashSlotNum). */
export function slotPosition(keyHash: number, hashSlotNum: number): number {
  return INDEX_HEADER_BYTES + (keyHash % hashSlotNum) * INDEX_SLOT_BYTES;
}

/** Byte position of entry number `indexNumber`. */
export function entryPosition(hashSlotNum: number, indexNumber: number): number {
  return INDEX_HEADER_BYTES + hashSlotNum * INDEX_SLOT_BYTES + indexNumber * INDEX_ENTRY_BYTES;
}

/** File name for an index file created at `date`: local time as yyyyMMddHHmmssSSS. */
export function indexFileName(date: Date): string {
  const pad = (value: number, width: number): string => String(value).padStart(width, '0');
  const name =
    pad(date.getFullYear(), 4) +
    pad(date.getMonth() + 1, 2) +
    pad(date.getDate(), 2) +
    pad(date.getHours(), 2) +
    pad(date.getMinutes(), 2) +
    pad(date.getSeconds(), 2) +
    pad(date.getMilliseconds(), 3);
  assert(name.length === INDEX_NAME_DIGITS, `index file name ${name} must have 17 digits`);
  return name;
}

export interface HashIndexLayout {
  hashSlotNum: number;
  indexNum: number;
}

/**
 * RocketMQ's chain walk (IndexFile.selectPhyOffset) from `slotValue`, appending to `out` the
 * physical offsets of entries whose key hash is `keyHash` and whose time lies in
 * [beginMs, endMs], newest first, at most `maxNum`. `readEntry` fills a 20-byte entry (from
 * memory or from a file). RocketMQ relies on prevIndex < current; a damaged chain could cycle,
 * so the walk stops at a prevIndex that is not older (≥ current) and, as a second guard, after
 * `indexNum` steps: it reads at most `slotValue` entries.
 */
export function walkIndexChain(
  header: IndexHeader,
  indexNum: number,
  keyHash: number,
  slotValue: number,
  maxNum: number,
  beginMs: number,
  endMs: number,
  out: number[],
  readEntry: (indexNumber: number, entry: Buffer) => void,
): void {
  const entry = Buffer.alloc(INDEX_ENTRY_BYTES);
  let stepsLeft = indexNum;
  for (let indexNumber = slotValue; stepsLeft > 0; stepsLeft--) {
    if (out.length >= maxNum) break;
    if (indexNumber >= indexNum) break; // only reachable when the header itself is damaged
    if (indexNumber <= INDEX_INVALID) break; // callers check the slot value; the walk does not rely on it
    readEntry(indexNumber, entry);
    const keyHashRead = entry.readInt32BE(ENTRY_POS_KEY_HASH);
    const physicalOffsetRead = readInt64(entry, ENTRY_POS_PHYSICAL_OFFSET);
    const timeDiff = entry.readInt32BE(ENTRY_POS_TIME_DIFF);
    const prevIndexRead = entry.readInt32BE(ENTRY_POS_PREV_INDEX);
    if (timeDiff < 0) break;
    const timeRead = header.beginTimestamp + timeDiff * 1000;
    if (keyHash === keyHashRead && timeRead >= beginMs && timeRead <= endMs) out.push(physicalOffsetRead);
    if (
      prevIndexRead <= INDEX_INVALID ||
      prevIndexRead > header.indexCount ||
      prevIndexRead >= indexNumber ||
      timeRead < beginMs
    ) {
      break;
    }
    indexNumber = prevIndexRead;
  }
}

/** Granularity of slot-table dirty tracking: file pages of 4 KiB (the slot table starts at byte 40). */
export const INDEX_SLOT_PAGE_BYTES = 4096;

/** A byte range of an index file. */
export interface IndexByteRange {
  position: number;
  lengthBytes: number;
}

/**
 * What changed in an image since the last markClean(), in the order a writer must persist it:
 * entries first, then slots, then the header (see "Write order and crash repair" in ./hash_index.md).
 */
export interface IndexDirtyRegions {
  /** Entries [first unwritten, indexCount) as one range; null when there are none. */
  entries: IndexByteRange | null;
  /** Dirty 4 KiB pages of the slot table, coalesced into contiguous runs, ascending. */
  slotRuns: IndexByteRange[];
  /** The 40-byte header changed. */
  header: boolean;
}

/**
 * One index file's bytes (a whole mapped file or an in-memory image). The header is cached and
 * every change is written straight into the buffer, as RocketMQ's IndexHeader setters do. The
 * image also remembers what changed since markClean() (dirtyRegions), so a writer can persist
 * many puts with a few large writes instead of three small ones per put.
 *
 * Entry bytes at or past indexCount carry no meaning: readers never reach them (every valid
 * slot and prevIndex is < indexCount), and the next put overwrites them.
 */
export class HashIndexImage {
  readonly buffer: Buffer;
  readonly hashSlotNum: number;
  readonly indexNum: number;
  readonly #header: IndexHeader;
  /** First entry number not yet reported clean: entries [#entryUnwritten, indexCount) are dirty. */
  #entryUnwritten: number;
  #headerDirty = false;
  /** One byte per file page of the slot table; 1 = dirty. */
  readonly #slotPageDirty: Uint8Array;
  #slotPageDirtyMin = Number.POSITIVE_INFINITY;
  #slotPageDirtyMax = -1;

  constructor(
    buffer: Buffer,
    layout: HashIndexLayout = { hashSlotNum: MAX_HASH_SLOT_NUM_DEFAULT, indexNum: MAX_INDEX_NUM_DEFAULT },
  ) {
    assert(Number.isSafeInteger(layout.hashSlotNum) && layout.hashSlotNum > 0, 'hashSlotNum must be > 0');
    assert(Number.isSafeInteger(layout.indexNum) && layout.indexNum > 1, 'indexNum must be > 1');
    const sizeBytes = indexFileSizeBytes(layout.hashSlotNum, layout.indexNum);
    assert(buffer.length >= sizeBytes, `index buffer is ${buffer.length} bytes, expected ${sizeBytes}`);
    this.buffer = buffer;
    this.hashSlotNum = layout.hashSlotNum;
    this.indexNum = layout.indexNum;
    this.#header = readIndexHeader(buffer);
    this.#entryUnwritten = this.#header.indexCount;
    const slotEnd = entryPosition(layout.hashSlotNum, 0);
    this.#slotPageDirty = new Uint8Array(Math.ceil(slotEnd / INDEX_SLOT_PAGE_BYTES));
  }

  /** A zero-filled image of the given layout. */
  static allocate(layout: HashIndexLayout): HashIndexImage {
    return new HashIndexImage(Buffer.alloc(indexFileSizeBytes(layout.hashSlotNum, layout.indexNum)), layout);
  }

  /** A copy of the cached header (indexCount already reset to 1 if it was ≤ 0). */
  header(): IndexHeader {
    return { ...this.#header };
  }

  /** True when no further key fits: capacity is indexNum − 1 entries. */
  isFull(): boolean {
    return this.#header.indexCount >= this.indexNum;
  }

  /**
   * Starts a new file where the previous, full one ended (RocketMQ getAndCreateLastIndexFile):
   * begin and end physical offsets and timestamps all take the previous file's end values.
   */
  continueFrom(endPhyOffset: number, endTimestamp: number): void {
    this.#setBeginPhyOffset(endPhyOffset);
    this.#setEndPhyOffset(endPhyOffset);
    this.#setBeginTimestamp(endTimestamp);
    this.#setEndTimestamp(endTimestamp);
  }

  /** Writes the whole cached header into the buffer (RocketMQ IndexHeader.updateByteBuffer). */
  flushHeader(): void {
    writeIndexHeader(this.buffer, this.#header);
    this.#headerDirty = true;
  }

  /** Adds `key` → `physicalOffset`; false when the file is full (RocketMQ IndexFile.putKey). */
  putKey(key: string, physicalOffset: number, storeTimestamp: number): boolean {
    const header = this.#header;
    if (header.indexCount >= this.indexNum) return false;
    const keyHash = indexKeyHash(key);
    const slotAt = slotPosition(keyHash, this.hashSlotNum);
    let slotValue = this.buffer.readInt32BE(slotAt);
    if (slotValue <= INDEX_INVALID || slotValue > header.indexCount) slotValue = INDEX_INVALID;

    let timeDiff = Math.trunc((storeTimestamp - header.beginTimestamp) / 1000);
    if (header.beginTimestamp <= 0) timeDiff = 0;
    else if (timeDiff > INT32_MAX) timeDiff = INT32_MAX;
    else if (timeDiff < 0) timeDiff = 0;

    const entryAt = entryPosition(this.hashSlotNum, header.indexCount);
    this.buffer.writeInt32BE(keyHash, entryAt + ENTRY_POS_KEY_HASH);
    writeInt64(this.buffer, entryAt + ENTRY_POS_PHYSICAL_OFFSET, physicalOffset);
    this.buffer.writeInt32BE(timeDiff, entryAt + ENTRY_POS_TIME_DIFF);
    this.buffer.writeInt32BE(slotValue, entryAt + ENTRY_POS_PREV_INDEX);
    this.buffer.writeInt32BE(header.indexCount, slotAt);
    this.#markSlotDirty(slotAt);

    if (header.indexCount <= 1) {
      this.#setBeginPhyOffset(physicalOffset);
      this.#setBeginTimestamp(storeTimestamp);
    }
    if (slotValue === INDEX_INVALID) {
      header.hashSlotCount = (header.hashSlotCount + 1) | 0; // an int32 that wraps, as in Java
      this.buffer.writeInt32BE(header.hashSlotCount, INDEX_POS_HASH_SLOT_COUNT);
    }
    header.indexCount++;
    this.buffer.writeInt32BE(header.indexCount, INDEX_POS_INDEX_COUNT);
    this.#setEndPhyOffset(physicalOffset);
    this.#setEndTimestamp(storeTimestamp);
    return true;
  }

  /**
   * Physical offsets of entries whose key hash equals `key`'s and whose time lies in
   * [beginMs, endMs], newest first, at most `maxNum` (RocketMQ IndexFile.selectPhyOffset).
   * Different keys with the same hash all come back; callers compare the message's keys.
   * Never throws on damaged bytes and never walks more than indexNum entries.
   */
  selectPhysicalOffsets(key: string, maxNum: number, beginMs: number, endMs: number): number[] {
    const physicalOffsets: number[] = [];
    const header = this.#header;
    const keyHash = indexKeyHash(key);
    const slotValue = this.buffer.readInt32BE(slotPosition(keyHash, this.hashSlotNum));
    if (slotValue <= INDEX_INVALID || slotValue > header.indexCount || header.indexCount <= 1) {
      return physicalOffsets;
    }
    const buffer = this.buffer;
    const hashSlotNum = this.hashSlotNum;
    walkIndexChain(header, this.indexNum, keyHash, slotValue, maxNum, beginMs, endMs, physicalOffsets, (indexNumber, entry) => {
      buffer.copy(entry, 0, entryPosition(hashSlotNum, indexNumber), entryPosition(hashSlotNum, indexNumber) + INDEX_ENTRY_BYTES);
    });
    return physicalOffsets;
  }

  /** Number of the first entry whose physical offset is ≥ `physicalOffset`; indexCount if none. */
  firstEntryAtOrAfter(physicalOffset: number): number {
    // Entries are in put order, so physical offsets are non-decreasing (invariant 4).
    let low = 1;
    let high = Math.min(this.#header.indexCount, this.indexNum);
    while (low < high) {
      const middle = low + Math.floor((high - low) / 2);
      if (this.#entryPhysicalOffset(middle) < physicalOffset) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The largest slot value (0 when every slot is empty); after a crash it may be ≥ indexCount. */
  slotValueMax(): number {
    let valueMax = INDEX_INVALID;
    const slotEnd = entryPosition(this.hashSlotNum, 0);
    for (let slotAt = INDEX_HEADER_BYTES; slotAt < slotEnd; slotAt += INDEX_SLOT_BYTES) {
      const value = this.buffer.readInt32BE(slotAt);
      if (value > valueMax) valueMax = value;
    }
    return valueMax;
  }

  /**
   * Makes the image hold exactly entries [1, `indexCount`) and returns the number of slots it
   * changed. Every slot whose value is ≥ `indexCount` is walked down its prevIndex chain to the
   * first entry below `indexCount` (or 0); a negative slot, or a chain that does not strictly
   * decrease or leaves the file, becomes 0. The walk reads the entries it passes, so they must be
   * in the buffer. indexCount is set, hashSlotCount recounted (slots not 0), and the end fields
   * taken from entry `indexCount` − 1 (time = beginTimestamp + timeDiff × 1000, second-accurate)
   * or from the begin fields when no entry is left; when `indexCount` is the current one the
   * header's exact end fields already describe that entry and are kept. Entries from
   * `indexCount` on are zeroed in memory. Everything changed is marked dirty.
   */
  rewind(indexCount: number): number {
    const header = this.#header;
    assert(Number.isSafeInteger(indexCount) && indexCount >= 1, 'rewind: indexCount must be ≥ 1');
    assert(indexCount <= header.indexCount, 'rewind: indexCount must not grow');
    assert(indexCount <= this.indexNum, 'rewind: indexCount must be ≤ indexNum');
    let slotsChanged = 0;
    let slotsUsed = 0;
    let entryEnd = header.indexCount;
    const slotEnd = entryPosition(this.hashSlotNum, 0);
    for (let slotAt = INDEX_HEADER_BYTES; slotAt < slotEnd; slotAt += INDEX_SLOT_BYTES) {
      const value = this.buffer.readInt32BE(slotAt);
      let target = value;
      if (value < INDEX_INVALID) target = INDEX_INVALID;
      else if (value >= indexCount) {
        entryEnd = Math.max(entryEnd, value + 1);
        target = this.#chainBelow(value, indexCount);
      }
      if (target !== value) {
        this.buffer.writeInt32BE(target, slotAt);
        this.#markSlotDirty(slotAt);
        slotsChanged++;
      }
      if (target !== INDEX_INVALID) slotsUsed++;
    }
    if (indexCount < header.indexCount) this.#rewindEndFields(indexCount);
    header.indexCount = indexCount;
    this.buffer.writeInt32BE(indexCount, INDEX_POS_INDEX_COUNT);
    header.hashSlotCount = slotsUsed;
    this.buffer.writeInt32BE(slotsUsed, INDEX_POS_HASH_SLOT_COUNT);
    const zeroEnd = Math.min(entryEnd, this.indexNum);
    if (zeroEnd > indexCount) {
      this.buffer.fill(0, entryPosition(this.hashSlotNum, indexCount), entryPosition(this.hashSlotNum, zeroEnd));
    }
    this.#entryUnwritten = Math.min(this.#entryUnwritten, indexCount);
    this.#headerDirty = true;
    return slotsChanged;
  }

  /** What changed since the last markClean(); see IndexDirtyRegions. */
  dirtyRegions(): IndexDirtyRegions {
    const entryEnd = Math.min(this.#header.indexCount, this.indexNum);
    const entries =
      this.#entryUnwritten < entryEnd
        ? {
            position: entryPosition(this.hashSlotNum, this.#entryUnwritten),
            lengthBytes: (entryEnd - this.#entryUnwritten) * INDEX_ENTRY_BYTES,
          }
        : null;
    const slotRuns: IndexByteRange[] = [];
    const slotEnd = entryPosition(this.hashSlotNum, 0);
    for (let page = this.#slotPageDirtyMin; page <= this.#slotPageDirtyMax; page++) {
      if (this.#slotPageDirty[page] !== 1) continue;
      let pageLast = page;
      while (this.#slotPageDirty[pageLast + 1] === 1) pageLast++;
      const position = Math.max(page * INDEX_SLOT_PAGE_BYTES, INDEX_HEADER_BYTES);
      const end = Math.min((pageLast + 1) * INDEX_SLOT_PAGE_BYTES, slotEnd);
      slotRuns.push({ position, lengthBytes: end - position });
      page = pageLast;
    }
    return { entries, slotRuns, header: this.#headerDirty };
  }

  /** Forgets the dirty state: everything dirtyRegions() reported is now on disk. */
  markClean(): void {
    this.#entryUnwritten = this.#header.indexCount;
    this.#headerDirty = false;
    if (this.#slotPageDirtyMax >= 0) {
      this.#slotPageDirty.fill(0, this.#slotPageDirtyMin, this.#slotPageDirtyMax + 1);
    }
    this.#slotPageDirtyMin = Number.POSITIVE_INFINITY;
    this.#slotPageDirtyMax = -1;
  }

  #markSlotDirty(slotAt: number): void {
    const page = Math.floor(slotAt / INDEX_SLOT_PAGE_BYTES);
    assert(page < this.#slotPageDirty.length, 'slot position outside the slot table');
    this.#slotPageDirty[page] = 1;
    if (page < this.#slotPageDirtyMin) this.#slotPageDirtyMin = page;
    if (page > this.#slotPageDirtyMax) this.#slotPageDirtyMax = page;
  }

  #entryPhysicalOffset(indexNumber: number): number {
    return readInt64(this.buffer, entryPosition(this.hashSlotNum, indexNumber) + ENTRY_POS_PHYSICAL_OFFSET);
  }

  /** The first entry of `slotValue`'s chain below `indexCount`, or 0 when the chain is damaged. */
  #chainBelow(slotValue: number, indexCount: number): number {
    let indexNumber = slotValue;
    for (let steps = 0; indexNumber >= indexCount; steps++) {
      if (steps >= this.indexNum || indexNumber >= this.indexNum) return INDEX_INVALID;
      const entryAt = entryPosition(this.hashSlotNum, indexNumber);
      const prevIndex = this.buffer.readInt32BE(entryAt + ENTRY_POS_PREV_INDEX);
      if (prevIndex < INDEX_INVALID || prevIndex >= indexNumber) return INDEX_INVALID;
      indexNumber = prevIndex;
    }
    return indexNumber;
  }

  /** End fields of entry `indexCount` − 1, or the begin fields when no entry is left. */
  #rewindEndFields(indexCount: number): void {
    const header = this.#header;
    if (indexCount <= 1) {
      this.#setEndPhyOffset(header.beginPhyOffset);
      this.#setEndTimestamp(header.beginTimestamp);
      return;
    }
    const lastAt = entryPosition(this.hashSlotNum, indexCount - 1);
    this.#setEndPhyOffset(readInt64(this.buffer, lastAt + ENTRY_POS_PHYSICAL_OFFSET));
    this.#setEndTimestamp(header.beginTimestamp + this.buffer.readInt32BE(lastAt + ENTRY_POS_TIME_DIFF) * 1000);
  }

  #setBeginTimestamp(value: number): void {
    this.#headerDirty = true;
    this.#header.beginTimestamp = value;
    writeInt64(this.buffer, INDEX_POS_BEGIN_TIMESTAMP, value);
  }

  #setEndTimestamp(value: number): void {
    this.#headerDirty = true;
    this.#header.endTimestamp = value;
    writeInt64(this.buffer, INDEX_POS_END_TIMESTAMP, value);
  }

  #setBeginPhyOffset(value: number): void {
    this.#headerDirty = true;
    this.#header.beginPhyOffset = value;
    writeInt64(this.buffer, INDEX_POS_BEGIN_PHY_OFFSET, value);
  }

  #setEndPhyOffset(value: number): void {
    this.#headerDirty = true;
    this.#header.endPhyOffset = value;
    writeInt64(this.buffer, INDEX_POS_END_PHY_OFFSET, value);
  }
}
