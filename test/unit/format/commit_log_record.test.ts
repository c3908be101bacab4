// Goal: the CommitLog record codec writes RocketMQ's exact record bytes and rejects bad ones.
// Method: RocketMQ's published test vectors, encode → decode round trips, and byte mutations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bodyCrc32,
  buildPropertiesString,
  decodeMessage,
  decodeMessages,
  encodeMessage,
  MAGIC_V1,
  MAGIC_V2,
  POS_BODYCRC,
  POS_MAGIC,
  POS_SYSFLAG,
  POS_TOTALSIZE,
  propertiesToString,
  RECORD_FIXED_BYTES,
  recordSizeBytes,
  stringToProperties,
  SYSFLAG_BORNHOST_V6,
  SYSFLAG_STOREHOST_V6,
  SYSFLAG_TRANSACTION_COMMIT,
  writeBlankRecord,
  type EncodeMessageInput,
  type MessageExt,
} from '../../../src/format/commit_log_record.js';
import { StoreError } from '../../../src/errors.js';

const BODY = 'Once, there was a chance for me!';
const KEYS_13_DIGITS = '1700000000000';

function fooBar(overrides: Partial<EncodeMessageInput> = {}): EncodeMessageInput {
  return {
    topic: 'FooBar',
    queueId: 0,
    body: BODY,
    queueOffset: 0,
    commitLogOffset: 0,
    bornTimestamp: 1700000000000,
    bornHost: '192.168.0.10:54321',
    storeTimestamp: 1700000000123,
    storeHost: '127.0.0.1:10911',
    keys: KEYS_13_DIGITS,
    tags: 'TAG1',
    ...overrides,
  };
}

function flipBits(buf: Buffer, position: number, mask: number): void {
  buf.writeUInt8(buf.readUInt8(position) ^ mask, position);
}

function assertRecordInvalid(fn: () => unknown, reason?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, 'E_RECORD_INVALID');
    if (reason !== undefined) assert.match(error.message, reason);
    return true;
  });
}

test('masked body CRC32 matches RocketMQ test vectors', () => {
  assert.equal(bodyCrc32(Buffer.from(BODY, 'utf8')), 151131488);
  assert.equal(bodyCrc32(Buffer.from('body', 'utf8')), 1537739698);
  assert.equal(bodyCrc32(Buffer.alloc(0)), 0);
});

test('FooBar record with a 32-byte body, 13-digit KEYS and TAGS=TAG1 is 158 bytes', () => {
  const record = encodeMessage(fooBar());
  assert.equal(record.length, 158);
  assert.equal(record.readInt32BE(POS_TOTALSIZE), 158);
  assert.equal(record.readInt32BE(POS_MAGIC), MAGIC_V1);
  assert.equal(record.readInt32BE(POS_BODYCRC), 151131488);
  const props = buildPropertiesString('TAG1', KEYS_13_DIGITS, undefined);
  assert.equal(Buffer.byteLength(props, 'utf8'), 29);
  assert.equal(recordSizeBytes(32, 6, 29, 8, 8), 158);
});

test('an IPv6 born host adds 12 bytes and sets sysFlag bit 0x10', () => {
  const base = encodeMessage(fooBar());
  const record = encodeMessage(fooBar({ bornHost: '[::1]:54321' }));
  assert.equal(record.length, base.length + 12);
  const sysFlag = record.readInt32BE(POS_SYSFLAG);
  assert.equal(sysFlag & SYSFLAG_BORNHOST_V6, SYSFLAG_BORNHOST_V6);
  assert.equal(sysFlag & SYSFLAG_STOREHOST_V6, 0);
});

test('an IPv6 store host adds another 12 bytes and sets sysFlag bit 0x20', () => {
  const base = encodeMessage(fooBar());
  const record = encodeMessage(fooBar({ bornHost: '[::1]:54321', storeHost: '[fe80::1]:10911' }));
  assert.equal(record.length, base.length + 24);
  assert.equal(record.readInt32BE(POS_SYSFLAG), SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6);
  const storeOnly = encodeMessage(fooBar({ storeHost: '[fe80::1]:10911' }));
  assert.equal(storeOnly.length, base.length + 12);
  assert.equal(storeOnly.readInt32BE(POS_SYSFLAG), SYSFLAG_STOREHOST_V6);
});

test('the codec derives the host v6 bits and ignores the caller\'s', () => {
  const record = encodeMessage(fooBar({ sysFlag: SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6 | 0x1 }));
  assert.equal(record.readInt32BE(POS_SYSFLAG), 0x1);
  assert.equal(decodeMessage(record).bornHost, '192.168.0.10:54321');
});

