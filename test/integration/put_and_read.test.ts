// Goal: putMessage/putMessages results, queue and physical offsets, and lookMessageByOffset round trips match RocketMQ.
// Method: real store (real writer worker, real files) per test in a fresh temp dir; put, read back through the API and the segment bytes.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import {
  MessageStore,
  PutMessageStatus,
  StoreError,
  type MessageInput,
  type MessageStoreOptions,
  type PutMessageResult,
} from '../../src/index.js';

const SEGMENT_BYTES = 1 << 20;
const MAGIC_V1 = 0xdaa320a7;
const MAGIC_V2 = 0xdaa320ab;
const SYSFLAG_BORNHOST_V6 = 0x10;
const SYSFLAG_STOREHOST_V6 = 0x20;
const SYSFLAG_TRANSACTION_PREPARED = 0x4;
const SYSFLAG_TRANSACTION_COMMIT = 0x8;
const SYSFLAG_TRANSACTION_ROLLBACK = 0xc;

interface Opened {
  root: string;
  store: MessageStore;
}

async function openStore(t: TestContext, options: Partial<MessageStoreOptions> = {}): Promise<Opened> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-put-'));
  let store: MessageStore | null = null;
  t.after(async () => {
    if (store !== null) await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  store = await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, ...options });
  return { root, store };
}

/** RocketMQ's record size: 91 + body + topic + properties, +1 for a v2 topic, +12 per IPv6 host. */
function recordBytes(body: number, topic: number, properties: number, ipv6Hosts = 0): number {
  return 91 + body + topic + properties + (topic > 127 ? 1 : 0) + 12 * ipv6Hosts;
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The stored properties string of RocketMQ: name\u0001value\u0002 per pair. */
function propertiesBytes(properties: Record<string, string>): number {
  let text = '';
  for (const [name, value] of Object.entries(properties)) text += `${name}\u0001${value}\u0002`;
  return utf8Bytes(text);
}

function offsetMsgId(hostHex: string, physicalOffset: number): string {
  return hostHex + physicalOffset.toString(16).toUpperCase().padStart(16, '0');
}

async function putOk(store: MessageStore, msg: MessageInput): Promise<PutMessageResult> {
  const result = await store.putMessage(msg);
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  assert.equal(result.ok, true);
  assert.ok(result.appendMessageResult !== undefined);
  return result;
}

function readRecordBytes(root: string, physicalOffset: number, sizeBytes: number): Buffer {
  const start = physicalOffset - (physicalOffset % SEGMENT_BYTES);
  const segment = fs.readFileSync(path.join(root, 'commitlog', String(start).padStart(20, '0')));
  return segment.subarray(physicalOffset - start, physicalOffset - start + sizeBytes);
}

async function assertInvalidArgument(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, 'E_INVALID_ARGUMENT');
    return true;
  });
}

test('putMessage resolves PUT_OK with RocketMQ\'s AppendMessageResult fields', async (t) => {
  const { store } = await openStore(t);
  const before = Date.now();
  const body = Buffer.from('Once, there was a chance for me!', 'utf8');
  const result = await putOk(store, { topic: 'FooBar', queueId: 0, body });
  const after = Date.now();
  const append = result.appendMessageResult!;
  assert.deepEqual(Object.keys(append).sort(), [
    'logicsOffset', 'msgId', 'msgNum', 'pagecacheRT', 'storeTimestamp', 'wroteBytes', 'wroteOffset',
  ]);
  assert.equal(append.wroteOffset, 0);
  assert.equal(append.wroteBytes, recordBytes(body.length, 6, 0));
  assert.match(append.msgId, /^[0-9A-F]{32}$/, 'IPv4 store host: 16 bytes as 32 upper-case hex chars');
  assert.equal(append.msgId, offsetMsgId('7F000001' + '00002A9F', 0), 'store host 127.0.0.1:10911 + offset 0');
  assert.ok(append.storeTimestamp >= before && append.storeTimestamp <= after, 'storeTimestamp is the put time');
  assert.equal(append.logicsOffset, 0);
  assert.equal(append.msgNum, 1);
  assert.equal(typeof append.pagecacheRT, 'number');
  assert.ok(Number.isFinite(append.pagecacheRT) && append.pagecacheRT >= 0);
  assert.equal(result.error, undefined);

  const second = await putOk(store, { topic: 'FooBar', queueId: 0, body });
  assert.equal(second.appendMessageResult!.wroteOffset, append.wroteBytes);
  assert.equal(second.appendMessageResult!.msgId, offsetMsgId('7F00000100002A9F', append.wroteBytes));
});

