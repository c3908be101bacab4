// Goal: every reader of CommitLog bytes (decodeMessage, decodeMessages, recordInvalidReason, the
// recovery SegmentScanner and the dispatcher's CommitLogTail) survives any bytes: it returns a
// record that re-encodes to the same fields, or throws only its documented StoreError, never
// loops, and never reads outside the bytes it was given.
// Method: fast-check properties (fixed seed, FUZZ_SEED/FUZZ_RUNS to change) over random messages,
// random bytes and mutated valid records and segments; segments live in an in-memory Storage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type DispatchRequest, CommitLogTail } from '../../src/dispatcher/commit_log_tail.js';
import { StoreError } from '../../src/errors.js';
import {
  bodyCrc32,
  bodyLengthPosition,
  buildPropertiesString,
  decodeMessage,
  decodeMessages,
  encodeMessage,
  type EncodeMessageInput,
  MAGIC_V2,
  type MessageExt,
  offsetHex,
  POS_MAGIC,
  POS_QUEUEID,
  POS_QUEUEOFFSET,
  POS_SYSFLAG,
  POS_TOTALSIZE,
  PROPERTY_KEYS,
  PROPERTY_TAGS,
  propertiesToString,
  RECORD_FIXED_BYTES,
  recordInvalidReason,
  recordSizeBytes,
  stringToProperties,
  SYSFLAG_BORNHOST_V6,
  SYSFLAG_STOREHOST_V6,
  upperHex,
  writeBlankRecord,
  writeRecord,
} from '../../src/format/commit_log_record.js';
import { encodeHostAddress, IPV6_HOST_BYTES } from '../../src/format/host_address.js';
import { segmentName } from '../../src/format/segment_name.js';
import { SegmentScanner } from '../../src/recovery/segment_scanner.js';
import {
  embedded,
  EXTREME_INT32S,
  fuzzParameters,
  MemoryStorage,
  mutate,
  mutateInPlace,
  mutationArbitrary,
  outcomeOf,
  readOrTypedError,
} from './fuzz_support.js';

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

// ---------------------------------------------------------------------------------------------
// Generators.

/** Text without the property separators (names and values may not hold them, see the .md). */
function propertyText(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc
    .string({ unit: 'binary', minLength, maxLength })
    .filter((text) => !/[\u0001\u0002]/.test(text) && Buffer.from(text, 'utf8').toString('utf8') === text);
}

const hostArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.ipV4(), fc.nat(65535)).map(([ip, port]) => `${ip}:${port}`),
  fc.tuple(fc.ipV6(), fc.nat(65535)).map(([ip, port]) => `[${ip}]:${port}`),
);

const topicArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9_%|-]{1,127}$/),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((topic) => Buffer.from(topic, 'utf8').toString('utf8') === topic),
);

const safeIntArbitrary = fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, 1, -1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1));
const offsetArbitrary = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 2 ** 31, 2 ** 32, 2 ** 53 - 1));

const messageArbitrary: fc.Arbitrary<EncodeMessageInput> = fc.record(
  {
    topic: topicArbitrary,
    queueId: fc.integer({ min: 0, max: INT32_MAX }),
    body: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 40 })),
    flag: fc.integer({ min: INT32_MIN, max: INT32_MAX }),
    sysFlag: fc.integer({ min: INT32_MIN, max: INT32_MAX }),
    queueOffset: offsetArbitrary,
    commitLogOffset: offsetArbitrary,
    bornTimestamp: safeIntArbitrary,
    bornHost: hostArbitrary,
    storeTimestamp: safeIntArbitrary,
    storeHost: hostArbitrary,
    reconsumeTimes: fc.integer({ min: INT32_MIN, max: INT32_MAX }),
    preparedTransactionOffset: safeIntArbitrary,
    tags: propertyText(1, 20),
    keys: fc.oneof(fc.array(propertyText(1, 10).filter((key) => !key.includes(' ')), { maxLength: 4 }), propertyText(0, 20)),
    properties: fc.dictionary(propertyText(1, 12), propertyText(1, 20), { maxKeys: 6 }),
  },
  { requiredKeys: ['topic', 'queueId', 'body', 'queueOffset', 'commitLogOffset', 'storeTimestamp', 'storeHost'] },
);

