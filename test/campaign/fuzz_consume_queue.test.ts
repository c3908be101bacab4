// Goal: ConsumeQueue units read from any bytes classify into exactly one kind without throwing,
// valid units round-trip, and loading damaged queue files (ConsumeQueueStore.load, RocketMQ's
// ConsumeQueue.recover) ends in readable units only or E_STORE_CORRUPT, the same on a reload.
// Method: fast-check properties (fixed seed, FUZZ_SEED/FUZZ_RUNS to change) over random and
// mutated 20-byte units and queue files in an in-memory Storage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConsumeQueueStore } from '../../src/dispatcher/consume_queue_store.js';
import {
  type ConsumeQueueEntry,
  consumeQueueEntryInvalidReason,
  consumeQueueEntryKind,
  CQ_ENTRY_BYTES,
  CQ_FILLER_PHYSICAL_OFFSET,
  CQ_FILLER_SIZE_BYTES,
  CQ_FILLER_TAGS_CODE,
  isFillerEntry,
  isTagsCodeExtAddress,
  isZeroEntry,
  readConsumeQueueEntry,
  writeConsumeQueueEntry,
} from '../../src/format/consume_queue_entry.js';
import { segmentName } from '../../src/format/segment_name.js';
import { topicDirName } from '../../src/format/topic_dir.js';
import { embedded, fuzzParameters, MemoryStorage, mutateInPlace, mutationArbitrary, readOrTypedError } from './fuzz_support.js';
import { StoreError } from '../../src/errors.js';

const INT32_MAX = 0x7fffffff;

const validUnitArbitrary: fc.Arbitrary<ConsumeQueueEntry> = fc.record({
  physicalOffset: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 2 ** 32, 2 ** 53 - 1)),
  sizeBytes: fc.oneof(fc.integer({ min: 1, max: INT32_MAX }), fc.constantFrom(1, 91, INT32_MAX)),
  tagsCode: fc.oneof(fc.integer({ min: -0x80000000, max: INT32_MAX }), fc.integer({ min: -0x80000000, max: 2 ** 53 - 1 })),
});

test('fuzz: a valid ConsumeQueue unit written then read comes back unchanged', () => {
  fc.assert(
    fc.property(validUnitArbitrary, fc.nat(40), (unit, position) => {
      const bytes = Buffer.alloc(position + CQ_ENTRY_BYTES);
      writeConsumeQueueEntry(bytes, position, unit);
      const read = readConsumeQueueEntry(bytes, position);
      assert.deepEqual(read, { ...unit });
      assert.equal(consumeQueueEntryKind(read), 'unit');
    }),
    fuzzParameters(),
  );
});

test('fuzz: any 20 bytes read as exactly one kind of unit, and a unit writes back to the same bytes', () => {
  const special = fc.constantFrom(
    Buffer.alloc(CQ_ENTRY_BYTES),
    Buffer.from('0000000000000000' + '7fffffff' + '0000000000000000', 'hex'),
    Buffer.from('ffffffffffffffff' + '80000000' + 'ffffffffffffffff', 'hex'),
    Buffer.from('001fffffffffffff' + '7fffffff' + '801fffffffffffff', 'hex'),
  );
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: CQ_ENTRY_BYTES, maxLength: CQ_ENTRY_BYTES }), special), fc.nat(32), fc.nat(32), (raw, before, after) => {
      const bytes = Buffer.from(raw);
      const entry = readConsumeQueueEntry(bytes, 0);
      // Read from inside a larger buffer: the poison around it must not matter.
      assert.deepEqual(readConsumeQueueEntry(embedded(bytes, before, after, 0xff), 0), entry);
      const kinds = [
        isZeroEntry(entry),
        isFillerEntry(entry),
        !isZeroEntry(entry) && !isFillerEntry(entry) && consumeQueueEntryInvalidReason(entry) === null,
        !isZeroEntry(entry) && !isFillerEntry(entry) && consumeQueueEntryInvalidReason(entry) !== null,
      ];
      assert.equal(kinds.filter(Boolean).length, 1, 'exactly one kind');
      const kind = consumeQueueEntryKind(entry);
      assert.equal(kinds.indexOf(true), ['end', 'filler', 'unit', 'invalid'].indexOf(kind));
      if (kind === 'unit' && Number.isSafeInteger(entry.tagsCode) && !isTagsCodeExtAddress(entry.tagsCode)) {
        const written = Buffer.alloc(CQ_ENTRY_BYTES);
        writeConsumeQueueEntry(written, 0, entry);
        assert.deepEqual(written, bytes);
      }
    }),
    fuzzParameters(),
  );
});

// ---------------------------------------------------------------------------------------------
// Loading damaged queue files.

const ROOT_DIR = '/fuzz/consumequeue';
const FILE_BYTES = 10 * CQ_ENTRY_BYTES;
const FILLER: ConsumeQueueEntry = { physicalOffset: CQ_FILLER_PHYSICAL_OFFSET, sizeBytes: CQ_FILLER_SIZE_BYTES, tagsCode: CQ_FILLER_TAGS_CODE };

interface QueueFilesSpec {
  topic: string;
  firstFile: number;
  files: Buffer[];
  /** When ≥ 0, the last file is cut to this many bytes (a wrong size). */
  lastFileBytes: number;
}

