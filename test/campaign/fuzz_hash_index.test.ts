// Goal: the hash index readers (header, slots, entry chains: walkIndexChain, HashIndexImage and
// IndexService.load over files) never throw on damaged bytes except E_STORE_CORRUPT, walk a
// chain in a bounded number of strictly older entries, and read only inside the file.
// Method: fast-check properties (fixed seed, FUZZ_SEED/FUZZ_RUNS to change) over random and
// mutated small index images (few slots, few entries), in memory and in an in-memory Storage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IndexService } from '../../src/dispatcher/index_service.js';
import { StoreError } from '../../src/errors.js';
import {
  entryPosition,
  ENTRY_POS_PREV_INDEX,
  HashIndexImage,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  indexFileSizeBytes,
  indexKeyHash,
  readIndexHeader,
  walkIndexChain,
  writeIndexHeader,
} from '../../src/format/hash_index.js';
import { embedded, fuzzParameters, MemoryStorage, mutateInPlace, mutationArbitrary, readOrTypedError } from './fuzz_support.js';

interface Layout {
  hashSlotNum: number;
  indexNum: number;
}

const layoutArbitrary: fc.Arbitrary<Layout> = fc.record({ hashSlotNum: fc.integer({ min: 1, max: 8 }), indexNum: fc.integer({ min: 2, max: 24 }) });
const keyArbitrary = fc.constantFrom('a', 'b', 'c', 'key-1', 'key-2', 'TopicA#k');

interface Put {
  key: string;
  gapBytes: number;
  gapMs: number;
}

const putsArbitrary: fc.Arbitrary<Put[]> = fc.array(fc.record({ key: keyArbitrary, gapBytes: fc.integer({ min: 1, max: 500 }), gapMs: fc.nat(5000) }), { maxLength: 30 });

/** An index image built by putKey, as the dispatcher builds it; returns it and the puts that fit. */
function built(layout: Layout, puts: readonly Put[]): { image: HashIndexImage; stored: Array<{ key: string; physicalOffset: number; storeTimestamp: number }> } {
  const image = HashIndexImage.allocate(layout);
  const stored: Array<{ key: string; physicalOffset: number; storeTimestamp: number }> = [];
  let physicalOffset = 0;
  let storeTimestamp = 1700000000000;
  for (const put of puts) {
    physicalOffset += put.gapBytes;
    storeTimestamp += put.gapMs;
    if (!image.putKey(put.key, physicalOffset, storeTimestamp)) break;
    stored.push({ key: put.key, physicalOffset, storeTimestamp });
  }
  return { image, stored };
}

/** An index file's bytes: built by putKey and damaged, or random. */
const imageBytesArbitrary: fc.Arbitrary<{ layout: Layout; bytes: Buffer }> = layoutArbitrary.chain((layout) =>
  fc.oneof(
    fc.tuple(putsArbitrary, fc.array(mutationArbitrary(), { maxLength: 6 })).map(([puts, mutations]) => ({
      layout,
      bytes: mutateInPlace(built(layout, puts).image.buffer, mutations),
    })),
    fc.uint8Array({ minLength: indexFileSizeBytes(layout.hashSlotNum, layout.indexNum), maxLength: indexFileSizeBytes(layout.hashSlotNum, layout.indexNum) }).map((bytes) => ({
      layout,
      bytes: Buffer.from(bytes),
    })),
  ),
);

test('fuzz: keys put into an index image are found again, newest first, within their time range', () => {
  fc.assert(
    fc.property(layoutArbitrary, putsArbitrary, keyArbitrary, (layout, puts, key) => {
      const { image, stored } = built(layout, puts);
      const header = image.header();
      assert.equal(header.indexCount, stored.length + 1);
      const hash = indexKeyHash(key);
      const expected = stored.filter((put) => indexKeyHash(put.key) === hash).map((put) => put.physicalOffset).reverse();
      const found = image.selectPhysicalOffsets(key, 1000, 0, Number.MAX_SAFE_INTEGER);
      assert.deepEqual(found, expected);
      // The header round-trips through its codec.
      const copy = Buffer.alloc(INDEX_HEADER_BYTES);
      writeIndexHeader(copy, header);
      assert.deepEqual(readIndexHeader(copy), header);
    }),
    fuzzParameters(),
  );
});

test('fuzz: walkIndexChain over damaged entries reads only strictly older entries inside the file, at most slotValue of them', () => {
  fc.assert(
    fc.property(imageBytesArbitrary, fc.integer({ min: -5, max: 40 }), fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.nat(50), (file, slotValue, keyHash, maxNum) => {
      const { layout, bytes } = file;
      const header = readIndexHeader(bytes);
      const reads: number[] = [];
      const out: number[] = [];
      walkIndexChain(header, layout.indexNum, keyHash, slotValue, maxNum, 0, Number.MAX_SAFE_INTEGER, out, (indexNumber, entry) => {
        assert.ok(indexNumber >= 1 && indexNumber < layout.indexNum, `entry ${indexNumber} lies inside the file`);
        if (reads.length > 0) assert.ok(indexNumber < reads[reads.length - 1]!, 'each step goes to an older entry');
        reads.push(indexNumber);
        const at = entryPosition(layout.hashSlotNum, indexNumber);
        bytes.copy(entry, 0, at, at + INDEX_ENTRY_BYTES);
      });
      assert.ok(reads.length <= Math.max(0, slotValue), `${reads.length} reads from slot value ${slotValue}`);
      assert.ok(out.length <= maxNum);
    }),
    fuzzParameters(),
  );
});