// ---------------------------------------------------------------------------------------------
// Oracles.

/** The fields decodeMessage must return for a record encodeMessage wrote from `input`. */
function expectedMessage(input: EncodeMessageInput): MessageExt {
  const body = Buffer.from(typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body);
  const storeHost = encodeHostAddress(input.storeHost);
  const bornHost = encodeHostAddress(input.bornHost ?? input.storeHost);
  const propertiesText = buildPropertiesString(input.tags, input.keys, input.properties);
  const properties = stringToProperties(propertiesText);
  let sysFlag = (input.sysFlag ?? 0) & ~(SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6);
  if (bornHost.length === IPV6_HOST_BYTES) sysFlag |= SYSFLAG_BORNHOST_V6;
  if (storeHost.length === IPV6_HOST_BYTES) sysFlag |= SYSFLAG_STOREHOST_V6;
  const keysText = properties[PROPERTY_KEYS];
  return {
    topic: input.topic,
    queueId: input.queueId,
    flag: input.flag ?? 0,
    queueOffset: input.queueOffset,
    commitLogOffset: input.commitLogOffset,
    storeSize: recordSizeBytes(
      body.length, Buffer.byteLength(input.topic, 'utf8'), Buffer.byteLength(propertiesText, 'utf8'),
      bornHost.length, storeHost.length,
    ),
    sysFlag,
    bornTimestamp: input.bornTimestamp ?? input.storeTimestamp,
    bornHost: canonicalHost(input.bornHost ?? input.storeHost),
    storeTimestamp: input.storeTimestamp,
    storeHost: canonicalHost(input.storeHost),
    reconsumeTimes: input.reconsumeTimes ?? 0,
    preparedTransactionOffset: input.preparedTransactionOffset ?? 0,
    bodyCRC: bodyCrc32(body),
    body,
    properties,
    tags: properties[PROPERTY_TAGS],
    keys: keysText === undefined ? [] : keysText.split(' ').filter((key) => key.length > 0),
    msgId: upperHex(storeHost) + offsetHex(input.commitLogOffset),
  };
}

/** The decoder's spelling of a host: decode an encoded one. */
function canonicalHost(text: string): string {
  return decodeMessage(encodeMessage({ topic: 't', queueId: 0, body: '', queueOffset: 0, commitLogOffset: 0, storeTimestamp: 1, storeHost: text })).storeHost;
}

/** Host text as decodeMessage prints it ("a.b.c.d:port" or "[v6]:port", any int32 port) back to bytes. */
function hostBytes(text: string): Buffer {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  const bytes = encodeHostAddress(`${text.slice(0, colon)}:0`);
  bytes.writeInt32BE(port, bytes.length - 4);
  return bytes;
}

/**
 * Writes a decoded message back with writeRecord, field by field (the body CRC as decoded, so a
 * record read without CRC checking writes back the same way). Properties are re-serialised, so
 * the size may differ from the original record's; every decoded field must come back.
 */
function reencode(message: MessageExt): Buffer {
  const parts = {
    queueId: message.queueId,
    flag: message.flag,
    queueOffset: message.queueOffset,
    physicalOffset: message.commitLogOffset,
    sysFlag: message.sysFlag,
    bornTimestamp: message.bornTimestamp,
    bornHost: hostBytes(message.bornHost),
    storeTimestamp: message.storeTimestamp,
    storeHost: hostBytes(message.storeHost),
    reconsumeTimes: message.reconsumeTimes,
    preparedTransactionOffset: message.preparedTransactionOffset,
    body: message.body,
    bodyCrc: message.bodyCRC,
    topic: Buffer.from(message.topic, 'utf8'),
    properties: Buffer.from(propertiesToString(message.properties), 'utf8'),
  };
  const out = Buffer.alloc(recordSizeBytes(parts.body.length, parts.topic.length, parts.properties.length, parts.bornHost.length, parts.storeHost.length));
  writeRecord(out, 0, parts);
  return out;
}