test('a topic of 128 UTF-8 bytes uses MAGIC_V2 and a 2-byte topic length', () => {
  const topic = 'T'.repeat(128);
  const record = encodeMessage(fooBar({ topic }));
  assert.equal(record.readInt32BE(POS_MAGIC), MAGIC_V2);
  const v1Arithmetic = RECORD_FIXED_BYTES + 32 + 128 + 29;
  assert.equal(record.length, v1Arithmetic + 1);
  const topicLenPos = 88 + 32;
  assert.equal(record.readInt16BE(topicLenPos), 128);
  assert.equal(decodeMessage(record).topic, topic);
});

test('a topic of 127 UTF-8 bytes still uses MAGIC_V1 and a 1-byte topic length', () => {
  const topic = 'T'.repeat(127);
  const record = encodeMessage(fooBar({ topic }));
  assert.equal(record.readInt32BE(POS_MAGIC), MAGIC_V1);
  assert.equal(record.length, RECORD_FIXED_BYTES + 32 + 127 + 29);
  assert.equal(record.readInt8(88 + 32), 127);
  assert.equal(decodeMessage(record).topic, topic);
});

test('the v2 decision counts UTF-8 bytes, not characters', () => {
  const topic = '€'.repeat(43); // 43 characters, 129 UTF-8 bytes
  const record = encodeMessage(fooBar({ topic }));
  assert.equal(record.readInt32BE(POS_MAGIC), MAGIC_V2);
  assert.equal(decodeMessage(record).topic, topic);
});

test('an empty topic or one over 32767 bytes is rejected with E_INVALID_ARGUMENT', () => {
  for (const topic of ['', 'x'.repeat(32768)]) {
    assert.throws(() => encodeMessage(fooBar({ topic })), { code: 'E_INVALID_ARGUMENT' });
  }
});

test('properties over 32767 bytes are rejected with E_INVALID_ARGUMENT', () => {
  const properties = { big: 'v'.repeat(32767) };
  assert.throws(() => encodeMessage(fooBar({ properties })), { code: 'E_INVALID_ARGUMENT' });
});

function assertAllFields(actual: MessageExt, expected: MessageExt): void {
  for (const key of Object.keys(expected) as (keyof MessageExt)[]) {
    assert.deepEqual(actual[key], expected[key], `field ${key}`);
  }
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
}

test('every MessageExt field survives a round trip with IPv4 hosts', () => {
  const body = Buffer.from(BODY, 'utf8');
  const record = encodeMessage(fooBar({
    queueId: 7,
    flag: -123456,
    sysFlag: SYSFLAG_TRANSACTION_COMMIT,
    queueOffset: 42,
    commitLogOffset: 4096,
    reconsumeTimes: 3,
    preparedTransactionOffset: 1580,
    keys: ['k1', 'k2'],
    properties: { UNIQ_KEY: 'AC11000100002A9F0000000000000001', color: 'blue' },
  }));
  assertAllFields(decodeMessage(record), {
    topic: 'FooBar',
    queueId: 7,
    flag: -123456,
    queueOffset: 42,
    commitLogOffset: 4096,
    storeSize: record.length,
    sysFlag: SYSFLAG_TRANSACTION_COMMIT,
    bornTimestamp: 1700000000000,
    bornHost: '192.168.0.10:54321',
    storeTimestamp: 1700000000123,
    storeHost: '127.0.0.1:10911',
    reconsumeTimes: 3,
    preparedTransactionOffset: 1580,
    bodyCRC: 151131488,
    body,
    properties: {
      UNIQ_KEY: 'AC11000100002A9F0000000000000001',
      color: 'blue',
      TAGS: 'TAG1',
      KEYS: 'k1 k2',
    },
    tags: 'TAG1',
    keys: ['k1', 'k2'],
    msgId: '7F00000100002A9F0000000000001000',
  });
});

test('every MessageExt field survives a round trip with IPv6 hosts and offsets above 2^32', () => {
  const big = 2 ** 40 + 123;
  const record = encodeMessage(fooBar({
    queueId: 2147483647,
    flag: 2147483647,
    queueOffset: big,
    commitLogOffset: big + 1,
    bornTimestamp: 2 ** 41,
    bornHost: '[2001:db8::8:800:200c:417a]:1',
    storeTimestamp: 2 ** 41 + 5,
    storeHost: '[::1]:10911',
    reconsumeTimes: 16,
    preparedTransactionOffset: big - 1,
  }));
  assert.equal(record.length, 158 + 24);
  const storeHostHex = '00000000000000000000000000000001' + '00002A9F';
  assertAllFields(decodeMessage(record), {
    topic: 'FooBar',
    queueId: 2147483647,
    flag: 2147483647,
    queueOffset: big,
    commitLogOffset: big + 1,
    storeSize: 182,
    sysFlag: SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6,
    bornTimestamp: 2 ** 41,
    bornHost: '[2001:db8::8:800:200c:417a]:1',
    storeTimestamp: 2 ** 41 + 5,
    storeHost: '[::1]:10911',
    reconsumeTimes: 16,
    preparedTransactionOffset: big - 1,
    bodyCRC: 151131488,
    body: Buffer.from(BODY, 'utf8'),
    properties: { TAGS: 'TAG1', KEYS: KEYS_13_DIGITS },
    tags: 'TAG1',
    keys: [KEYS_13_DIGITS],
    msgId: storeHostHex + (big + 1).toString(16).toUpperCase().padStart(16, '0'),
  });
});