test('queue offsets count 0,1,2 per (topic, queueId) in send order, independently across queues and topics', async (t) => {
  const { store } = await openStore(t);
  const sends: Array<[string, number]> = [
    ['A', 0], ['A', 1], ['B', 0], ['A', 0], ['A', 0], ['B', 0], ['A', 1], ['B', 7], ['A', 0], ['B', 0],
  ];
  // Sent without awaiting each other: the sequencer must still number them in call order.
  const results = await Promise.all(
    sends.map(([topic, queueId], i) => store.putMessage({ topic, queueId, body: `message ${i}` })),
  );
  const next = new Map<string, number>();
  results.forEach((result, i) => {
    const [topic, queueId] = sends[i]!;
    const key = `${topic}/${queueId}`;
    const expected = next.get(key) ?? 0;
    next.set(key, expected + 1);
    assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
    assert.equal(result.appendMessageResult!.logicsOffset, expected, `send ${i} to ${key}`);
  });
  assert.deepEqual(Object.fromEntries(next), { 'A/0': 4, 'A/1': 2, 'B/0': 3, 'B/7': 1 });
  for (let i = 0; i < results.length; i++) {
    const message = await store.lookMessageByOffset(results[i]!.appendMessageResult!.wroteOffset);
    assert.ok(message !== null);
    assert.equal(message.queueOffset, results[i]!.appendMessageResult!.logicsOffset);
    assert.equal(message.body.toString('utf8'), `message ${i}`);
  }
});

test('physical offsets strictly increase and are contiguous within a segment', async (t) => {
  const { store } = await openStore(t);
  const results: PutMessageResult[] = [];
  for (let i = 0; i < 20; i++) {
    results.push(await putOk(store, { topic: `T${i % 3}`, queueId: i % 2, body: 'x'.repeat(i * 13), tags: i % 2 === 0 ? 'even' : undefined }));
  }
  results.push(await (async () => {
    const batch = await store.putMessages({ topic: 'T0', queueId: 0, messages: [{ body: 'b1' }, { body: 'b2' }] });
    assert.equal(batch.putMessageStatus, PutMessageStatus.PUT_OK);
    return batch;
  })());
  let expected = 0;
  for (const result of results) {
    const append = result.appendMessageResult!;
    assert.equal(append.wroteOffset, expected, 'each put starts where the previous one ended');
    assert.ok(append.wroteBytes > 0);
    expected += append.wroteBytes;
  }
  assert.equal(store.getMaxPhyOffset(), expected);
  assert.equal(store.getMinPhyOffset(), 0);
});

test('lookMessageByOffset returns every stored field of a message', async (t) => {
  const { store, root } = await openStore(t);
  await putOk(store, { topic: 'Other', queueId: 0, body: 'first' });
  const body = Buffer.from('payload \u00e9\u4e2d', 'utf8');
  const properties = { a: '1', b: 'x y', UNIQ_KEY: 'C0A80001000000000000000000000001' };
  const bornTimestamp = 1_700_000_000_123;
  const result = await putOk(store, {
    topic: 'FullFields',
    queueId: 3,
    body,
    tags: 'TagA',
    keys: ['k1', 'k2'],
    properties,
    flag: 7,
    bornTimestamp,
    bornHost: '192.168.0.7:4321',
    reconsumeTimes: 2,
  });
  const append = result.appendMessageResult!;
  const expectedProperties = { ...properties, TAGS: 'TagA', KEYS: 'k1 k2' };
  assert.equal(append.wroteBytes, recordBytes(body.length, utf8Bytes('FullFields'), propertiesBytes(expectedProperties)));

  const message = await store.lookMessageByOffset(append.wroteOffset);
  assert.ok(message !== null);
  assert.equal(message.topic, 'FullFields');
  assert.equal(message.queueId, 3);
  assert.equal(message.flag, 7);
  assert.equal(message.queueOffset, 0);
  assert.equal(message.commitLogOffset, append.wroteOffset);
  assert.equal(message.storeSize, append.wroteBytes);
  assert.equal(message.sysFlag, 0);
  assert.equal(message.bornTimestamp, bornTimestamp);
  assert.equal(message.bornHost, '192.168.0.7:4321');
  assert.equal(message.storeTimestamp, append.storeTimestamp);
  assert.equal(message.storeHost, '127.0.0.1:10911');
  assert.equal(message.reconsumeTimes, 2);
  assert.equal(message.preparedTransactionOffset, 0);
  assert.equal(message.bodyCRC, crc32(body) & 0x7fffffff);
  assert.deepEqual(message.body, body);
  assert.deepEqual(message.properties, expectedProperties, 'exactly the given properties plus TAGS and KEYS');
  assert.equal(message.tags, 'TagA');
  assert.deepEqual(message.keys, ['k1', 'k2']);
  assert.equal(message.msgId, append.msgId);

  const withSize = await store.lookMessageByOffset(append.wroteOffset, append.wroteBytes);
  assert.deepEqual(withSize, message, 'giving the right size reads the same message');
  const raw = readRecordBytes(root, append.wroteOffset, append.wroteBytes);
  assert.equal(raw.readInt32BE(0), append.wroteBytes);
  assert.equal(raw.readUInt32BE(4), MAGIC_V1);
});

