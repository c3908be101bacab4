// Goal: the index-file codec hashes, stores and finds keys exactly as RocketMQ's IndexFile does.
// Method: reference vectors, small in-memory images, the .md worked example, and mutated bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  ENTRY_POS_KEY_HASH,
  ENTRY_POS_PHYSICAL_OFFSET,
  ENTRY_POS_PREV_INDEX,
  ENTRY_POS_TIME_DIFF,
  entryPosition,
  HashIndexImage,
  INDEX_POS_BEGIN_PHY_OFFSET,
  INDEX_POS_BEGIN_TIMESTAMP,
  INDEX_POS_END_PHY_OFFSET,
  INDEX_POS_END_TIMESTAMP,
  INDEX_POS_HASH_SLOT_COUNT,
  INDEX_POS_INDEX_COUNT,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEX_SLOT_BYTES,
  INDEX_SLOT_PAGE_BYTES,
  indexFileName,
  indexFileSizeBytes,
  indexKey,
  indexKeyHash,
  MAX_HASH_SLOT_NUM_DEFAULT,
  MAX_INDEX_NUM_DEFAULT,
  readIndexHeader,
  slotPosition,
  writeIndexHeader,
  type IndexHeader,
} from '../../../src/format/hash_index.js';
import { javaStringHashCode } from '../../../src/format/java_hash.js';
import { docSection, hexDumps, readFormatDoc } from '../../support/format_doc.js';
import { Prng } from '../../support/prng.js';

const ALL_TIME = [0, Number.MAX_SAFE_INTEGER] as const;
const T0 = 1700000000123;

test('reference vector: FooBar#Hello hashes to slot 1609924 of 5,000,000', () => {
  const key = indexKey('FooBar', 'Hello');
  assert.equal(key, 'FooBar#Hello');
  assert.equal(javaStringHashCode(key), -101609924);
  assert.equal(indexKeyHash(key), 101609924);
  assert.equal(slotPosition(indexKeyHash(key), MAX_HASH_SLOT_NUM_DEFAULT), INDEX_HEADER_BYTES + 1609924 * 4);
});

test('key hash of a string whose hashCode is Integer.MIN_VALUE is 0', () => {
  // "polygenelubricants" is the classic Java string with hashCode Integer.MIN_VALUE.
  assert.equal(javaStringHashCode('polygenelubricants'), -2147483648);
  assert.equal(indexKeyHash('polygenelubricants'), 0);
});

test('default file size is 420000040 bytes and positions follow the layout', () => {
  assert.equal(INDEX_HEADER_BYTES + INDEX_SLOT_BYTES + INDEX_ENTRY_BYTES, 64);
  assert.equal(indexFileSizeBytes(), 420000040);
  assert.equal(indexFileSizeBytes(MAX_HASH_SLOT_NUM_DEFAULT, MAX_INDEX_NUM_DEFAULT), 420000040);
  assert.equal(indexFileSizeBytes(8, 4), 152);
  assert.equal(entryPosition(8, 1), 92);
  assert.equal(slotPosition(13, 8), 40 + 5 * 4);
});

test('index file name is 17-digit local time yyyyMMddHHmmssSSS', () => {
  assert.equal(indexFileName(new Date(2024, 0, 2, 3, 4, 5, 6)), '20240102030405006');
  assert.equal(indexFileName(new Date(1999, 11, 31, 23, 59, 59, 999)), '19991231235959999');
});

test('header round trips at RocketMQ positions', () => {
  const header: IndexHeader = {
    beginTimestamp: T0,
    endTimestamp: T0 + 5000,
    beginPhyOffset: 1073741824,
    endPhyOffset: 2 ** 40 + 7,
    hashSlotCount: 17,
    indexCount: 42,
  };
  const bytes = Buffer.alloc(INDEX_HEADER_BYTES);
  writeIndexHeader(bytes, header);
  assert.deepEqual(readIndexHeader(bytes), header);
  assert.equal(bytes.readInt32BE(32), 17);
  assert.equal(bytes.readInt32BE(36), 42);
  assert.equal(bytes.readUInt32BE(20), 0x40000000);
});

test('header with indexCount zero or negative reads as indexCount 1', () => {
  const bytes = Buffer.alloc(INDEX_HEADER_BYTES);
  assert.equal(readIndexHeader(bytes).indexCount, 1);
  bytes.writeInt32BE(-5, 36);
  assert.equal(readIndexHeader(bytes).indexCount, 1);
});

