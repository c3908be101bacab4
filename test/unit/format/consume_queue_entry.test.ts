// Goal: the ConsumeQueue unit codec writes RocketMQ's 20-byte layout and classifies units as documented.
// Method: round trips, known hashes and file arithmetic, the .md hex dump re-encoded, seeded random bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  CQ_ENTRY_BYTES,
  CQ_FILE_ENTRIES_DEFAULT,
  CQ_FILLER_SIZE_BYTES,
  CQ_POS_PHYSICAL_OFFSET,
  CQ_POS_SIZE_BYTES,
  CQ_POS_TAGS_CODE,
  MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT,
  consumeQueueEntryInvalidReason,
  consumeQueueEntryKind,
  consumeQueueFileName,
  consumeQueueFileSizeBytes,
  consumeQueueFileStart,
  consumeQueuePositionInFile,
  isFillerEntry,
  isTagsCodeExtAddress,
  queueOffsetToBytePosition,
  readConsumeQueueEntry,
  rollNextFileQueueOffset,
  tagsCodeOf,
  writeConsumeQueueEntry,
  type ConsumeQueueEntry,
} from '../../../src/format/consume_queue_entry.js';
import { writeInt64 } from '../../../src/format/commit_log_record.js';
import { docSection, hexDumps } from '../../support/format_doc.js';
import { Prng } from '../../support/prng.js';

/** Seeded floats in [0, 1), so a failing case can be replayed from the printed seed. */
function prng(seed: number): () => number {
  const source = new Prng(seed);
  return () => source.nextFloat();
}

function roundTrip(entry: ConsumeQueueEntry): ConsumeQueueEntry {
  const buf = Buffer.alloc(CQ_ENTRY_BYTES + 7);
  writeConsumeQueueEntry(buf, 7, entry);
  return readConsumeQueueEntry(buf, 7);
}

/** The bytes of three raw fields, bypassing the writer's assertions. */
function rawUnit(physicalOffset: number, sizeBytes: number, tagsCode: number): Buffer {
  const buf = Buffer.alloc(CQ_ENTRY_BYTES);
  writeInt64(buf, CQ_POS_PHYSICAL_OFFSET, physicalOffset);
  buf.writeInt32BE(sizeBytes, CQ_POS_SIZE_BYTES);
  writeInt64(buf, CQ_POS_TAGS_CODE, tagsCode);
  return buf;
}

test('a unit round trips, including large physical offsets and negative tags codes', () => {
  const cases: ConsumeQueueEntry[] = [
    { physicalOffset: 0, sizeBytes: 158, tagsCode: 2567159 },
    { physicalOffset: 2 ** 40 + 5, sizeBytes: 4 * 1024 * 1024, tagsCode: -1 },
    { physicalOffset: 2 ** 53 - 1, sizeBytes: 2147483646, tagsCode: -2147483648 },
    { physicalOffset: 1073741824, sizeBytes: 91, tagsCode: tagsCodeOf('zzzzzzzz') },
    { physicalOffset: 17, sizeBytes: 1, tagsCode: 1700000000123 },
  ];
  for (const entry of cases) {
    assert.deepEqual(roundTrip(entry), entry);
    assert.equal(consumeQueueEntryInvalidReason(entry), null);
  }
  assert.ok(tagsCodeOf('zzzzzzzz') < 0, 'the sample tag must hash negative');
});

test('the tags code is Java String.hashCode of the whole TAGS string and 0 when absent', () => {
  assert.equal(tagsCodeOf('TAG1'), 2567159);
  assert.equal(tagsCodeOf('TagA'), 2598919);
  assert.equal(tagsCodeOf(undefined), 0);
  assert.equal(tagsCodeOf(''), 0);
  const negative = tagsCodeOf('zzzzzzzz');
  const buf = Buffer.alloc(CQ_ENTRY_BYTES);
  writeConsumeQueueEntry(buf, 0, { physicalOffset: 1, sizeBytes: 1, tagsCode: negative });
  assert.deepEqual(buf.subarray(CQ_POS_TAGS_CODE, CQ_POS_TAGS_CODE + 4), Buffer.from([0xff, 0xff, 0xff, 0xff]));
  assert.equal(buf.readInt32BE(CQ_POS_TAGS_CODE + 4), negative, 'int32 hash is sign-extended to 64 bits');
});

test('the configured file size is rounded up to whole units', () => {
  assert.equal(consumeQueueFileSizeBytes(MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT), 6000000);
  assert.equal(consumeQueueFileSizeBytes(4096), 4100);
  assert.equal(consumeQueueFileSizeBytes(128), 140);
  assert.equal(consumeQueueFileSizeBytes(20), 20);
  assert.equal(consumeQueueFileSizeBytes(1), 20);
  assert.equal(MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT, CQ_FILE_ENTRIES_DEFAULT * CQ_ENTRY_BYTES);
});

