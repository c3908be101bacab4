// Goal: the consume queue and index files the store writes are RocketMQ's, byte for byte.
// Method: put a few known messages, wait for dispatch, close, then decode the files with plain
// Buffer reads (no store code) and compare with putMessage's results: 20-byte consume queue units
// (big-endian offset, size, tags hash), a sparse full-size file, the index header, slots and entries.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { MessageInput, PutMessageResult } from '../../src/index.js';
import { fileName20, javaHash, putOk, sleep, TempStore, waitDispatched } from '../support/dispatch_support.js';

const CQ_CONFIGURED_BYTES = 1_999_990; // rounded up to 2_000_000 (100000 units)
const CQ_FILE_BYTES = 2_000_000;
const SLOTS = 50;
const INDEX_NUM = 5000;
const OPTIONS = {
  mappedFileSizeCommitLog: 1 << 20,
  mappedFileSizeConsumeQueue: CQ_CONFIGURED_BYTES,
  maxHashSlotNum: SLOTS,
  maxIndexNum: INDEX_NUM,
};
const TOPIC = 'LayoutTopic';
const QUEUE_ID = 3;

interface Put {
  input: MessageInput;
  result: PutMessageResult;
  /** The index keys RocketMQ builds, in order: UNIQ_KEY first, then every KEYS entry. */
  indexKeys: string[];
}

/** abs(String.hashCode) with Integer.MIN_VALUE → 0 (RocketMQ IndexFile.indexKeyHashMethod). */
function indexKeyHash(key: string): number {
  const hash = javaHash(key);
  return hash === -2147483648 ? 0 : Math.abs(hash);
}

function readInt64(buffer: Buffer, at: number): number {
  return Number(buffer.readBigInt64BE(at));
}

async function putKnownMessages(temp: TempStore): Promise<Put[]> {
  const inputs: Array<{ input: MessageInput; pauseMs?: number }> = [
    { input: { topic: TOPIC, queueId: QUEUE_ID, body: 'first', tags: 'TagA', keys: 'k1' } },
    { input: { topic: 'OtherTopic', queueId: 0, body: 'other', keys: 'k1' } },
    { input: { topic: TOPIC, queueId: QUEUE_ID, body: 'no tag', keys: ['k2', 'k3'] } },
    { input: { topic: TOPIC, queueId: QUEUE_ID, body: 'negative hash tag', tags: 'LayoutTagNegative', properties: { UNIQ_KEY: 'U3' }, keys: 'k1' } },
    { input: { topic: TOPIC, queueId: 0, body: 'other queue, no keys', tags: 'TagA' } },
    // After a pause, so the entries' timeDiff (seconds since the file's begin) is not 0.
    { input: { topic: TOPIC, queueId: QUEUE_ID, body: 'late', tags: 'TagB', keys: ['k2', 'k4'] }, pauseMs: 2100 },
    { input: { topic: TOPIC, queueId: QUEUE_ID, body: 'x'.repeat(3000), tags: 'TagA' } },
  ];
  const puts: Put[] = [];
  for (const { input, pauseMs } of inputs) {
    if (pauseMs !== undefined) await sleep(pauseMs);
    const result = await putOk(temp.store, input);
    const keys = input.keys === undefined ? [] : typeof input.keys === 'string' ? [input.keys] : input.keys;
    const uniq = input.properties?.['UNIQ_KEY'];
    puts.push({ input, result, indexKeys: [...(uniq === undefined ? [] : [uniq]), ...keys] });
  }
  await waitDispatched(temp.store);
  await temp.close();
  return puts;
}