/**
 * A message decodeMessage returned is a valid one: its fields lie in the documented ranges that
 * the store's readers rely on, it is decoded again from exactly its own bytes, and it writes
 * back to the same fields.
 */
function assertValidDecoded(message: MessageExt, source: Buffer, offset: number, verifyCrc: boolean): void {
  assert.ok(message.storeSize >= RECORD_FIXED_BYTES, `storeSize ${message.storeSize} below the minimum`);
  assert.ok(offset + message.storeSize <= source.length, 'record ends inside the buffer');
  assert.ok(Buffer.byteLength(message.topic, 'utf8') >= 1, 'topic is not empty');
  assert.ok(message.queueId >= 0 && message.queueId <= INT32_MAX, `queueId ${message.queueId} is an int32 ≥ 0`);
  assert.ok(Number.isSafeInteger(message.queueOffset) && message.queueOffset >= 0, `queueOffset ${message.queueOffset} is a safe integer ≥ 0`);
  if (verifyCrc) assert.equal(message.bodyCRC, bodyCrc32(message.body));
  const own = source.subarray(offset, offset + message.storeSize);
  assert.deepEqual(decodeMessage(own, 0, verifyCrc), message, 'the record decodes the same from its own bytes');
  const again = decodeMessage(reencode(message), 0, verifyCrc);
  assert.deepEqual({ ...again, storeSize: 0 }, { ...message, storeSize: 0 }, 'the decoded fields write back unchanged');
}

/** decodeMessage's outcome: a valid message, or E_RECORD_INVALID. */
function decodeChecked(source: Buffer, offset: number, verifyCrc: boolean): MessageExt | StoreError {
  const result = readOrTypedError(['E_RECORD_INVALID'], () => decodeMessage(source, offset, verifyCrc));
  if (!(result instanceof StoreError)) assertValidDecoded(result, source, offset, verifyCrc);
  return result;
}

/** Positions and widths of the length, size and magic fields of a record (2-byte fields as 'int16'). */
function fieldsOf(record: Buffer): Array<{ position: number; widthBytes: 1 | 2 | 4 }> {
  const sysFlag = record.readInt32BE(POS_SYSFLAG);
  const bodyLenPos = bodyLengthPosition(sysFlag);
  const fields: Array<{ position: number; widthBytes: 1 | 2 | 4 }> = [
    { position: POS_TOTALSIZE, widthBytes: 4 },
    { position: POS_MAGIC, widthBytes: 4 },
    { position: POS_QUEUEID, widthBytes: 4 },
    { position: POS_QUEUEOFFSET, widthBytes: 4 },
    { position: POS_SYSFLAG, widthBytes: 4 },
    { position: bodyLenPos, widthBytes: 4 },
  ];
  const topicLenPos = bodyLenPos + 4 + record.readInt32BE(bodyLenPos);
  const v2 = record.readInt32BE(POS_MAGIC) === MAGIC_V2;
  fields.push({ position: topicLenPos, widthBytes: v2 ? 2 : 1 });
  const topicBytes = v2 ? record.readInt16BE(topicLenPos) : record.readInt8(topicLenPos);
  fields.push({ position: topicLenPos + (v2 ? 2 : 1) + topicBytes, widthBytes: 2 });
  return fields;
}

function writeField(target: Buffer, position: number, widthBytes: 1 | 2 | 4, value: number): void {
  if (widthBytes === 4) target.writeInt32BE(value | 0, position);
  else if (widthBytes === 2) target.writeInt16BE((value << 16) >> 16, position);
  else target.writeInt8((value << 24) >> 24, position);
}

// ---------------------------------------------------------------------------------------------
// Property 1: round trip.

test('fuzz: encodeMessage then decodeMessage returns every field and the record size', () => {
  fc.assert(
    fc.property(messageArbitrary, (input) => {
      const record = encodeMessage(input);
      const expected = expectedMessage(input);
      assert.equal(record.length, expected.storeSize);
      const decoded = decodeMessage(record);
      assert.deepEqual(decoded, expected);
      assertValidDecoded(decoded, record, 0, true);
      assert.equal(recordInvalidReason(record, 0, record.length, true), null);
    }),
    fuzzParameters(),
  );
});

