// Goal: the appended record CRC (RocketMQ 5's enabledAppendPropCRC) is laid out as RocketMQ
// writes it (`__CRC32#`, char 1, ten digits least significant first, char 2; a separator first
// when the properties lack one) and catches a change anywhere before it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import {
  checkRecordCrc,
  CRC32_RESERVED_BYTES,
  isCrcReserve,
  readCrcDigits,
  recordCrc,
  withCrcReserve,
  writeCrcDigits,
} from '../../../src/format/record_crc.js';

test('the reserve: 20 bytes, a separator added only when the properties lack one', () => {
  assert.equal(withCrcReserve(''), '__CRC32#\u00010000000000\u0002');
  assert.equal(withCrcReserve('').length, CRC32_RESERVED_BYTES);
  assert.equal(withCrcReserve('TAGS\u0001a\u0002'), 'TAGS\u0001a\u0002__CRC32#\u00010000000000\u0002');
  assert.equal(withCrcReserve('TAGS\u0001a'), 'TAGS\u0001a\u0002__CRC32#\u00010000000000\u0002');
  assert.ok(isCrcReserve(Buffer.from(withCrcReserve(''), 'latin1')));
  assert.ok(!isCrcReserve(Buffer.from('__CRC32#\u00010000000000\u0001', 'latin1')));
  assert.ok(!isCrcReserve(Buffer.alloc(20)));
});

test('digits are written least significant first, zero padded (RocketMQ MessageDecoder.createCrc32)', () => {
  const tail = Buffer.from(withCrcReserve(''), 'latin1');
  writeCrcDigits(tail, 1234567890);
  assert.equal(tail.toString('latin1', 9, 19), '0987654321');
  assert.equal(readCrcDigits(tail), 1234567890);
  writeCrcDigits(tail, 5);
  assert.equal(tail.toString('latin1', 9, 19), '5000000000');
  assert.equal(readCrcDigits(tail), 5);
  tail[12] = 0x41;
  assert.equal(readCrcDigits(tail), -1, 'not a digit');
});

test('a record\'s CRC covers every byte before the reserve: ok, then a flip anywhere is a mismatch', () => {
  const head = Buffer.from(Array.from({ length: 120 }, (_, i) => (i * 37) & 0xff));
  const record = Buffer.concat([head, Buffer.from(withCrcReserve('KEYS\u0001k\u0002'), 'latin1')]);
  const total = record.length;
  assert.equal(checkRecordCrc(record, total), 'absent', 'a reserve never filled (digits 0) is not a CRC');
  const tail = record.subarray(total - CRC32_RESERVED_BYTES);
  writeCrcDigits(tail, recordCrc(record, total));
  assert.equal(recordCrc(record, total), crc32(record.subarray(0, total - 20)) & 0x7fffffff);
  assert.equal(checkRecordCrc(record, total), 'ok');
  for (const at of [0, 4, 60, 119, total - 21]) {
    const copy = Buffer.from(record);
    copy[at] = copy[at]! ^ 0x01;
    assert.equal(checkRecordCrc(copy, total), 'mismatch', `flip at ${at}`);
  }
  assert.equal(checkRecordCrc(head, head.length), 'absent');
});

test('digits that are not digits read as absent, and a user property named __CRC32# is refused at put', async () => {
  const record = Buffer.concat([Buffer.alloc(100, 7), Buffer.from('__CRC32#\u0001abcdefghij\u0002', 'latin1')]);
  assert.equal(checkRecordCrc(record, record.length), 'absent');
  const { PutPreparer } = await import('../../../src/put_request.js');
  const preparer = new PutPreparer({ maxMessageSize: 1024, segmentSizeBytes: 1 << 20, storeHost: new Uint8Array([127, 0, 0, 1, 0, 0, 42, 159]) });
  assert.throws(() => preparer.prepareMessage({ topic: 'T', queueId: 0, body: 'x', properties: { '__CRC32#': 'abcdefghij' } }), { code: 'E_INVALID_ARGUMENT' });
});