test('consume queue units and index entries are RocketMQ bytes at RocketMQ positions', { timeout: 30_000 }, async (t) => {
  const temp = await TempStore.open(t, 'layout', OPTIONS);
  const openedMs = Date.now();
  const puts = await putKnownMessages(temp);
  const closedMs = Date.now();
  assert.equal(javaHash('LayoutTagNegative') < 0, true, 'one tag has a negative hash (sign-extended to 8 bytes)');

  // ---- consume queue: consumequeue/LayoutTopic/3/00000000000000000000
  const cqDir = temp.path('consumequeue', TOPIC, String(QUEUE_ID));
  assert.deepEqual(fs.readdirSync(cqDir), [fileName20(0)]);
  const cqFile = `${cqDir}/${fileName20(0)}`;
  const cqStat = fs.statSync(cqFile);
  assert.equal(cqStat.size, CQ_FILE_BYTES, 'mappedFileSizeConsumeQueue rounded up to a multiple of 20');
  assert.ok(cqStat.blocks * 512 <= 64 * 1024, `the file is sparse: ${cqStat.blocks * 512} bytes allocated of ${cqStat.size}`);
  const cq = fs.readFileSync(cqFile);
  const mine = puts.filter((p) => p.input.topic === TOPIC && p.input.queueId === QUEUE_ID);
  assert.equal(mine.length, 5);
  for (const [n, put] of mine.entries()) {
    const a = put.result.appendMessageResult!;
    assert.equal(a.logicsOffset, n);
    const at = n * 20;
    assert.equal(readInt64(cq, at), a.wroteOffset, `unit ${n}: commitlog offset (8 bytes, big-endian)`);
    assert.equal(cq.readInt32BE(at + 8), a.wroteBytes, `unit ${n}: size (4 bytes)`);
    const tagsCode = put.input.tags === undefined ? 0 : javaHash(put.input.tags);
    assert.equal(readInt64(cq, at + 12), tagsCode, `unit ${n}: tags code (8 bytes, sign-extended Java hashCode)`);
  }
  assert.ok(cq.subarray(mine.length * 20).every((byte) => byte === 0), 'zeros after the last unit');
  // The other queue of the topic has its own file with its one unit.
  const q0 = fs.readFileSync(temp.path('consumequeue', TOPIC, '0', fileName20(0)));
  const q0Put = puts.find((p) => p.input.topic === TOPIC && p.input.queueId === 0)!.result.appendMessageResult!;
  assert.equal(readInt64(q0, 0), q0Put.wroteOffset);
  assert.equal(q0.readInt32BE(8), q0Put.wroteBytes);
  assert.equal(readInt64(q0, 12), 2598919, "'TagA' → 2598919");

  // ---- index: index/<yyyyMMddHHmmssSSS>
  const names = fs.readdirSync(temp.path('index'));
  assert.equal(names.length, 1);
  const name = names[0]!;
  assert.match(name, /^\d{17}$/);
  const created = new Date(+name.slice(0, 4), +name.slice(4, 6) - 1, +name.slice(6, 8), +name.slice(8, 10), +name.slice(10, 12), +name.slice(12, 14), +name.slice(14, 17));
  assert.ok(created.getTime() >= openedMs - 1000 && created.getTime() <= closedMs + 1000, `file named by its local creation time: ${name}`);
  const index = fs.readFileSync(temp.path('index', name));
  assert.equal(index.length, 40 + SLOTS * 4 + INDEX_NUM * 20);

  // Expected entries, numbered from 1: one per key of each keyed message, in log order.
  const entries: Array<{ keyHash: number; phyOffset: number; storeTimestamp: number }> = [];
  for (const put of puts) {
    for (const key of put.indexKeys) {
      const a = put.result.appendMessageResult!;
      entries.push({ keyHash: indexKeyHash(`${put.input.topic}#${key}`), phyOffset: a.wroteOffset, storeTimestamp: a.storeTimestamp });
    }
  }
  assert.equal(entries.length, 8);
  const first = entries[0]!;
  const last = entries[entries.length - 1]!;
  assert.equal(readInt64(index, 0), first.storeTimestamp, 'beginTimestamp');
  assert.equal(readInt64(index, 8), last.storeTimestamp, 'endTimestamp');
  assert.equal(readInt64(index, 16), first.phyOffset, 'beginPhyOffset');
  assert.equal(readInt64(index, 24), last.phyOffset, 'endPhyOffset');
  const slotsUsed = new Set(entries.map((e) => e.keyHash % SLOTS));
  assert.equal(index.readInt32BE(32), slotsUsed.size, 'hashSlotCount');
  assert.equal(index.readInt32BE(36), entries.length + 1, 'indexCount (entry 0 is never used)');

  const lastInSlot = new Map<number, number>();
  for (const [i, entry] of entries.entries()) {
    const number = i + 1;
    const slot = entry.keyHash % SLOTS;
    const at = 40 + SLOTS * 4 + number * 20;
    const timeDiff = i === 0 ? 0 : Math.trunc((entry.storeTimestamp - first.storeTimestamp) / 1000);
    assert.equal(index.readInt32BE(at), entry.keyHash, `entry ${number}: keyHash`);
    assert.equal(readInt64(index, at + 4), entry.phyOffset, `entry ${number}: phyOffset`);
    assert.equal(index.readInt32BE(at + 12), timeDiff, `entry ${number}: timeDiff (s)`);
    assert.equal(index.readInt32BE(at + 16), lastInSlot.get(slot) ?? 0, `entry ${number}: prevIndex (chain in slot ${slot})`);
    lastInSlot.set(slot, number);
  }
  assert.ok(entries.some((e, i) => i > 0 && Math.trunc((e.storeTimestamp - first.storeTimestamp) / 1000) >= 2), 'some entry has timeDiff ≥ 2');
  assert.ok([...lastInSlot.values()].length < entries.length, 'some slot holds a chain of more than one entry');
  for (let slot = 0; slot < SLOTS; slot++) {
    assert.equal(index.readInt32BE(40 + slot * 4), lastInSlot.get(slot) ?? 0, `slot ${slot}: newest entry number`);
  }
  const entriesEnd = 40 + SLOTS * 4 + (entries.length + 1) * 20;
  assert.ok(index.subarray(40 + SLOTS * 4, 40 + SLOTS * 4 + 20).every((b) => b === 0), 'entry 0 is all zeros');
  assert.ok(index.subarray(entriesEnd).every((b) => b === 0), 'zeros after the last entry');
  const indexStat = fs.statSync(temp.path('index', name));
  assert.ok(indexStat.blocks * 512 < indexStat.size, 'the index file is sparse too');

  // The example of the reference: "FooBar#Hello" → hashCode −101609924 → keyHash 101609924.
  assert.equal(javaHash('FooBar#Hello'), -101609924);
  assert.equal(indexKeyHash('FooBar#Hello'), 101609924);
});
