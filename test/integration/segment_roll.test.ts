// Goal: the sequencer closes a 4096-byte CommitLog segment with a BLANK record and rolls to the next one exactly as RocketMQ does.
// Method: real store (real writer worker, real files) per test in a fresh temp dir; read the segment files' bytes back and decode them.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, PutMessageStatus, decodeMessages, type PutMessageResult } from '../../src/index.js';

const SEGMENT_BYTES = 4096;
const BLANK_MAGIC = 0xcbd43194;
const MAGIC_V1 = 0xdaa320a7;
const TOPIC = 'RollTopic';
const TOPIC_BYTES = Buffer.byteLength(TOPIC, 'utf8');

/** RocketMQ's record size for IPv4 hosts and a v1 topic: 91 + body + topic + properties. */
function recordBytes(bodyBytes: number, topicBytes = TOPIC_BYTES, propertiesBytes = 0): number {
  return 91 + bodyBytes + topicBytes + propertiesBytes;
}

/** The body size that makes a record of `sizeBytes` on TOPIC with no properties. */
function bodyFor(sizeBytes: number): Buffer {
  const bodyBytes = sizeBytes - recordBytes(0);
  assert.ok(bodyBytes >= 0, `a record of ${sizeBytes} bytes is too small for topic ${TOPIC}`);
  return Buffer.alloc(bodyBytes, 0x61);
}

interface Opened {
  root: string;
  store: MessageStore;
  commitLogDir: string;
}

async function openStore(t: TestContext): Promise<Opened> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-roll-'));
  let store: MessageStore | null = null;
  t.after(async () => {
    if (store !== null) await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  store = await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES });
  return { root, store, commitLogDir: path.join(root, 'commitlog') };
}

function readSegment(commitLogDir: string, startOffset: number): Buffer {
  return fs.readFileSync(path.join(commitLogDir, String(startOffset).padStart(20, '0')));
}

async function putOk(store: MessageStore, body: Buffer, queueId = 0): Promise<PutMessageResult> {
  const result = await store.putMessage({ topic: TOPIC, queueId, body });
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK, `put of a ${body.length}-byte body`);
  assert.ok(result.appendMessageResult !== undefined);
  return result;
}

function assertBlankAt(segment: Buffer, position: number, bytesLeft: number): void {
  assert.equal(segment.readInt32BE(position), bytesLeft, 'BLANK TOTALSIZE is the bytes left in the segment');
  assert.equal(segment.readUInt32BE(position + 4), BLANK_MAGIC, 'BLANK MAGIC');
}

test('a fresh store reports min physical offset -1, and 0 after the first put', async (t) => {
  const { store } = await openStore(t);
  assert.equal(store.getMinPhyOffset(), -1);
  assert.equal(store.getMaxPhyOffset(), 0);
  const result = await putOk(store, bodyFor(200));
  assert.equal(result.appendMessageResult!.wroteOffset, 0);
  assert.equal(store.getMinPhyOffset(), 0);
  assert.equal(store.getMaxPhyOffset(), 200);
});

test('a message that does not fit leaves a BLANK record and lands at offset 4096 in segment 00000000000000004096', async (t) => {
  const { store, commitLogDir } = await openStore(t);
  const firstBytes = 2000;
  await putOk(store, bodyFor(firstBytes));
  const bytesLeft = SEGMENT_BYTES - firstBytes;
  // One byte too many: size + 8 > bytes left.
  const secondBytes = bytesLeft - 8 + 1;
  const second = await putOk(store, bodyFor(secondBytes));
  assert.equal(second.appendMessageResult!.wroteOffset, SEGMENT_BYTES);
  assert.equal(second.appendMessageResult!.wroteBytes, secondBytes);
  assert.equal(second.appendMessageResult!.logicsOffset, 1, 'the roll does not consume a queue offset');
  assert.equal(store.getMaxPhyOffset(), SEGMENT_BYTES + secondBytes);
  assert.equal(store.getMinPhyOffset(), 0);

  const segment1 = readSegment(commitLogDir, 0);
  assertBlankAt(segment1, firstBytes, bytesLeft);
  assert.ok(segment1.subarray(firstBytes + 8).every((b) => b === 0), 'bytes after the BLANK header stay zero');
  assert.equal(decodeMessages(segment1).length, 1, 'segment 1 holds only the first message');

  assert.ok(fs.existsSync(path.join(commitLogDir, '00000000000000004096')));
  const segment2 = readSegment(commitLogDir, SEGMENT_BYTES);
  const [moved, ...rest] = decodeMessages(segment2);
  assert.equal(rest.length, 0);
  assert.ok(moved !== undefined);
  assert.equal(moved.commitLogOffset, SEGMENT_BYTES);
  assert.equal(moved.storeSize, secondBytes);
  assert.equal(moved.queueOffset, 1);

  const read = await store.lookMessageByOffset(SEGMENT_BYTES);
  assert.ok(read !== null);
  assert.equal(read.body.length, secondBytes - recordBytes(0));
  assert.equal(await store.lookMessageByOffset(firstBytes), null, 'a BLANK record is not a message');
  assert.equal(await store.lookMessageByOffset(firstBytes + 8), null, 'the zero fill after a BLANK is not a message');
});