test('first put sets begin fields, later puts only move end fields', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 16, indexNum: 8 });
  assert.ok(image.putKey('t#a', 100, T0));
  assert.ok(image.putKey('t#b', 200, T0 + 3999));
  const header = readIndexHeader(image.buffer);
  assert.deepEqual(header, image.header());
  assert.equal(header.beginPhyOffset, 100);
  assert.equal(header.beginTimestamp, T0);
  assert.equal(header.endPhyOffset, 200);
  assert.equal(header.endTimestamp, T0 + 3999);
  assert.equal(header.indexCount, 3);
  // timeDiff is whole seconds since beginTimestamp, truncated.
  assert.equal(image.buffer.readInt32BE(entryPosition(16, 2) + 12), 3);
});

test('capacity is indexNum - 1: with 400 entries 399 puts succeed and the 400th fails', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 100, indexNum: 400 });
  for (let i = 0; i < 399; i++) assert.equal(image.putKey(`t#k${i}`, i * 100, T0 + i), true, `put ${i}`);
  assert.equal(image.isFull(), true);
  assert.equal(image.putKey('t#last', 39900, T0 + 399), false);
  assert.equal(image.header().indexCount, 400);
  assert.equal(image.selectPhysicalOffsets('t#k398', 4, ...ALL_TIME)[0], 39800);
});

test('chain lookup finds every offset for one key, newest first', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 4, indexNum: 32 });
  for (let i = 0; i < 10; i++) {
    image.putKey('t#same', 1000 + i, T0 + i * 1000);
    image.putKey(`t#other${i}`, 5000 + i, T0 + i * 1000);
  }
  assert.deepEqual(
    image.selectPhysicalOffsets('t#same', 64, ...ALL_TIME),
    [1009, 1008, 1007, 1006, 1005, 1004, 1003, 1002, 1001, 1000],
  );
  assert.deepEqual(image.selectPhysicalOffsets('t#missing-key-xyz', 64, ...ALL_TIME).length, 0);
});

test('chain lookup stops at maxNum', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 4, indexNum: 32 });
  for (let i = 0; i < 10; i++) image.putKey('t#same', i, T0 + i * 1000);
  assert.deepEqual(image.selectPhysicalOffsets('t#same', 3, ...ALL_TIME), [9, 8, 7]);
});

test('chain lookup respects the time window and stops once older than begin', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 4, indexNum: 32 });
  for (let i = 0; i < 10; i++) image.putKey('t#same', i, T0 + i * 1000);
  // Entry times are beginTimestamp + whole seconds: T0 + i*1000.
  assert.deepEqual(image.selectPhysicalOffsets('t#same', 64, T0 + 3000, T0 + 6000), [6, 5, 4, 3]);
  assert.deepEqual(image.selectPhysicalOffsets('t#same', 64, T0 + 20000, T0 + 30000), []);
});

test('colliding keys Aa and BB both come back from the hash lookup; the caller filters', () => {
  assert.equal(indexKeyHash('Aa'), indexKeyHash('BB'));
  const image = HashIndexImage.allocate({ hashSlotNum: 8, indexNum: 8 });
  image.putKey('Aa', 0, T0);
  image.putKey('BB', 158, T0 + 1000);
  assert.deepEqual(image.selectPhysicalOffsets('Aa', 64, ...ALL_TIME), [158, 0]);
  assert.deepEqual(image.selectPhysicalOffsets('BB', 64, ...ALL_TIME), [158, 0]);
  assert.equal(image.header().hashSlotCount, 1);
});

test('an image reopened over the same bytes continues the chain', () => {
  const first = HashIndexImage.allocate({ hashSlotNum: 8, indexNum: 8 });
  first.putKey('t#k', 1, T0);
  const again = new HashIndexImage(first.buffer, { hashSlotNum: 8, indexNum: 8 });
  again.putKey('t#k', 2, T0 + 1000);
  assert.deepEqual(again.selectPhysicalOffsets('t#k', 64, ...ALL_TIME), [2, 1]);
});

/** Rows `| offset | size | type | endianness | \`field\` | … |` of every byte table in the doc. */
function docTableRows(md: string): Map<string, { offset: number; size: number; endianness: string }> {
  const rows = new Map<string, { offset: number; size: number; endianness: string }>();
  for (const line of md.split('\n')) {
    const match = /^\| (\d+) \| (\d+) \| \w+ \| ([^|]+) \| `(\w+)` \|/.exec(line);
    if (match === null) continue;
    rows.set(match[4]!, { offset: Number(match[1]), size: Number(match[2]), endianness: match[3]!.trim() });
  }
  return rows;
}