test('fuzz: a damaged HashIndexImage answers lookups, rewinds and puts without throwing', () => {
  fc.assert(
    fc.property(imageBytesArbitrary, keyArbitrary, fc.nat(30), fc.nat(100000), (file, key, rewindTo, physicalOffset) => {
      const { layout, bytes } = file;
      const image = new HashIndexImage(bytes, layout);
      const found = image.selectPhysicalOffsets(key, 64, 0, Number.MAX_SAFE_INTEGER);
      assert.ok(found.length <= 64);
      // The same image inside a larger buffer (poison after it) answers the same.
      const outer = embedded(bytes, 0, 64, 0xff);
      assert.deepEqual(new HashIndexImage(outer, layout).selectPhysicalOffsets(key, 64, 0, Number.MAX_SAFE_INTEGER), found);
      const first = image.firstEntryAtOrAfter(physicalOffset);
      assert.ok(first >= 1 && first <= Math.max(1, Math.min(image.header().indexCount, layout.indexNum)));
      const indexCount = 1 + (rewindTo % Math.min(image.header().indexCount, layout.indexNum));
      image.rewind(indexCount);
      assert.equal(image.header().indexCount, indexCount);
      assert.ok(image.slotValueMax() < indexCount, 'no slot points at or past indexCount after a rewind');
      image.selectPhysicalOffsets(key, 64, 0, Number.MAX_SAFE_INTEGER);
      image.putKey(key, physicalOffset, 1700000000000);
      image.dirtyRegions();
    }),
    fuzzParameters(0.5),
  );
});

const INDEX_DIR = '/fuzz/index';

test('fuzz: IndexService.load of damaged index files answers queries or throws E_STORE_CORRUPT', () => {
  fc.assert(
    fc.property(
      fc.array(imageBytesArbitrary, { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      fc.option(fc.nat(500), { freq: 6 }),
      keyArbitrary,
      fc.nat(20000),
      (files, afterCrash, wrongSize, key, truncateAt) => {
        // All files share the first one's layout (IndexService has one layout).
        const layout = files[0]!.layout;
        const fileBytes = indexFileSizeBytes(layout.hashSlotNum, layout.indexNum);
        const storage = new MemoryStorage();
        files.forEach((file, index) => {
          let bytes = Buffer.alloc(fileBytes);
          file.bytes.copy(bytes, 0, 0, Math.min(fileBytes, file.bytes.length));
          if (index === files.length - 1 && wrongSize !== null) bytes = bytes.subarray(0, wrongSize % (fileBytes + 1));
          storage.putFile(`${INDEX_DIR}/2026112500000000${index}`, bytes);
        });
        const service = new IndexService(storage, { indexDir: INDEX_DIR, ...layout, now: () => new Date(2026, 10, 25, 1) });
        const loaded = readOrTypedError(['E_STORE_CORRUPT'], () => service.load({ afterCrash }));
        if (loaded instanceof StoreError) return;
        const result = readOrTypedError(['E_STORE_CORRUPT'], () => service.queryOffsets('TopicA', key, 64, 0, Number.MAX_SAFE_INTEGER));
        if (!(result instanceof StoreError)) assert.ok(result.physicalOffsets.length <= 64);
        readOrTypedError(['E_STORE_CORRUPT'], () => service.truncateAfter(truncateAt));
        service.close();
        assert.equal(storage.openCount, 0, 'every handle is closed');
      },
    ),
    fuzzParameters(0.5),
  );
});

// ---------------------------------------------------------------------------------------------
// Regressions: defects the properties above found, each pinned by a fixed input.

test('walkIndexChain stops at a prevIndex that points to a newer entry instead of walking a cycle indexNum times', () => {
  // Entries 2 and 3 point at each other: 3 → 2 → 3 → … Before the fix the walk went round
  // until indexNum steps (20 million with the default layout, each a pread for an older file).
  const layout = { hashSlotNum: 1, indexNum: 1000 };
  const image = HashIndexImage.allocate(layout);
  for (let n = 0; n < 3; n++) image.putKey(`other-${n}`, 100 * (n + 1), 1700000000000);
  image.buffer.writeInt32BE(3, entryPosition(layout.hashSlotNum, 2) + ENTRY_POS_PREV_INDEX);
  const reads: number[] = [];
  walkIndexChain(image.header(), layout.indexNum, indexKeyHash('missing'), 3, 64, 0, Number.MAX_SAFE_INTEGER, [], (indexNumber, entry) => {
    reads.push(indexNumber);
    const at = entryPosition(layout.hashSlotNum, indexNumber);
    image.buffer.copy(entry, 0, at, at + INDEX_ENTRY_BYTES);
  });
  assert.deepEqual(reads, [3, 2]);
});

test('walkIndexChain from a slot value of 0 or below reads no entry', () => {
  const header = readIndexHeader(Buffer.alloc(INDEX_HEADER_BYTES));
  for (const slotValue of [0, -2, -2147483648]) {
    walkIndexChain(header, 10, 0, slotValue, 64, 0, Number.MAX_SAFE_INTEGER, [], (indexNumber) => assert.fail(`read entry ${indexNumber}`));
  }
});