test('a message that exactly fits (size + 8 == bytes left) stays in the segment and the later BLANK is exactly 8 bytes', async (t) => {
  const { store, commitLogDir } = await openStore(t);
  const firstBytes = 1000;
  await putOk(store, bodyFor(firstBytes));
  const fitBytes = SEGMENT_BYTES - firstBytes - 8;
  const fit = await putOk(store, bodyFor(fitBytes));
  assert.equal(fit.appendMessageResult!.wroteOffset, firstBytes, 'the exactly-fitting message stays in segment 1');
  assert.equal(store.getMaxPhyOffset(), SEGMENT_BYTES - 8);

  const next = await putOk(store, bodyFor(300));
  assert.equal(next.appendMessageResult!.wroteOffset, SEGMENT_BYTES);
  assert.equal(next.appendMessageResult!.logicsOffset, 2);
  assert.equal(store.getMaxPhyOffset(), SEGMENT_BYTES + 300);

  const segment1 = readSegment(commitLogDir, 0);
  assertBlankAt(segment1, SEGMENT_BYTES - 8, 8);
  const records = decodeMessages(segment1);
  assert.deepEqual(records.map((m) => [m.commitLogOffset, m.storeSize]), [[0, firstBytes], [firstBytes, fitBytes]]);
  const segment2 = readSegment(commitLogDir, SEGMENT_BYTES);
  assert.deepEqual(decodeMessages(segment2).map((m) => [m.commitLogOffset, m.storeSize]), [[SEGMENT_BYTES, 300]]);
});

test('a batch that would straddle two segments moves whole to the next segment', async (t) => {
  const { store, commitLogDir } = await openStore(t);
  const firstBytes = 3000;
  await putOk(store, bodyFor(firstBytes));
  const bodies = ['one', 'two', 'three!', 'four'].map((s) => Buffer.from(s.repeat(80), 'utf8'));
  const sizes = bodies.map((b) => recordBytes(b.length));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  assert.ok(totalBytes + 8 > SEGMENT_BYTES - firstBytes, 'the batch must not fit the rest of segment 1');
  assert.ok(sizes[0]! + 8 <= SEGMENT_BYTES - firstBytes, 'its first message alone would fit (so it is not split)');

  const result = await store.putMessages({ topic: TOPIC, queueId: 0, messages: bodies.map((body) => ({ body })) });
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  const append = result.appendMessageResult!;
  assert.equal(append.wroteOffset, SEGMENT_BYTES);
  assert.equal(append.wroteBytes, totalBytes);
  assert.equal(append.msgNum, bodies.length);
  assert.equal(append.logicsOffset, 1, 'logicsOffset is the first queue offset of the batch');
  const ids = append.msgId.split(',');
  assert.equal(ids.length, bodies.length, 'one msgId per message, comma-joined');
  for (const id of ids) assert.match(id, /^[0-9A-F]{32}$/);
  assert.equal(new Set(ids).size, ids.length);

  const segment1 = readSegment(commitLogDir, 0);
  assertBlankAt(segment1, firstBytes, SEGMENT_BYTES - firstBytes);
  assert.equal(decodeMessages(segment1).length, 1, 'no record of the batch is left in segment 1');

  const records = decodeMessages(readSegment(commitLogDir, SEGMENT_BYTES));
  assert.equal(records.length, bodies.length);
  let expectedOffset = SEGMENT_BYTES;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    assert.equal(record.commitLogOffset, expectedOffset);
    assert.equal(record.storeSize, sizes[i]);
    assert.equal(record.queueOffset, 1 + i);
    assert.deepEqual(record.body, bodies[i]);
    assert.equal(record.msgId, ids[i], 'the result msgId encodes each record offset');
    expectedOffset += sizes[i]!;
  }
  assert.equal(store.getMaxPhyOffset(), SEGMENT_BYTES + totalBytes);
  const after = await putOk(store, bodyFor(200));
  assert.equal(after.appendMessageResult!.logicsOffset, 1 + bodies.length);
});

