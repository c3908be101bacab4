// `mqstore dump index <indexFile> [--key K --topic T] [--slots N --entries N]`: the 40-byte
// header and every entry 1 … indexCount − 1 of one index file (src/format/hash_index.md), one
// line per entry. With --key and --topic only the chain of `T#K` is shown: its slot, then the
// entries reached through prevIndex (RocketMQ's walk, walkIndexChain) and the physical offsets
// whose key hash matches. The layout comes from the defaults (maxHashSlotNum 5000000,
// maxIndexNum 20000000) or --slots/--entries, and must account for the file size exactly.
// The file is read with positioned reads (a default file is 420 MB); no store is opened.

import fs from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { StoreError } from '../../errors.js';
import { readInt64 } from '../../format/commit_log_record.js';
import {
  ENTRY_POS_KEY_HASH,
  ENTRY_POS_PHYSICAL_OFFSET,
  ENTRY_POS_PREV_INDEX,
  ENTRY_POS_TIME_DIFF,
  entryPosition,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEX_INVALID,
  INDEX_POS_INDEX_COUNT,
  INDEX_SLOT_BYTES,
  indexFileSizeBytes,
  indexKey,
  indexLayoutForSize,
  indexKeyHash,
  MAX_HASH_SLOT_NUM_DEFAULT,
  MAX_INDEX_NUM_DEFAULT,
  readIndexHeader,
  slotPosition,
  walkIndexChain,
  type HashIndexLayout,
  type IndexHeader,
} from '../../format/hash_index.js';

export interface DumpIndexOptions {
  /** With `topic`: show only the chain of `topic#key`. */
  key?: string;
  topic?: string;
  /** hashSlotNum (maxHashSlotNum) of the file; default 5000000. */
  slots?: number;
  /** indexNum (maxIndexNum) of the file; default 20000000. */
  entries?: number;
}

interface IndexEntry {
  keyHash: number;
  physicalOffset: number;
  timeDiff: number;
  prevIndex: number;
}

/** Entries read per pread: 4 MiB worth. */
const READ_ENTRIES = 209715;