test('lookMessageByOffset returns null inside a record, at or beyond the max offset, and for a wrong size', async (t) => {
  const { store } = await openStore(t);
  assert.equal(await store.lookMessageByOffset(0), null, 'an empty store has no message at 0');
  const first = (await putOk(store, { topic: 'T', queueId: 0, body: 'one' })).appendMessageResult!;
  const second = (await putOk(store, { topic: 'T', queueId: 0, body: 'two two two' })).appendMessageResult!;
  const max = store.getMaxPhyOffset();
  assert.equal(max, second.wroteOffset + second.wroteBytes);
  for (const offset of [1, 4, first.wroteBytes - 1, second.wroteOffset + 8, max, max + 1, max + 10_000, SEGMENT_BYTES + 5]) {
    assert.equal(await store.lookMessageByOffset(offset), null, `offset ${offset}`);
  }
  assert.equal(await store.lookMessageByOffset(0, first.wroteBytes + 1), null, 'a size that does not match the record');
  assert.equal(await store.lookMessageByOffset(0, first.wroteBytes - 1), null, 'a size shorter than the record');
  assert.notEqual(await store.lookMessageByOffset(second.wroteOffset), null);
});

test('lookMessageByOffset returns null for a negative offset, as RocketMQ does', async (t) => {
  const { store } = await openStore(t);
  await putOk(store, { topic: 'T', queueId: 0, body: 'one' });
  assert.equal(await store.lookMessageByOffset(-1), null);
  assert.equal(await store.lookMessageByOffset(-4096), null);
});

test('lookMessageByOffset rejects arguments of the wrong type with E_INVALID_ARGUMENT', async (t) => {
  const { store } = await openStore(t);
  await putOk(store, { topic: 'T', queueId: 0, body: 'one' });
  for (const bad of ['0', null, undefined, {}, 1.5, Number.NaN, 2 ** 60]) {
    await assertInvalidArgument(store.lookMessageByOffset(bad as never));
  }
  for (const badSize of ['94', 0, -1, 1.5]) {
    await assertInvalidArgument(store.lookMessageByOffset(0, badSize as never));
  }
  assert.notEqual(await store.lookMessageByOffset(0), null, 'the store still reads after refused calls');
});

test('a configured storeHost and an IPv6 bornHost round trip; IPv6 makes the record 12 bytes larger and sets sysFlag 0x10', async (t) => {
  const { store } = await openStore(t, { storeHost: '10.20.30.40:7777' });
  const msg = { topic: 'Hosts', queueId: 0, body: 'hello' };
  const v4 = (await putOk(store, { ...msg, bornHost: '10.0.0.1:5000' })).appendMessageResult!;
  const v6 = (await putOk(store, { ...msg, bornHost: '[::1]:5000' })).appendMessageResult!;
  assert.equal(v4.wroteBytes, recordBytes(5, 5, 0));
  assert.equal(v6.wroteBytes, v4.wroteBytes + 12);
  assert.equal(v6.msgId, offsetMsgId('0A141E28' + '00001E61', v6.wroteOffset), 'msgId carries the configured store host');

  const read4 = await store.lookMessageByOffset(v4.wroteOffset);
  const read6 = await store.lookMessageByOffset(v6.wroteOffset);
  assert.ok(read4 !== null && read6 !== null);
  assert.equal(read4.bornHost, '10.0.0.1:5000');
  assert.equal(read4.sysFlag & SYSFLAG_BORNHOST_V6, 0);
  assert.equal(read6.bornHost, '[::1]:5000');
  assert.equal(read6.sysFlag & SYSFLAG_BORNHOST_V6, SYSFLAG_BORNHOST_V6);
  assert.equal(read6.sysFlag & SYSFLAG_STOREHOST_V6, 0);
  for (const read of [read4, read6]) {
    assert.equal(read.storeHost, '10.20.30.40:7777');
    assert.equal(read.body.toString('utf8'), 'hello');
  }
  assert.equal(read6.msgId, v6.msgId);
});