test('byte tables in hash_index.md match the exported positions', () => {
  const md = fs.readFileSync(new URL('../../../../src/format/hash_index.md', import.meta.url), 'utf8');
  const rows = docTableRows(md);
  const expected: Array<[string, number, number]> = [
    ['beginTimestamp', INDEX_POS_BEGIN_TIMESTAMP, 8],
    ['endTimestamp', INDEX_POS_END_TIMESTAMP, 8],
    ['beginPhyOffset', INDEX_POS_BEGIN_PHY_OFFSET, 8],
    ['endPhyOffset', INDEX_POS_END_PHY_OFFSET, 8],
    ['hashSlotCount', INDEX_POS_HASH_SLOT_COUNT, 4],
    ['indexCount', INDEX_POS_INDEX_COUNT, 4],
    ['entryNumber', 0, INDEX_SLOT_BYTES],
    ['keyHash', ENTRY_POS_KEY_HASH, 4],
    ['physicalOffset', ENTRY_POS_PHYSICAL_OFFSET, 8],
    ['timeDiff', ENTRY_POS_TIME_DIFF, 4],
    ['prevIndex', ENTRY_POS_PREV_INDEX, 4],
  ];
  assert.equal(rows.size, expected.length);
  for (const [field, offset, size] of expected) {
    assert.deepEqual(rows.get(field), { offset, size, endianness: 'big-endian' }, field);
  }
});

test('worked example hex dump in hash_index.md equals the codec bytes', () => {
  const dumps = hexDumps(docSection(readFormatDoc('hash_index.md'), '## Worked example'));
  const dumpBytes = dumps.flatMap((dump) => [...dump]);
  const image = HashIndexImage.allocate({ hashSlotNum: 8, indexNum: 4 });
  assert.ok(image.putKey(indexKey('FooBar', 'Aa'), 0, 1700000000123));
  assert.ok(image.putKey(indexKey('FooBar', 'BB'), 158, 1700000002456));
  assert.equal(dumpBytes.length, 152);
  assert.deepEqual(Buffer.from(dumpBytes), image.buffer);
  assert.deepEqual(image.selectPhysicalOffsets('FooBar#Aa', 64, ...ALL_TIME), [158, 0]);
});

/** Seeded floats in [0, 1) so failures reproduce. */
function prng(seed: number): () => number {
  const source = new Prng(seed);
  return () => source.nextFloat();
}

test('random and mutated slot and entry bytes never make lookup throw or loop', () => {
  const layout = { hashSlotNum: 8, indexNum: 16 };
  const random = prng(20240601);
  const keys = ['Aa', 'BB', 't#x', 't#y', 'FooBar#Hello'];
  for (let round = 0; round < 2000; round++) {
    const image = HashIndexImage.allocate(layout);
    const puts = Math.floor(random() * 15);
    for (let i = 0; i < puts; i++) image.putKey(keys[i % keys.length]!, i * 10, T0 + i * 1000);
    const bytes = image.buffer;
    if (round % 4 === 0) {
      // Fully random slots and entries; a plausible header with a random indexCount.
      for (let p = INDEX_HEADER_BYTES; p < bytes.length; p++) bytes[p] = Math.floor(random() * 256);
      bytes.writeInt32BE(Math.floor(random() * 40) - 5, 36);
    } else {
      // A few flipped bytes anywhere, header included.
      const flips = 1 + Math.floor(random() * 6);
      for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      // Sometimes force a prevIndex cycle between entries 1 and 2.
      if (round % 3 === 0) {
        bytes.writeInt32BE(2, entryPosition(8, 1) + 16);
        bytes.writeInt32BE(1, entryPosition(8, 2) + 16);
      }
    }
    const reopened = new HashIndexImage(bytes, layout);
    for (const key of keys) {
      const found = reopened.selectPhysicalOffsets(key, 1000, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      assert.ok(found.length <= layout.indexNum, `round ${round}: ${found.length} results`);
    }
    // Puts on damaged bytes must not write outside the buffer either.
    reopened.putKey('t#after', 1, T0);
  }
});

test('a file continued from a full one has its begin fields overwritten by the first put', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 8, indexNum: 8 });
  assert.deepEqual(image.selectPhysicalOffsets('t#k', 64, ...ALL_TIME), []);
  image.continueFrom(4096, T0);
  assert.ok(image.putKey('t#k', 5000, T0 + 7500));
  const header = image.header();
  // indexCount was 1, so the first put still overwrites the begin fields, as RocketMQ does.
  assert.equal(header.beginPhyOffset, 5000);
  assert.equal(header.beginTimestamp, T0 + 7500);
  assert.equal(image.buffer.readInt32BE(entryPosition(8, 1) + ENTRY_POS_TIME_DIFF), 7);
  // RocketMQ quirk kept on purpose: timeDiff was taken against the inherited begin (T0) but is
  // read against the new one, so this entry reads as T0 + 7500 + 7000.
  assert.deepEqual(image.selectPhysicalOffsets('t#k', 64, T0 + 7000, T0 + 8000), []);
  assert.deepEqual(image.selectPhysicalOffsets('t#k', 64, T0 + 14500, T0 + 14500), [5000]);
});