test('an empty body with no tags, keys or properties round trips to a 97-byte record', () => {
  const record = encodeMessage({
    topic: 'FooBar',
    queueId: 0,
    body: new Uint8Array(0),
    queueOffset: 0,
    commitLogOffset: 0,
    storeTimestamp: 1,
    storeHost: '10.0.0.1:80',
  });
  assert.equal(record.length, RECORD_FIXED_BYTES + 6);
  const decoded = decodeMessage(record);
  assert.equal(decoded.body.length, 0);
  assert.equal(decoded.bodyCRC, 0);
  assert.deepEqual(decoded.properties, {});
  assert.equal(decoded.tags, undefined);
  assert.deepEqual(decoded.keys, []);
  assert.equal(decoded.bornHost, '10.0.0.1:80', 'born host defaults to the store host');
  assert.equal(decoded.bornTimestamp, 1, 'born timestamp defaults to the store timestamp');
});

test('a decoded body is a copy that does not alias the record buffer', () => {
  const record = encodeMessage(fooBar());
  const decoded = decodeMessage(record);
  record.fill(0);
  assert.equal(decoded.body.toString('utf8'), BODY);
});

test('decodeMessage accepts a plain Uint8Array view at a non-zero offset', () => {
  const record = encodeMessage(fooBar({ commitLogOffset: 10 }));
  const backing = new Uint8Array(10 + record.length + 5);
  backing.set(record, 10);
  const view = new Uint8Array(backing.buffer, 0, backing.length);
  assert.equal(decodeMessage(view, 10).commitLogOffset, 10);
});

test('msgId for store host 127.0.0.1:10911 at offset 0 is 7F00000100002A9F0000000000000000', () => {
  const decoded = decodeMessage(encodeMessage(fooBar({ commitLogOffset: 0 })));
  assert.equal(decoded.msgId, '7F00000100002A9F0000000000000000');
  assert.equal(decoded.msgId.length, 32);
});

test('msgId for an IPv6 store host is 56 upper-case hex characters', () => {
  const record = encodeMessage(fooBar({ storeHost: '[fe80::abcd]:10911', commitLogOffset: 158 }));
  const decoded = decodeMessage(record);
  assert.equal(decoded.msgId, 'FE80000000000000000000000000ABCD00002A9F000000000000009E');
  assert.equal(decoded.msgId.length, 56);
});

function threeRecords(): { buf: Buffer; end: number } {
  const buf = Buffer.alloc(4096);
  let position = 0;
  for (let i = 0; i < 3; i++) {
    const body = `message ${i}`;
    const record = encodeMessage(fooBar({ queueOffset: i, commitLogOffset: position, body }));
    record.copy(buf, position);
    position += record.length;
  }
  return { buf, end: position };
}

test('decodeMessages returns the 3 records before a BLANK record', () => {
  const { buf, end } = threeRecords();
  writeBlankRecord(buf, end, buf.length - end);
  buf.fill(0xee, end + 8); // bytes after the BLANK header are never read
  const messages = decodeMessages(buf);
  assert.equal(messages.length, 3);
  assert.deepEqual(messages.map((m) => m.queueOffset), [0, 1, 2]);
  assert.deepEqual(messages.map((m) => m.body.toString('utf8')), ['message 0', 'message 1', 'message 2']);
});

test('decodeMessages returns the 3 records before a zero-filled tail', () => {
  const { buf } = threeRecords();
  const messages = decodeMessages(buf);
  assert.equal(messages.length, 3);
  assert.equal(messages[2]!.commitLogOffset, messages[1]!.commitLogOffset + messages[1]!.storeSize);
});

test('decodeMessages stops at the end of a buffer that holds exactly 3 records', () => {
  const { buf, end } = threeRecords();
  assert.equal(decodeMessages(buf.subarray(0, end)).length, 3);
});

test('decodeMessages throws E_RECORD_INVALID when a record in the middle is damaged', () => {
  const { buf } = threeRecords();
  const second = buf.readInt32BE(0);
  flipBits(buf, second + POS_MAGIC, 0x01);
  assertRecordInvalid(() => decodeMessages(buf), /magic/);
});