test('fuzz: decodeMessages returns back-to-back records up to a BLANK or zero header', () => {
  fc.assert(
    fc.property(fc.array(messageArbitrary, { minLength: 0, maxLength: 5 }), fc.constantFrom('blank', 'zero', 'end'), (inputs, ending) => {
      const records = inputs.map((input) => encodeMessage(input));
      const tail = Buffer.alloc(ending === 'end' ? 0 : 16);
      if (ending === 'blank') writeBlankRecord(tail, 0, 16);
      const decoded = decodeMessages(Buffer.concat([...records, tail]));
      assert.deepEqual(decoded, inputs.map((input) => expectedMessage(input)));
    }),
    fuzzParameters(0.3),
  );
});

// ---------------------------------------------------------------------------------------------
// Property 2: random and damaged bytes give a valid record or E_RECORD_INVALID.

test('fuzz: decodeMessage of random bytes returns a valid record or throws E_RECORD_INVALID', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(420), fc.boolean(), (bytes, offset, verifyCrc) => {
      decodeChecked(Buffer.from(bytes), offset, verifyCrc);
    }),
    fuzzParameters(),
  );
});

test('fuzz: decodeMessage of a mutated record returns a valid record or throws E_RECORD_INVALID', () => {
  fc.assert(
    fc.property(messageArbitrary, fc.array(mutationArbitrary(), { minLength: 1, maxLength: 4 }), fc.boolean(), (input, mutations, verifyCrc) => {
      decodeChecked(mutate(encodeMessage(input), mutations), 0, verifyCrc);
    }),
    fuzzParameters(),
  );
});

test('fuzz: decodeMessage of a record with an extreme length, size or magic field returns a valid record or throws E_RECORD_INVALID', () => {
  fc.assert(
    fc.property(messageArbitrary, fc.nat(7), fc.constantFrom(...EXTREME_INT32S), fc.integer({ min: -300, max: 300 }), fc.boolean(), (input, field, extreme, delta, verifyCrc) => {
      const record = encodeMessage(input);
      const fields = fieldsOf(record);
      const { position, widthBytes } = fields[field % fields.length]!;
      // Half the time a near miss of the true value (off by a few bytes), else an extreme value.
      const current = widthBytes === 4 ? record.readInt32BE(position) : widthBytes === 2 ? record.readInt16BE(position) : record.readInt8(position);
      writeField(record, position, widthBytes, delta % 2 === 0 ? current + (delta >> 1) : extreme);
      decodeChecked(record, 0, verifyCrc);
    }),
    fuzzParameters(),
  );
});