test('an IPv6 storeHost gives 56-hex-char msgIds, sysFlag 0x20 and a record 12 bytes larger', async (t) => {
  const { store } = await openStore(t, { storeHost: '[2001:db8::1]:10911' });
  const append = (await putOk(store, { topic: 'Hosts', queueId: 0, body: 'hello', bornHost: '10.0.0.1:5000' })).appendMessageResult!;
  assert.equal(append.wroteBytes, recordBytes(5, 5, 0, 1));
  assert.match(append.msgId, /^[0-9A-F]{56}$/);
  assert.equal(append.msgId, offsetMsgId('20010DB8000000000000000000000001' + '00002A9F', 0));
  const read = await store.lookMessageByOffset(append.wroteOffset);
  assert.ok(read !== null);
  assert.equal(read.storeHost, '[2001:db8::1]:10911');
  assert.equal(read.sysFlag & SYSFLAG_STOREHOST_V6, SYSFLAG_STOREHOST_V6);
  assert.equal(read.msgId, append.msgId);
});

test('topics of 128 and 300 UTF-8 bytes are stored as v2 records and read back', async (t) => {
  const { store, root } = await openStore(t);
  const cases = [
    { topic: 'a'.repeat(127), magic: MAGIC_V1 },
    { topic: '\u00e9'.repeat(64), magic: MAGIC_V2 }, // 64 characters, 128 UTF-8 bytes
    { topic: 't'.repeat(300), magic: MAGIC_V2 },
  ];
  for (const { topic, magic } of cases) {
    const topicBytes = utf8Bytes(topic);
    const first = (await putOk(store, { topic, queueId: 1, body: 'body', tags: 'x' })).appendMessageResult!;
    const second = (await putOk(store, { topic, queueId: 1, body: 'body2' })).appendMessageResult!;
    assert.equal(first.wroteBytes, recordBytes(4, topicBytes, propertiesBytes({ TAGS: 'x' })), `${topicBytes}-byte topic size`);
    assert.equal(first.logicsOffset, 0);
    assert.equal(second.logicsOffset, 1);
    assert.equal(readRecordBytes(root, first.wroteOffset, 8).readUInt32BE(4), magic, `${topicBytes}-byte topic magic`);
    const read = await store.lookMessageByOffset(first.wroteOffset);
    assert.ok(read !== null);
    assert.equal(read.topic, topic);
    assert.equal(read.tags, 'x');
    assert.equal(read.body.toString('utf8'), 'body');
    assert.equal(read.storeSize, first.wroteBytes);
  }
});

test('a body given as a string is stored as UTF-8 and a Uint8Array body is stored byte for byte', async (t) => {
  const { store } = await openStore(t);
  const text = 'h\u00e9llo \u{1F600}';
  const fromString = (await putOk(store, { topic: 'Bodies', queueId: 0, body: text })).appendMessageResult!;
  const bytes = new Uint8Array([0, 1, 2, 250, 255, 0]);
  const fromBytes = (await putOk(store, { topic: 'Bodies', queueId: 0, body: bytes })).appendMessageResult!;
  const empty = (await putOk(store, { topic: 'Bodies', queueId: 0, body: '' })).appendMessageResult!;
  assert.equal(fromString.wroteBytes, recordBytes(utf8Bytes(text), 6, 0));
  assert.equal(fromBytes.wroteBytes, recordBytes(bytes.length, 6, 0));
  assert.equal(empty.wroteBytes, recordBytes(0, 6, 0));
  const readString = await store.lookMessageByOffset(fromString.wroteOffset);
  const readBytes = await store.lookMessageByOffset(fromBytes.wroteOffset);
  const readEmpty = await store.lookMessageByOffset(empty.wroteOffset);
  assert.ok(readString !== null && readBytes !== null && readEmpty !== null);
  assert.equal(readString.body.toString('utf8'), text);
  assert.deepEqual(new Uint8Array(readBytes.body), bytes);
  assert.equal(readEmpty.body.length, 0);
  assert.equal(readEmpty.bodyCRC, 0);
});