test('a flipped body byte fails the CRC check', () => {
  const record = encodeMessage(fooBar());
  flipBits(record, 88, 0x20);
  assertRecordInvalid(() => decodeMessage(record), /CRC/);
});

test('decodeMessage with verifyCrc false ignores a body CRC mismatch', () => {
  const record = encodeMessage(fooBar());
  flipBits(record, 88, 0x20);
  const decoded = decodeMessage(record, 0, false);
  assert.equal(decoded.body.toString('utf8'), 'once, there was a chance for me!');
  assert.equal(decoded.bodyCRC, 151131488, 'the stored CRC is returned as it is');
});

test('a bad magic code is rejected', () => {
  const record = encodeMessage(fooBar());
  record.writeInt32BE(0x12345678, POS_MAGIC);
  assertRecordInvalid(() => decodeMessage(record), /magic/);
});

test('a BLANK record is not a message', () => {
  const buf = Buffer.alloc(64);
  writeBlankRecord(buf, 0, 64);
  assertRecordInvalid(() => decodeMessage(buf), /magic/);
});

test('a TOTALSIZE larger than the buffer is rejected', () => {
  const record = encodeMessage(fooBar());
  record.writeInt32BE(record.length + 1, POS_TOTALSIZE);
  assertRecordInvalid(() => decodeMessage(record), /exceeds/);
});

test('a TOTALSIZE that disagrees with the field lengths is rejected', () => {
  const record = encodeMessage(fooBar());
  const padded = Buffer.concat([record, Buffer.alloc(4)]);
  padded.writeInt32BE(record.length + 4, POS_TOTALSIZE);
  assertRecordInvalid(() => decodeMessage(padded), /disagrees/);
  const shrunk = Buffer.from(record);
  shrunk.writeInt32BE(record.length - 1, POS_TOTALSIZE);
  assertRecordInvalid(() => decodeMessage(shrunk));
});

test('a TOTALSIZE below the 91-byte minimum is rejected', () => {
  const record = encodeMessage(fooBar());
  record.writeInt32BE(90, POS_TOTALSIZE);
  assertRecordInvalid(() => decodeMessage(record), /minimum/);
});

test('a body length that runs past TOTALSIZE is rejected', () => {
  const record = encodeMessage(fooBar());
  record.writeInt32BE(1000, 84);
  assertRecordInvalid(() => decodeMessage(record), /body length/);
});

test('a truncated buffer is rejected at every cut point', () => {
  const record = encodeMessage(fooBar());
  for (let length = 0; length < record.length; length++) {
    assertRecordInvalid(() => decodeMessage(record.subarray(0, length)));
  }
});

test('an offset outside the buffer is rejected', () => {
  const record = encodeMessage(fooBar());
  for (const offset of [-1, record.length, record.length + 1, 0.5, Number.NaN]) {
    assertRecordInvalid(() => decodeMessage(record, offset));
  }
});

test('properties round trip through propertiesToString and stringToProperties', () => {
  const properties = { TAGS: 'TagA', KEYS: 'a b c', UNIQ_KEY: 'ABC', 'name with spaces': 'value=1;ü' };
  const text = propertiesToString(properties);
  assert.equal(text.endsWith('\u0002'), true);
  assert.equal(text.split('\u0002').length - 1, 4);
  assert.deepEqual(stringToProperties(text), properties);
  assert.equal(propertiesToString({}), '');
  assert.deepEqual(stringToProperties(''), {});
});

test('stringToProperties skips fragments without a name or a value', () => {
  const text = 'a\u00011\u0002\u0001x\u0002\u0001xy\u0002bb\u0001\u0002xy\u0002c\u00012=3\u0002';
  assert.deepEqual(stringToProperties(text), { a: '1', c: '2=3' });
});

test('buildPropertiesString drops WAIT and lets tags and keys win over the map', () => {
  const text = buildPropertiesString('TagA', ['k1', 'k2'], {
    WAIT: 'true',
    TAGS: 'ignored',
    KEYS: 'ignored',
    color: 'red',
  });
  assert.equal(text, 'color\u0001red\u0002TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002');
  assert.deepEqual(stringToProperties(text), { color: 'red', TAGS: 'TagA', KEYS: 'k1 k2' });
});

test('buildPropertiesString keeps TAGS and KEYS from the map when none are given separately', () => {
  const text = buildPropertiesString(undefined, undefined, { TAGS: 'T', KEYS: 'K', WAIT: 'false' });
  assert.deepEqual(stringToProperties(text), { TAGS: 'T', KEYS: 'K' });
});

test('a stored record never carries WAIT', () => {
  const decoded = decodeMessage(encodeMessage(fooBar({ properties: { WAIT: 'true' } })));
  assert.equal(decoded.properties.WAIT, undefined);
  assert.equal(decoded.storeSize, 158);
});