test('queue offsets map to file starts, positions and the next file', () => {
  const size = MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT;
  const entries = CQ_FILE_ENTRIES_DEFAULT;
  const cases = [
    { queueOffset: 0, bytePosition: 0, fileStart: 0, position: 0, next: 300000 },
    { queueOffset: 299999, bytePosition: 5999980, fileStart: 0, position: 5999980, next: 300000 },
    { queueOffset: 300000, bytePosition: 6000000, fileStart: 6000000, position: 0, next: 600000 },
    { queueOffset: 600001, bytePosition: 12000020, fileStart: 12000000, position: 20, next: 900000 },
  ];
  for (const c of cases) {
    assert.equal(queueOffsetToBytePosition(c.queueOffset), c.bytePosition);
    assert.equal(consumeQueueFileStart(c.queueOffset, size), c.fileStart);
    assert.equal(consumeQueuePositionInFile(c.queueOffset, size), c.position);
    assert.equal(rollNextFileQueueOffset(c.queueOffset, entries), c.next);
  }
  assert.equal(consumeQueueFileName(300000, size), '00000000000006000000');
  assert.equal(consumeQueueFileName(299999, size), '00000000000000000000');
  assert.throws(() => consumeQueueFileStart(1, 4096), /multiple of 20/);
  assert.throws(() => queueOffsetToBytePosition(-1));
});

// The compiled test runs from dist/test/unit/format/; the doc stays in the source tree.
const DOC = fs.readFileSync(new URL('../../../../src/format/consume_queue_entry.md', import.meta.url), 'utf8');

/** The hex-dump blocks (`00000010  00 27 …`) of the doc's worked example, concatenated per block. */
function workedExampleDumps(): Buffer[] {
  return hexDumps(docSection(DOC, '## Worked example'));
}

test('the worked example hex dump is what writeConsumeQueueEntry writes for three FooBar messages', () => {
  const dumps = workedExampleDumps();
  assert.equal(dumps.length, 1);
  const expected = Buffer.alloc(60);
  const tagsCode = tagsCodeOf('TAG1');
  assert.equal(tagsCode, 2567159);
  [0, 158, 316].forEach((physicalOffset, queueOffset) => {
    writeConsumeQueueEntry(expected, queueOffsetToBytePosition(queueOffset), { physicalOffset, sizeBytes: 158, tagsCode });
  });
  assert.deepEqual(dumps[0], expected);
  for (let queueOffset = 0; queueOffset < 3; queueOffset++) {
    const entry = readConsumeQueueEntry(dumps[0]!, queueOffset * CQ_ENTRY_BYTES);
    assert.equal(consumeQueueEntryKind(entry), 'unit');
  }
  assert.ok(DOC.includes('00000000000006000000'));
  assert.equal(consumeQueueFileName(300000, MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT), '00000000000006000000');
});

test('zero, filler and invalid units are classified as the decision table says', () => {
  const cases: Array<{ bytes: Buffer; kind: string }> = [
    { bytes: Buffer.alloc(CQ_ENTRY_BYTES), kind: 'end' }, // @A
    { bytes: rawUnit(0, CQ_FILLER_SIZE_BYTES, 0), kind: 'filler' }, // @B
    { bytes: rawUnit(-1, 158, 0), kind: 'invalid' }, // @C offset < 0
    { bytes: rawUnit(100, 0, 5), kind: 'invalid' }, // @C size 0
    { bytes: rawUnit(100, -158, 5), kind: 'invalid' }, // @C size < 0
    { bytes: rawUnit(0, 0, 7), kind: 'invalid' }, // @C zero size with a tags code is not end
    { bytes: rawUnit(0, CQ_FILLER_SIZE_BYTES, 1), kind: 'unit' }, // almost filler: valid fields
    { bytes: rawUnit(2 ** 40 + 5, 158, -2147483649), kind: 'unit' }, // @D with an ext address
  ];
  for (const c of cases) {
    const entry = readConsumeQueueEntry(c.bytes, 0);
    assert.equal(consumeQueueEntryKind(entry), c.kind, JSON.stringify(entry));
    assert.equal(consumeQueueEntryInvalidReason(entry) === null, c.kind === 'unit');
    assert.equal(isFillerEntry(entry), c.kind === 'filler');
  }
  const high = Buffer.alloc(CQ_ENTRY_BYTES, 0);
  high.writeUInt32BE(0x7fffffff, 0); // physicalOffset ≈ 2^63: not a safe integer
  high.writeInt32BE(158, CQ_POS_SIZE_BYTES);
  assert.equal(consumeQueueEntryKind(readConsumeQueueEntry(high, 0)), 'invalid');
  assert.equal(isTagsCodeExtAddress(-2147483649), true);
  assert.equal(isTagsCodeExtAddress(-2147483648), false);
});