/** `count` seeded puts of keys from a small pool (so chains share slots), offsets 100 apart. */
function seededPuts(image: HashIndexImage, seed: number, count: number): void {
  const random = new Prng(seed);
  for (let i = 0; i < count; i++) image.putKey(`t#k${random.below(30)}`, i * 100, T0 + i * 1500);
}

test('rewind(k) leaves exactly the image of the first k - 1 puts, end time to the second', () => {
  const layout = { hashSlotNum: 16, indexNum: 64 };
  for (const k of [1, 2, 17, 40, 63]) {
    const image = HashIndexImage.allocate(layout);
    seededPuts(image, 99, 62);
    const slotsBefore = image.buffer.subarray(INDEX_HEADER_BYTES, entryPosition(16, 0)).toString('hex');
    const changed = image.rewind(k);
    const reference = HashIndexImage.allocate(layout);
    seededPuts(reference, 99, k - 1);
    const header = image.header();
    const expected = reference.header();
    assert.equal(header.indexCount, k);
    assert.equal(header.hashSlotCount, expected.hashSlotCount, `k=${k}`);
    assert.equal(header.beginPhyOffset, k === 1 ? 0 : expected.beginPhyOffset);
    assert.equal(header.endPhyOffset, k === 1 ? 0 : expected.endPhyOffset);
    // timeDiff keeps whole seconds: T0 + (k - 2) × 1500 ms reads back truncated to the second,
    // except at k = indexCount (63), where the header's exact end fields already describe entry k - 1.
    const endMs = (k - 2) * 1500;
    if (k > 1) assert.equal(header.endTimestamp, T0 + (k === 63 ? endMs : Math.trunc(endMs / 1000) * 1000));
    assert.deepEqual(readIndexHeader(image.buffer), header);
    // Slots, entries [0, k) and the zeroed entries from k on equal the reference bytes.
    const bodyBytes = image.buffer.subarray(INDEX_HEADER_BYTES);
    assert.ok(bodyBytes.equals(reference.buffer.subarray(INDEX_HEADER_BYTES)), `k=${k}`);
    const slotsAfter = image.buffer.subarray(INDEX_HEADER_BYTES, entryPosition(16, 0)).toString('hex');
    let differing = 0;
    for (let slot = 0; slot < 16; slot++) {
      if (slotsBefore.slice(slot * 8, slot * 8 + 8) !== slotsAfter.slice(slot * 8, slot * 8 + 8)) differing++;
    }
    assert.equal(changed, differing);
  }
});

test('rewind to the current indexCount keeps the exact end fields and changes no valid slot', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 16, indexNum: 64 });
  seededPuts(image, 5, 20);
  const before = image.header();
  assert.equal(image.rewind(before.indexCount), 0);
  assert.deepEqual(image.header(), before);
});

test('rewind clears damaged chains (cycle, rising prevIndex, past the file) and negative slots', () => {
  const layout = { hashSlotNum: 8, indexNum: 16 };
  const image = HashIndexImage.allocate(layout);
  for (let i = 0; i < 10; i++) image.putKey(`t#k${i}`, i * 100, T0);
  const slot = (n: number): number => INDEX_HEADER_BYTES + n * INDEX_SLOT_BYTES;
  image.buffer.writeInt32BE(9, slot(0));
  image.buffer.writeInt32BE(9, entryPosition(8, 9) + ENTRY_POS_PREV_INDEX); // prevIndex = itself
  image.buffer.writeInt32BE(8, slot(1));
  image.buffer.writeInt32BE(12, entryPosition(8, 8) + ENTRY_POS_PREV_INDEX); // prevIndex rises
  image.buffer.writeInt32BE(40, slot(2)); // past indexNum
  image.buffer.writeInt32BE(-3, slot(3));
  image.buffer.writeInt32BE(7, slot(4));
  image.buffer.writeInt32BE(3, entryPosition(8, 7) + ENTRY_POS_PREV_INDEX); // a valid chain 7 → 3
  for (let n = 5; n < 8; n++) image.buffer.writeInt32BE(0, slot(n));
  assert.equal(image.rewind(5), 5);
  const slots = Array.from({ length: 8 }, (_, n) => image.buffer.readInt32BE(slot(n)));
  assert.deepEqual(slots, [0, 0, 0, 0, 3, 0, 0, 0]);
  assert.equal(image.header().hashSlotCount, 1);
});