export function registerDumpIndex(dump: Command): void {
  dump
    .command('index')
    .description('the header and every entry of an index file, or with --key/--topic the chain of one key')
    .argument('<indexFile>', 'an index file (index/<yyyyMMddHHmmssSSS>)')
    .option('--key <key>', 'with --topic: show only the chain of topic#key and its matching physical offsets')
    .option('--topic <topic>', 'the topic of --key')
    .option('--slots <count>', `hash slots of the file (maxHashSlotNum; default ${MAX_HASH_SLOT_NUM_DEFAULT})`, parseCount)
    .option('--entries <count>', `entries of the file (maxIndexNum; default ${MAX_INDEX_NUM_DEFAULT})`, parseCount)
    .action(function (this: Command, file: string, options: DumpIndexOptions) {
      if ((options.key === undefined) !== (options.topic === undefined)) {
        this.error('error: --key and --topic go together', { exitCode: 2, code: 'mqstore.usage' });
      }
      const problems = dumpIndex(file, options, (line) => process.stdout.write(`${line}\n`));
      if (problems > 0) process.exitCode = 1;
    });
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1) {
    throw new InvalidArgumentError(`a count must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Writes the dump through `print`; returns the number of problems found (0 with --key). */
export function dumpIndex(file: string, options: DumpIndexOptions, print: (line: string) => void): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    throw new StoreError('E_INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const sizeBytes = fs.fstatSync(fd).size;
    const layout = layoutOf(file, sizeBytes, options);
    const headerBytes = readExactly(fd, INDEX_HEADER_BYTES, 0);
    const header = readIndexHeader(headerBytes);
    print(`file: ${file} sizeBytes: ${sizeBytes} hashSlotNum: ${layout.hashSlotNum} indexNum: ${layout.indexNum}`);
    print(
      `beginTimestamp: ${header.beginTimestamp} endTimestamp: ${header.endTimestamp} ` +
        `beginPhyOffset: ${header.beginPhyOffset} endPhyOffset: ${header.endPhyOffset} ` +
        `hashSlotCount: ${header.hashSlotCount} indexCount: ${headerBytes.readInt32BE(INDEX_POS_INDEX_COUNT)}`,
    );
    if (options.key !== undefined && options.topic !== undefined) {
      dumpKeyChain(fd, layout, header, indexKey(options.topic, options.key), print);
      return 0;
    }
    return dumpEntries(fd, layout, header, print);
  } finally {
    fs.closeSync(fd);
  }
}

/** The layout from the options (defaults for what is not given); it must match the file size. */
function layoutOf(file: string, sizeBytes: number, options: DumpIndexOptions): HashIndexLayout {
  const given = options.slots !== undefined || options.entries !== undefined;
  const layout = given
    ? indexLayoutForSize(sizeBytes, options.slots, options.entries)
    : indexLayoutForSize(sizeBytes, MAX_HASH_SLOT_NUM_DEFAULT, MAX_INDEX_NUM_DEFAULT);
  if (layout === null) {
    const which = given ? `--slots ${options.slots ?? '?'} --entries ${options.entries ?? '?'}` : 'the default layout';
    const slots = given ? options.slots : MAX_HASH_SLOT_NUM_DEFAULT;
    const entries = given ? options.entries : MAX_INDEX_NUM_DEFAULT;
    const needs = slots !== undefined && entries !== undefined ? `${indexFileSizeBytes(slots, entries)} bytes` : 'a whole layout';
    throw new StoreError(
      'E_INVALID_ARGUMENT',
      `${file} is ${sizeBytes} bytes, but ${which} needs 40 + 4 × slots + 20 × entries = ${needs}; ` +
        "give the store's maxHashSlotNum and maxIndexNum as --slots and --entries",
    );
  }
  return layout;
}

function readExactly(fd: number, lengthBytes: number, position: number): Buffer {
  const buffer = Buffer.alloc(lengthBytes);
  const readBytes = fs.readSync(fd, buffer, 0, lengthBytes, position);
  if (readBytes !== lengthBytes) {
    throw new StoreError('E_STORE_CORRUPT', `short read: ${readBytes} of ${lengthBytes} bytes at ${position}`);
  }
  return buffer;
}

function decodeEntry(source: Buffer, position: number): IndexEntry {
  return {
    keyHash: source.readInt32BE(position + ENTRY_POS_KEY_HASH),
    physicalOffset: readInt64(source, position + ENTRY_POS_PHYSICAL_OFFSET),
    timeDiff: source.readInt32BE(position + ENTRY_POS_TIME_DIFF),
    prevIndex: source.readInt32BE(position + ENTRY_POS_PREV_INDEX),
  };
}

function describeEntry(indexNumber: number, entry: IndexEntry): string {
  return (
    `index: ${indexNumber} keyHash: ${entry.keyHash} physicalOffset: ${entry.physicalOffset} ` +
    `timeDiff: ${entry.timeDiff} prevIndex: ${entry.prevIndex}`
  );
}

/** Why an entry breaks an invariant of hash_index.md, or null. */
function entryInvalidReason(indexNumber: number, entry: IndexEntry, physicalOffsetBefore: number): string | null {
  if (entry.keyHash < 0) return `keyHash ${entry.keyHash} < 0`;
  if (!Number.isSafeInteger(entry.physicalOffset) || entry.physicalOffset < 0) return `physicalOffset ${entry.physicalOffset} is not ≥ 0 and safe`;
  if (entry.physicalOffset < physicalOffsetBefore) return `physicalOffset ${entry.physicalOffset} is below the previous entry's ${physicalOffsetBefore}`;
  if (entry.timeDiff < 0) return `timeDiff ${entry.timeDiff} < 0`;
  if (entry.prevIndex < INDEX_INVALID || entry.prevIndex >= indexNumber) return `prevIndex ${entry.prevIndex} is not in [0, ${indexNumber})`;
  return null;
}

/** Every entry 1 … indexCount − 1, then a summary; returns the number of problems. */
function dumpEntries(fd: number, layout: HashIndexLayout, header: IndexHeader, print: (line: string) => void): number {
  let problems = 0;
  let entryEnd = header.indexCount;
  if (entryEnd > layout.indexNum) {
    problems++;
    print(`INVALID header: indexCount ${entryEnd} > indexNum ${layout.indexNum}; entries past ${layout.indexNum - 1} are not in the file`);
    entryEnd = layout.indexNum;
  }
  const buffer = Buffer.allocUnsafe(READ_ENTRIES * INDEX_ENTRY_BYTES);
  let entries = 0;
  let physicalOffsetBefore = 0;
  for (let first = 1; first < entryEnd; first += READ_ENTRIES) {
    const count = Math.min(READ_ENTRIES, entryEnd - first);
    const lengthBytes = count * INDEX_ENTRY_BYTES;
    const position = entryPosition(layout.hashSlotNum, first);
    if (fs.readSync(fd, buffer, 0, lengthBytes, position) !== lengthBytes) {
      throw new StoreError('E_STORE_CORRUPT', `short read of entries ${first}…${first + count - 1}`);
    }
    for (let i = 0; i < count; i++) {
      const indexNumber = first + i;
      const entry = decodeEntry(buffer, i * INDEX_ENTRY_BYTES);
      entries++;
      const reason = entryInvalidReason(indexNumber, entry, physicalOffsetBefore);
      if (reason !== null) {
        problems++;
        print(`INVALID ${describeEntry(indexNumber, entry)} position: ${position + i * INDEX_ENTRY_BYTES}: ${reason}`);
      } else {
        physicalOffsetBefore = entry.physicalOffset;
        print(describeEntry(indexNumber, entry));
      }
    }
  }
  print(`entries ${entries}, slotsUsed ${countSlotsUsed(fd, layout)}, invalid ${problems}`);
  return problems;
}

/** Slots that are not empty, counted from the slot table (the header's hashSlotCount is statistics). */
function countSlotsUsed(fd: number, layout: HashIndexLayout): number {
  const buffer = Buffer.allocUnsafe(READ_ENTRIES * INDEX_ENTRY_BYTES);
  const slotsPerRead = buffer.length / INDEX_SLOT_BYTES;
  let used = 0;
  for (let first = 0; first < layout.hashSlotNum; first += slotsPerRead) {
    const count = Math.min(slotsPerRead, layout.hashSlotNum - first);
    const readBytes = fs.readSync(fd, buffer, 0, count * INDEX_SLOT_BYTES, INDEX_HEADER_BYTES + first * INDEX_SLOT_BYTES);
    for (let at = 0; at + INDEX_SLOT_BYTES <= readBytes; at += INDEX_SLOT_BYTES) {
      if (buffer.readInt32BE(at) !== INDEX_INVALID) used++;
    }
  }
  return used;
}

/** The chain of `fullKey`: its slot, each entry walked, and the matching physical offsets. */
function dumpKeyChain(fd: number, layout: HashIndexLayout, header: IndexHeader, fullKey: string, print: (line: string) => void): void {
  const keyHash = indexKeyHash(fullKey);
  const slotAt = slotPosition(keyHash, layout.hashSlotNum);
  const slotValue = readExactly(fd, INDEX_SLOT_BYTES, slotAt).readInt32BE(0);
  print(
    `key: ${JSON.stringify(fullKey)} keyHash: ${keyHash} slot: ${keyHash % layout.hashSlotNum} ` +
      `position: ${slotAt} slotValue: ${slotValue}`,
  );
  const physicalOffsets: number[] = [];
  // The same pre-check as HashIndexImage.selectPhysicalOffsets (RocketMQ selectPhyOffset).
  if (slotValue > INDEX_INVALID && slotValue <= header.indexCount && header.indexCount > 1) {
    const visited: Array<{ indexNumber: number; entry: IndexEntry }> = [];
    walkIndexChain(
      header,
      layout.indexNum,
      keyHash,
      slotValue,
      layout.indexNum,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      physicalOffsets,
      (indexNumber, entry) => {
        readExactly(fd, INDEX_ENTRY_BYTES, entryPosition(layout.hashSlotNum, indexNumber)).copy(entry);
        visited.push({ indexNumber, entry: decodeEntry(entry, 0) });
      },
    );
    for (const { indexNumber, entry } of visited) {
      print(`${describeEntry(indexNumber, entry)} match: ${entry.keyHash === keyHash && entry.timeDiff >= 0 ? 'yes' : 'no'}`);
    }
  }
  print(`matches ${physicalOffsets.length}: ${physicalOffsets.join(' ')}`.trimEnd());
}