test('the writer refuses invalid units and ext-address tags codes but accepts the filler', () => {
  const buf = Buffer.alloc(CQ_ENTRY_BYTES);
  assert.throws(() => writeConsumeQueueEntry(buf, 0, { physicalOffset: -1, sizeBytes: 1, tagsCode: 0 }));
  assert.throws(() => writeConsumeQueueEntry(buf, 0, { physicalOffset: 0, sizeBytes: 0, tagsCode: 0 }));
  assert.throws(() => writeConsumeQueueEntry(buf, 0, { physicalOffset: 1, sizeBytes: 1, tagsCode: -2147483649 }));
  assert.throws(() => writeConsumeQueueEntry(buf, 1, { physicalOffset: 1, sizeBytes: 1, tagsCode: 0 }));
  writeConsumeQueueEntry(buf, 0, { physicalOffset: 0, sizeBytes: CQ_FILLER_SIZE_BYTES, tagsCode: 0 });
  assert.deepEqual(buf, rawUnit(0, CQ_FILLER_SIZE_BYTES, 0));
});

test('reading random bytes never throws for in-bounds positions', () => {
  const seed = 0xc0ffee;
  const random = prng(seed);
  const bytes = Buffer.alloc(4096);
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    for (let position = 0; position + CQ_ENTRY_BYTES <= bytes.length; position++) {
      const entry = readConsumeQueueEntry(bytes, position);
      const kind = consumeQueueEntryKind(entry);
      assert.ok(['end', 'filler', 'unit', 'invalid'].includes(kind), `seed ${seed} position ${position}`);
    }
  }
  assert.throws(() => readConsumeQueueEntry(bytes, bytes.length - CQ_ENTRY_BYTES + 1));
});

test('the byte table in the doc matches the field positions and sizes in the codec', () => {
  const lines = DOC.split('\n');
  const start = lines.indexOf('## Byte table');
  const rows = lines
    .slice(start + 1)
    .filter((line) => /^\| \d+ \|/.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim()));
  const expected = [
    { offset: CQ_POS_PHYSICAL_OFFSET, size: 8, type: 'int64', field: '`physicalOffset`' },
    { offset: CQ_POS_SIZE_BYTES, size: 4, type: 'int32', field: '`sizeBytes`' },
    { offset: CQ_POS_TAGS_CODE, size: 8, type: 'int64', field: '`tagsCode`' },
  ];
  assert.equal(rows.length, expected.length);
  expected.forEach((want, i) => {
    const row = rows[i]!;
    assert.equal(Number(row[1]), want.offset);
    assert.equal(Number(row[2]), want.size);
    assert.equal(row[3], want.type);
    assert.equal(row[4], 'big-endian');
    assert.equal(row[5], want.field);
  });
  assert.equal(expected.reduce((sum, row) => sum + row.size, 0), CQ_ENTRY_BYTES);
});

test('every combination of the decision-table predicates lands in exactly one case', () => {
  const physicalOffsets = [0, 1, -1, 2 ** 40 + 5, 2 ** 60];
  const sizes = [0, 1, 158, -1, CQ_FILLER_SIZE_BYTES, -2147483648];
  const tagsCodes = [0, 1, -1, 2567159, -2147483649];
  for (const physicalOffset of physicalOffsets) {
    for (const sizeBytes of sizes) {
      for (const tagsCode of tagsCodes) {
        const entry = readConsumeQueueEntry(rawUnit(physicalOffset, sizeBytes, tagsCode), 0);
        const atA = physicalOffset === 0 && sizeBytes === 0 && tagsCode === 0;
        const atB = physicalOffset === 0 && sizeBytes === CQ_FILLER_SIZE_BYTES && tagsCode === 0;
        const atC = !atA && (!Number.isSafeInteger(entry.physicalOffset) || physicalOffset < 0 || sizeBytes <= 0);
        const atD = !atA && !atB && !atC;
        assert.equal([atA, atB, atC, atD].filter(Boolean).length, 1, JSON.stringify(entry));
        const want = atA ? 'end' : atB ? 'filler' : atC ? 'invalid' : 'unit';
        assert.equal(consumeQueueEntryKind(entry), want, JSON.stringify(entry));
      }
    }
  }
});