test('firstEntryAtOrAfter finds the first entry at or past a physical offset by binary search', () => {
  const image = HashIndexImage.allocate({ hashSlotNum: 4, indexNum: 32 });
  assert.equal(image.firstEntryAtOrAfter(0), 1);
  const offsets = [0, 0, 100, 100, 100, 250, 400];
  for (const physicalOffset of offsets) image.putKey('t#k', physicalOffset, T0);
  assert.equal(image.firstEntryAtOrAfter(0), 1);
  assert.equal(image.firstEntryAtOrAfter(1), 3);
  assert.equal(image.firstEntryAtOrAfter(100), 3);
  assert.equal(image.firstEntryAtOrAfter(101), 6);
  assert.equal(image.firstEntryAtOrAfter(400), 7);
  assert.equal(image.firstEntryAtOrAfter(401), 8);
  assert.equal(image.slotValueMax(), 7);
});

test('dirty regions: entries since markClean, slot pages coalesced into runs, header', () => {
  const hashSlotNum = 4096; // slot table [40, 16424): file pages 0 … 4
  const image = HashIndexImage.allocate({ hashSlotNum, indexNum: 64 });
  assert.deepEqual(image.dirtyRegions(), { entries: null, slotRuns: [], header: false });
  const keyInPage = (page: number, skip = 0): string => {
    for (let n = 0, found = 0; ; n++) {
      const key = `t#${n}`;
      if (Math.floor(slotPosition(indexKeyHash(key), hashSlotNum) / INDEX_SLOT_PAGE_BYTES) !== page) continue;
      if (found++ === skip) return key;
    }
  };
  for (const page of [4, 0, 1, 3]) image.putKey(keyInPage(page), page, T0);
  assert.deepEqual(image.dirtyRegions(), {
    entries: { position: entryPosition(hashSlotNum, 1), lengthBytes: 4 * INDEX_ENTRY_BYTES },
    slotRuns: [
      { position: INDEX_HEADER_BYTES, lengthBytes: 2 * INDEX_SLOT_PAGE_BYTES - INDEX_HEADER_BYTES },
      {
        position: 3 * INDEX_SLOT_PAGE_BYTES,
        lengthBytes: entryPosition(hashSlotNum, 0) - 3 * INDEX_SLOT_PAGE_BYTES,
      },
    ],
    header: true,
  });
  image.markClean();
  assert.deepEqual(image.dirtyRegions(), { entries: null, slotRuns: [], header: false });
  image.putKey(keyInPage(2, 1), 9, T0);
  assert.deepEqual(image.dirtyRegions(), {
    entries: { position: entryPosition(hashSlotNum, 5), lengthBytes: INDEX_ENTRY_BYTES },
    slotRuns: [{ position: 2 * INDEX_SLOT_PAGE_BYTES, lengthBytes: INDEX_SLOT_PAGE_BYTES }],
    header: true,
  });
  image.markClean();
  // A rewind below the written entries marks the changed slots and the header, not entries:
  // entries 3, 4 and 5 had their slots in pages 1, 3 and 2.
  image.rewind(3);
  assert.deepEqual(image.dirtyRegions(), {
    entries: null,
    slotRuns: [{ position: INDEX_SLOT_PAGE_BYTES, lengthBytes: 3 * INDEX_SLOT_PAGE_BYTES }],
    header: true,
  });
});

test('indexLayoutForSize: both counts checked against the size, a missing one derived, no whole fit is null', async () => {
  const { indexLayoutForSize } = await import('../../../src/format/hash_index.js');
  const size = indexFileSizeBytes(16, 100);
  assert.deepEqual(indexLayoutForSize(size, 16, 100), { hashSlotNum: 16, indexNum: 100 });
  assert.deepEqual(indexLayoutForSize(size, 16, undefined), { hashSlotNum: 16, indexNum: 100 });
  assert.deepEqual(indexLayoutForSize(size, undefined, 100), { hashSlotNum: 16, indexNum: 100 });
  assert.equal(indexLayoutForSize(size, 16, 99), null);
  assert.equal(indexLayoutForSize(size, 17, undefined), null, '4 bytes more slots leave no whole entry count');
  assert.equal(indexLayoutForSize(size, undefined, undefined), null);
});