test('a prepared transaction message gets queue offset 0 and does not advance its queue', async (t) => {
  const { store } = await openStore(t);
  const msg = { topic: 'Tx', queueId: 2, body: 'half' };
  assert.equal((await putOk(store, msg)).appendMessageResult!.logicsOffset, 0);
  assert.equal((await putOk(store, msg)).appendMessageResult!.logicsOffset, 1);
  const prepared = (await putOk(store, { ...msg, sysFlag: SYSFLAG_TRANSACTION_PREPARED })).appendMessageResult!;
  assert.equal(prepared.logicsOffset, 0);
  const rollback = (await putOk(store, { ...msg, sysFlag: SYSFLAG_TRANSACTION_ROLLBACK })).appendMessageResult!;
  assert.equal(rollback.logicsOffset, 0);
  const normal = (await putOk(store, msg)).appendMessageResult!;
  assert.equal(normal.logicsOffset, 2, 'the next normal message gets the offset the queue had before');
  const commit = (await putOk(store, { ...msg, sysFlag: SYSFLAG_TRANSACTION_COMMIT })).appendMessageResult!;
  assert.equal(commit.logicsOffset, 3, 'a COMMIT record takes a queue offset');

  const readPrepared = await store.lookMessageByOffset(prepared.wroteOffset);
  assert.ok(readPrepared !== null);
  assert.equal(readPrepared.queueOffset, 0);
  assert.equal(readPrepared.sysFlag, SYSFLAG_TRANSACTION_PREPARED);
  const readCommit = await store.lookMessageByOffset(commit.wroteOffset);
  assert.ok(readCommit !== null);
  assert.equal(readCommit.queueOffset, 3);
  assert.equal(readCommit.sysFlag, SYSFLAG_TRANSACTION_COMMIT);
});

test('the WAIT property is never stored', async (t) => {
  const { store } = await openStore(t, { flushDiskType: 'SYNC_FLUSH' });
  const waitTrue = (await putOk(store, { topic: 'W', queueId: 0, body: 'b', properties: { WAIT: 'true', a: 'b' } })).appendMessageResult!;
  const waitFalse = (await putOk(store, { topic: 'W', queueId: 0, body: 'b', properties: { a: 'b', WAIT: 'false' } })).appendMessageResult!;
  const onlyWait = (await putOk(store, { topic: 'W', queueId: 0, body: 'b', properties: { WAIT: 'true' } })).appendMessageResult!;
  assert.equal(waitTrue.wroteBytes, recordBytes(1, 1, propertiesBytes({ a: 'b' })));
  assert.equal(waitFalse.wroteBytes, waitTrue.wroteBytes);
  assert.equal(onlyWait.wroteBytes, recordBytes(1, 1, 0));
  for (const append of [waitTrue, waitFalse]) {
    const read = await store.lookMessageByOffset(append.wroteOffset);
    assert.ok(read !== null);
    assert.deepEqual(read.properties, { a: 'b' });
  }
  const read = await store.lookMessageByOffset(onlyWait.wroteOffset);
  assert.ok(read !== null);
  assert.deepEqual(read.properties, {});
});

test('putMessages stores one record per message with consecutive queue offsets and comma-joined msgIds', async (t) => {
  const { store } = await openStore(t);
  await putOk(store, { topic: 'Batch', queueId: 4, body: 'before' });
  const messages = [
    { body: 'm0', tags: 'TagA' },
    { body: new Uint8Array([9, 8, 7]), keys: 'k' },
    { body: 'm2', properties: { p: 'q' }, flag: 5 },
  ];
  const result = await store.putMessages({ topic: 'Batch', queueId: 4, messages, bornHost: '[::1]:5000' });
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  const append = result.appendMessageResult!;
  assert.equal(append.msgNum, 3);
  assert.equal(append.logicsOffset, 1);
  const ids = append.msgId.split(',');
  assert.equal(ids.length, 3);
  let offset = append.wroteOffset;
  for (let i = 0; i < ids.length; i++) {
    const read = await store.lookMessageByOffset(offset);
    assert.ok(read !== null);
    assert.equal(read.msgId, ids[i]);
    assert.equal(read.queueOffset, 1 + i);
    assert.equal(read.queueId, 4);
    assert.equal(read.bornHost, '[::1]:5000');
    assert.equal(read.storeTimestamp, append.storeTimestamp, 'one store timestamp for the whole batch');
    offset += read.storeSize;
  }
  assert.equal(offset - append.wroteOffset, append.wroteBytes);
  const last = await store.lookMessageByOffset(append.wroteOffset + append.wroteBytes - recordBytes(2, 5, propertiesBytes({ p: 'q' }), 1));
  assert.ok(last !== null);
  assert.equal(last.flag, 5);
  assert.deepEqual(last.properties, { p: 'q' });
  assert.equal((await putOk(store, { topic: 'Batch', queueId: 4, body: 'after' })).appendMessageResult!.logicsOffset, 4);
});