test('a message whose record can never fit a segment (size + 8 > 4096) is MESSAGE_ILLEGAL and writes nothing', async (t) => {
  const { store, commitLogDir } = await openStore(t);
  const tooBig = await store.putMessage({ topic: TOPIC, queueId: 0, body: bodyFor(SEGMENT_BYTES - 8 + 1) });
  assert.equal(tooBig.putMessageStatus, PutMessageStatus.MESSAGE_ILLEGAL);
  assert.equal(tooBig.ok, false);
  assert.equal(tooBig.appendMessageResult, undefined);
  assert.equal(store.getMaxPhyOffset(), 0);
  assert.equal(store.getMinPhyOffset(), -1);

  const batch = await store.putMessages({
    topic: TOPIC,
    queueId: 0,
    messages: [{ body: bodyFor(2100) }, { body: bodyFor(2100) }],
  });
  assert.equal(batch.putMessageStatus, PutMessageStatus.MESSAGE_ILLEGAL, 'a batch larger than a segment is illegal too');
  assert.equal(store.getMaxPhyOffset(), 0);
  await store.flush();
  assert.ok(readSegment(commitLogDir, 0).every((b) => b === 0), 'segment 1 is untouched');

  // The largest record a segment can take still goes in, at offset 0 and queue offset 0.
  const largest = await putOk(store, bodyFor(SEGMENT_BYTES - 8));
  assert.equal(largest.appendMessageResult!.wroteOffset, 0);
  assert.equal(largest.appendMessageResult!.logicsOffset, 0);
});

test('every CommitLog segment file is exactly 4096 bytes and named by its start offset', async (t) => {
  const { store, commitLogDir } = await openStore(t);
  const wrote: Array<[number, number]> = [];
  for (let i = 0; i < 12; i++) {
    const result = await putOk(store, bodyFor(700 + 97 * i), i % 3);
    wrote.push([result.appendMessageResult!.wroteOffset, result.appendMessageResult!.wroteBytes]);
  }
  await store.flush();
  const last = wrote[wrote.length - 1]!;
  assert.ok(last[0] >= 2 * SEGMENT_BYTES, 'the puts span at least three segments');
  assert.equal(store.getMaxPhyOffset(), last[0] + last[1]);
  for (const [offset, size] of wrote) {
    assert.equal(Math.floor(offset / SEGMENT_BYTES), Math.floor((offset + size - 1) / SEGMENT_BYTES), 'no record straddles');
  }
  const names = fs.readdirSync(commitLogDir).sort();
  assert.ok(names.length >= 3);
  names.forEach((name, i) => {
    assert.equal(name, String(i * SEGMENT_BYTES).padStart(20, '0'));
    assert.equal(fs.statSync(path.join(commitLogDir, name)).size, SEGMENT_BYTES, `${name} size`);
  });
  // Every full segment ends in a BLANK whose header sits right after its last record.
  for (let start = 0; start + SEGMENT_BYTES <= last[0]; start += SEGMENT_BYTES) {
    const segment = readSegment(commitLogDir, start);
    const records = decodeMessages(segment);
    const tail = records[records.length - 1]!;
    const blankAt = tail.commitLogOffset + tail.storeSize - start;
    assertBlankAt(segment, blankAt, SEGMENT_BYTES - blankAt);
    assert.equal(segment.readUInt32BE(4), MAGIC_V1, 'a segment starts with a v1 record');
  }
});