const queueFilesArbitrary: fc.Arbitrary<QueueFilesSpec> = fc
  .record({
    topic: fc.constantFrom('TopicA', 'a/b', '%MQST%x'),
    firstFile: fc.nat(3),
    leadingFillers: fc.nat(12),
    units: fc.array(fc.record({ gapBytes: fc.nat(1000), sizeBytes: fc.integer({ min: 1, max: 5000 }), tagsCode: fc.integer({ min: -0x80000000, max: INT32_MAX }) }), { maxLength: 35 }),
    mutations: fc.array(mutationArbitrary(), { maxLength: 4 }),
    wrongSize: fc.option(fc.nat(FILE_BYTES + 30), { freq: 8 }),
  })
  .map(({ topic, firstFile, leadingFillers, units, mutations, wrongSize }) => {
    const image = Buffer.alloc(Math.max(1, Math.ceil((leadingFillers + units.length + 1) / 10)) * FILE_BYTES);
    let at = 0;
    for (let i = 0; i < leadingFillers; i++, at += CQ_ENTRY_BYTES) writeConsumeQueueEntry(image, at, FILLER);
    let physicalOffset = 0;
    for (const unit of units) {
      physicalOffset += unit.gapBytes;
      writeConsumeQueueEntry(image, at, { physicalOffset, sizeBytes: unit.sizeBytes, tagsCode: unit.tagsCode });
      physicalOffset += unit.sizeBytes;
      at += CQ_ENTRY_BYTES;
    }
    const damaged = mutateInPlace(image, mutations);
    const files: Buffer[] = [];
    for (let start = 0; start < damaged.length; start += FILE_BYTES) files.push(damaged.subarray(start, start + FILE_BYTES));
    return { topic, firstFile, files, lastFileBytes: wrongSize ?? -1 };
  });

function queueStorage(spec: QueueFilesSpec): MemoryStorage {
  const storage = new MemoryStorage();
  const dirName = topicDirName(spec.topic);
  if (dirName !== spec.topic) storage.putFile(`${ROOT_DIR}/${dirName}/topic`, Buffer.from(spec.topic, 'utf8'));
  spec.files.forEach((bytes, index) => {
    const last = index === spec.files.length - 1;
    const content = last && spec.lastFileBytes >= 0 ? Buffer.concat([bytes, Buffer.alloc(30)]).subarray(0, spec.lastFileBytes) : bytes;
    storage.putFile(`${ROOT_DIR}/${dirName}/0/${segmentName((spec.firstFile + index) * FILE_BYTES)}`, content);
  });
  return storage;
}

interface QueueView {
  min: number;
  max: number;
  maxPhysicalOffset: number;
  units: ConsumeQueueEntry[];
}

/** Loads the queue and reads everything it holds; a StoreError from load is returned. */
function loadQueue(storage: MemoryStorage, topic: string): QueueView | StoreError {
  const store = new ConsumeQueueStore(storage, { rootDir: ROOT_DIR, fileSizeBytes: FILE_BYTES, openFilesMax: 2 });
  const loaded = readOrTypedError(['E_STORE_CORRUPT'], () => store.load());
  if (loaded instanceof StoreError) return loaded;
  const min = store.minQueueOffset(topic, 0);
  const max = store.maxQueueOffset(topic, 0);
  const units = store.read(topic, 0, min, 1000);
  const view = { min, max, maxPhysicalOffset: store.maxPhysicalOffsetOf(topic, 0), units };
  store.close();
  return view;
}

test('fuzz: ConsumeQueueStore.load of damaged queue files keeps only readable units or throws E_STORE_CORRUPT', () => {
  fc.assert(
    fc.property(queueFilesArbitrary, (spec) => {
      const storage = queueStorage(spec);
      const first = loadQueue(storage, spec.topic);
      assert.equal(storage.openCount, 0, 'every handle is closed');
      if (first instanceof StoreError) return;
      assert.ok(first.min <= first.max, `min ${first.min} ≤ max ${first.max}`);
      assert.equal(first.units.length, first.max - first.min, 'every unit in [min, max) reads as a unit');
      let unitEnd = -1;
      for (const unit of first.units) {
        assert.equal(consumeQueueEntryKind(unit), 'unit');
        assert.ok(unit.physicalOffset >= unitEnd, 'units follow the CommitLog');
        unitEnd = unit.physicalOffset + unit.sizeBytes;
      }
      if (first.units.length > 0) assert.equal(first.maxPhysicalOffset, unitEnd);
      // Recovery repaired the files: a second load finds the same queue and nothing to cut.
      assert.deepEqual(loadQueue(storage, spec.topic), first);
    }),
    fuzzParameters(0.5),
  );
});

// ---------------------------------------------------------------------------------------------
// Regressions: defects the properties above found, each pinned by a fixed input.

test('ConsumeQueueStore.load of a queue whose second file starts with filler units ends the queue there (min = max, no unreadable units)', () => {
  // File 0 is all filler (10 units), file 1 holds 2 fillers then 3 units: fillers outside the
  // first file are damage. Before the fix, min was 10 and max 15 but read(min) returned nothing.
  const image = Buffer.alloc(2 * FILE_BYTES);
  for (let at = 0; at < 12 * CQ_ENTRY_BYTES; at += CQ_ENTRY_BYTES) writeConsumeQueueEntry(image, at, FILLER);
  for (let n = 0; n < 3; n++) writeConsumeQueueEntry(image, (12 + n) * CQ_ENTRY_BYTES, { physicalOffset: n * 100, sizeBytes: 100, tagsCode: 0 });
  const storage = queueStorage({ topic: 'TopicA', firstFile: 0, files: [image.subarray(0, FILE_BYTES), image.subarray(FILE_BYTES)], lastFileBytes: -1 });
  const view = loadQueue(storage, 'TopicA');
  assert.ok(!(view instanceof StoreError));
  assert.equal(view.min, 10);
  assert.equal(view.max, 10);
  assert.deepEqual(view.units, []);
  assert.equal(storage.fileBytes(`${ROOT_DIR}/TopicA/0/${segmentName(FILE_BYTES)}`), null, 'the damaged file is cut away');
});