test('fuzz: decodeMessages of records followed by garbage returns valid records or throws E_RECORD_INVALID', () => {
  fc.assert(
    fc.property(
      fc.array(messageArbitrary, { maxLength: 3 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.array(mutationArbitrary(), { maxLength: 3 }),
      fc.boolean(),
      (inputs, garbage, mutations, verifyCrc) => {
        const bytes = mutate(Buffer.concat([...inputs.map((input) => encodeMessage(input)), garbage]), mutations);
        const result = readOrTypedError(['E_RECORD_INVALID'], () => decodeMessages(bytes, verifyCrc));
        if (result instanceof StoreError) return;
        let position = 0;
        for (const message of result) {
          assertValidDecoded(message, bytes, position, verifyCrc);
          position += message.storeSize;
        }
        assert.ok(position <= bytes.length);
      },
    ),
    fuzzParameters(0.5),
  );
});

// ---------------------------------------------------------------------------------------------
// Property 4: no read outside the bytes given.

test('fuzz: decodeMessage of a subarray does not depend on the bytes around it', () => {
  fc.assert(
    fc.property(
      fc.oneof(messageArbitrary.map((input) => encodeMessage(input)), fc.uint8Array({ maxLength: 300 })),
      fc.array(mutationArbitrary(), { maxLength: 3 }),
      fc.nat(64),
      fc.nat(64),
      fc.boolean(),
      (source, mutations, before, after, verifyCrc) => {
        const bytes = mutate(source, mutations);
        const zeros = outcomeOf(['E_RECORD_INVALID'], () => decodeMessage(embedded(bytes, before, after, 0x00), 0, verifyCrc));
        const poison = outcomeOf(['E_RECORD_INVALID'], () => decodeMessage(embedded(bytes, before, after, 0xda), 0, verifyCrc));
        assert.deepEqual(zeros, poison);
        const many = outcomeOf(['E_RECORD_INVALID'], () => decodeMessages(embedded(bytes, after, before, 0xff), verifyCrc));
        assert.deepEqual(many, outcomeOf(['E_RECORD_INVALID'], () => decodeMessages(embedded(bytes, after, before, 0x00), verifyCrc)));
      },
    ),
    fuzzParameters(),
  );
});

test('fuzz: recordInvalidReason reads nothing past position + available', () => {
  fc.assert(
    fc.property(
      messageArbitrary.map((input) => encodeMessage(input)),
      fc.array(mutationArbitrary(), { maxLength: 3 }),
      fc.nat(64),
      fc.integer({ min: -40, max: 40 }),
      fc.boolean(),
      (record, mutations, position, availableDelta, verifyCrc) => {
        const bytes = mutate(record, mutations);
        const available = Math.max(0, Math.min(bytes.length, bytes.length + availableDelta));
        const reasons = [0x00, 0xff, 0xda].map((poison) => {
          const buffer = Buffer.alloc(position + bytes.length + 64, poison);
          buffer.set(bytes.subarray(0, available), position);
          return recordInvalidReason(buffer, position, available, verifyCrc);
        });
        assert.equal(reasons[1], reasons[0]);
        assert.equal(reasons[2], reasons[0]);
      },
    ),
    fuzzParameters(),
  );
});

// ---------------------------------------------------------------------------------------------
// Segments: the recovery scanner and the dispatcher's tail over damaged segments.

const COMMIT_LOG_DIR = '/fuzz/commitlog';

interface SegmentSpec {
  segmentSizeBytes: number;
  segments: Buffer[];
}

/** Whole segments as the writer fills them (records at their own physical offsets, BLANK, zeros), then damaged. */
const segmentsArbitrary: fc.Arbitrary<SegmentSpec> = fc
  .record({
    segmentSizeBytes: fc.constantFrom(512, 1024, 4096),
    inputs: fc.array(messageArbitrary, { maxLength: 12 }),
    mutations: fc.array(mutationArbitrary(), { maxLength: 4 }),
    garbage: fc.option(fc.uint8Array({ minLength: 1, maxLength: 600 }), { freq: 4 }),
  })
  .map(({ segmentSizeBytes, inputs, mutations, garbage }) => {
    const segments: Buffer[] = [Buffer.alloc(segmentSizeBytes)];
    let position = 0;
    for (const input of inputs) {
      let segment = segments[segments.length - 1]!;
      const start = (segments.length - 1) * segmentSizeBytes;
      let record = encodeMessage({ ...input, commitLogOffset: start + position });
      if (record.length + 8 > segmentSizeBytes) continue;
      if (position + record.length + 8 > segmentSizeBytes) {
        writeBlankRecord(segment, position, segmentSizeBytes - position);
        segment = Buffer.alloc(segmentSizeBytes);
        segments.push(segment);
        position = 0;
        record = encodeMessage({ ...input, commitLogOffset: (segments.length - 1) * segmentSizeBytes });
      }
      record.copy(segment, position);
      position += record.length;
    }
    const last = segments.length - 1;
    segments[last] = mutateInPlace(segments[last]!, mutations);
    if (garbage !== null) segments[last]!.set(garbage.subarray(0, segmentSizeBytes - position), position);
    return { segmentSizeBytes, segments };
  });

function storageOf(spec: SegmentSpec): MemoryStorage {
  const storage = new MemoryStorage();
  spec.segments.forEach((bytes, index) => storage.putFile(`${COMMIT_LOG_DIR}/${segmentName(index * spec.segmentSizeBytes)}`, bytes));
  return storage;
}

test('fuzz: SegmentScanner over a damaged segment stops once, inside the segment, after valid records only', () => {
  fc.assert(
    fc.property(segmentsArbitrary, fc.boolean(), fc.nat(), (spec, verifyCrc, shortBy) => {
      const storage = storageOf(spec);
      const index = spec.segments.length - 1;
      const startOffset = index * spec.segmentSizeBytes;
      const name = `${COMMIT_LOG_DIR}/${segmentName(startOffset)}`;
      // A file shorter than the segment reads as zeros past its end.
      if (shortBy % 3 === 0) storage.putFile(name, spec.segments[index]!.subarray(0, spec.segmentSizeBytes - (shortBy % spec.segmentSizeBytes)));
      const file = storage.open(name, false);
      const scanner = new SegmentScanner(storage, file, startOffset, spec.segmentSizeBytes);
      let expectedPosition = 0;
      const bytes = Buffer.alloc(spec.segmentSizeBytes);
      storage.pread(file, bytes, 0, spec.segmentSizeBytes, 0);
      const result = scanner.scan(0, verifyCrc, (record) => {
        assert.equal(record.physicalOffset, startOffset + expectedPosition, 'records are back to back');
        const message = decodeMessage(bytes, expectedPosition, verifyCrc);
        assertValidDecoded(message, bytes, expectedPosition, verifyCrc);
        assert.equal(record.sizeBytes, message.storeSize);
        assert.equal(record.topic, message.topic);
        assert.equal(record.queueId, message.queueId);
        assert.equal(record.queueOffset, message.queueOffset);
        assert.equal(record.storeTimestamp, message.storeTimestamp);
        expectedPosition += record.sizeBytes;
      });
      assert.equal(result.endPosition, expectedPosition);
      assert.ok(result.endPosition <= spec.segmentSizeBytes);
      const after = scanner.findRecordAfter(result.endPosition);
      if (after >= 0) {
        assert.ok(after > result.endPosition && after < spec.segmentSizeBytes);
        assertValidDecoded(decodeMessage(bytes, after, true), bytes, after, true);
      }
    }),
    fuzzParameters(0.5),
  );
});

function assertValidRequest(request: DispatchRequest, previousEnd: number): void {
  assert.ok(request.physicalOffset >= previousEnd, 'requests follow each other');
  assert.ok(request.sizeBytes >= RECORD_FIXED_BYTES);
  assert.ok(request.topic.length > 0, 'topic is not empty');
  assert.ok(Number.isInteger(request.queueId) && request.queueId >= 0 && request.queueId <= INT32_MAX, `queueId ${request.queueId}`);
  assert.ok(Number.isSafeInteger(request.queueOffset) && request.queueOffset >= 0, `queueOffset ${request.queueOffset}`);
  assert.ok(Number.isSafeInteger(request.storeTimestamp) || Number.isFinite(request.storeTimestamp));
}

test('fuzz: CommitLogTail over damaged segments returns valid dispatch requests or throws E_STORE_CORRUPT', () => {
  fc.assert(
    fc.property(segmentsArbitrary, fc.integer({ min: 1, max: 7 }), fc.nat(), (spec, maxRecords, limitCut) => {
      const storage = storageOf(spec);
      const logEnd = spec.segments.length * spec.segmentSizeBytes;
      const limit = limitCut % 2 === 0 ? logEnd : limitCut % (logEnd + 1);
      const tail = new CommitLogTail(storage, { commitLogDir: COMMIT_LOG_DIR, segmentSizeBytes: spec.segmentSizeBytes }, 0);
      let previousEnd = 0;
      // Each call either advances or stops; a bound far above the record count catches a loop.
      for (let calls = 0; ; calls++) {
        assert.ok(calls < 1000, 'the tail keeps returning without advancing');
        const before = tail.position();
        const result = readOrTypedError(['E_STORE_CORRUPT'], () => tail.readUpTo(limit, maxRecords));
        if (result instanceof StoreError) break;
        for (const request of result) {
          assertValidRequest(request, previousEnd);
          previousEnd = request.physicalOffset + request.sizeBytes;
          assert.ok(previousEnd <= limit, 'no record ends past the limit');
        }
        if (tail.position() === before) break;
      }
      tail.close();
      assert.equal(storage.openCount, 0, 'the tail closed every file it opened');
    }),
    fuzzParameters(0.5),
  );
});

// ---------------------------------------------------------------------------------------------
// Regressions: defects the properties above found, each pinned by a fixed input.

/** A one-message segment of 1024 bytes at physical offset 0, with `damage` applied to the record. */
function segmentWith(damage: (record: Buffer) => void): MemoryStorage {
  const segment = Buffer.alloc(1024);
  const record = encodeMessage({ topic: 'FooBar', queueId: 3, body: 'body', queueOffset: 7, commitLogOffset: 0, storeTimestamp: 1700000000000, storeHost: '127.0.0.1:10911' });
  damage(record);
  record.copy(segment, 0);
  const storage = new MemoryStorage();
  storage.putFile(`${COMMIT_LOG_DIR}/${segmentName(0)}`, segment);
  return storage;
}

function fooBarRecord(): Buffer {
  return encodeMessage({ topic: 'FooBar', queueId: 3, body: 'body', queueOffset: 7, commitLogOffset: 0, storeTimestamp: 1700000000000, storeHost: '127.0.0.1:10911' });
}

test('decodeMessage of a record whose queueId is negative throws E_RECORD_INVALID', () => {
  const record = fooBarRecord();
  record.writeInt32BE(-2147483648, POS_QUEUEID);
  assert.throws(() => decodeMessage(record), { code: 'E_RECORD_INVALID', message: /queue id -2147483648 is negative/ });
});

test('decodeMessage of a record whose queueOffset is not a safe integer throws E_RECORD_INVALID', () => {
  const record = fooBarRecord();
  record.writeInt32BE(0x006a2000, POS_QUEUEOFFSET); // ≈ 2^54: a flipped high byte
  assert.throws(() => decodeMessage(record), { code: 'E_RECORD_INVALID', message: /queue offset \d+ out of range/ });
  record.writeInt32BE(-1, POS_QUEUEOFFSET);
  assert.throws(() => decodeMessage(record), { code: 'E_RECORD_INVALID', message: /queue offset -\d+ out of range/ });
});

test('decodeMessage of a record whose topic length is 0 throws E_RECORD_INVALID', () => {
  // …TOPICLEN=1 'T' PROPLEN=0 becomes TOPICLEN=0 PROPLEN=1 and one properties byte: same TOTALSIZE.
  const record = encodeMessage({ topic: 'T', queueId: 0, body: '', queueOffset: 0, commitLogOffset: 0, storeTimestamp: 1, storeHost: '127.0.0.1:1' });
  const topicLenPos = bodyLengthPosition(0) + 4;
  assert.equal(record.length, topicLenPos + 4);
  record.writeInt8(0, topicLenPos);
  record.writeInt16BE(1, topicLenPos + 1);
  assert.throws(() => decodeMessage(record), { code: 'E_RECORD_INVALID', message: /topic length 0 out of range/ });
});

test('SegmentScanner cuts at a record whose queueOffset is not a safe integer instead of counting it', () => {
  const storage = segmentWith((record) => record.writeInt32BE(0x006a2000, POS_QUEUEOFFSET));
  const file = storage.open(`${COMMIT_LOG_DIR}/${segmentName(0)}`, false);
  const scanned: number[] = [];
  const result = new SegmentScanner(storage, file, 0, 1024).scan(0, true, (record) => scanned.push(record.queueOffset));
  assert.deepEqual(scanned, []);
  assert.equal(result.endPosition, 0);
  assert.equal(result.stop.kind, 'invalid');
});

test('CommitLogTail throws E_STORE_CORRUPT at a record whose queueId is negative instead of dispatching it', () => {
  const storage = segmentWith((record) => record.writeInt32BE(-3, POS_QUEUEID));
  const tail = new CommitLogTail(storage, { commitLogDir: COMMIT_LOG_DIR, segmentSizeBytes: 1024 }, 0);
  assert.throws(() => tail.readUpTo(1024, 10), { code: 'E_STORE_CORRUPT', message: /queue id -3 is negative/ });
  tail.close();
});
