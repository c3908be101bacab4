// Goal: every message put is readable by queue offset, by key and by time once dispatched, and
// reads after a clean close and reopen are identical.
// Method: 2000 seeded messages over 3 topics × 4 queues with tags and keys (string and string[])
// on small segments, consume queue files and index files, so every read crosses file ends.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetMessageStatus, type MessageInput, type MessageStore, type PutMessageResult } from '../../src/index.js';
import { Prng } from '../support/prng.js';
import { messageView, putAll, readQueue, sleep, TempStore, waitDispatched } from '../support/dispatch_support.js';

const TOPICS = ['ReadTopicA', 'ReadTopicB', 'ReadTopicC'] as const;
const QUEUES = 4;
const MESSAGE_COUNT = 2000;
const TAGS = ['TagA', 'TagB', 'TagC', undefined] as const;
/** Messages sharing one `group-<n>` key. */
const GROUP_SIZE = 7;

const OPTIONS = {
  mappedFileSizeCommitLog: 128 * 1024,
  mappedFileSizeConsumeQueue: 2000, // 100 units per file: queues of ~170 messages span two files
  maxHashSlotNum: 500,
  maxIndexNum: 1500, // ~3300 keys: three index files
  flushIntervalConsumeQueue: 50,
};

interface Sent {
  input: MessageInput;
  keys: string[];
  result: PutMessageResult;
}

function messageInputs(seed: number): MessageInput[] {
  const prng = new Prng(seed);
  const inputs: MessageInput[] = [];
  for (let i = 0; i < MESSAGE_COUNT; i++) {
    const topic = TOPICS[prng.below(TOPICS.length)]!;
    const queueId = prng.below(QUEUES);
    const tags = TAGS[i % TAGS.length];
    const body = `body-${i}-` + 'x'.repeat(prng.below(200));
    const input: MessageInput = { topic, queueId, body };
    if (tags !== undefined) input.tags = tags;
    // A third with one key (string), a third with two (array: own key + group key), a third none.
    if (i % 3 === 0) input.keys = `key-${i}`;
    else if (i % 3 === 1) input.keys = [`key-${i}`, `group-${Math.floor(i / (3 * GROUP_SIZE))}`];
    inputs.push(input);
  }
  return inputs;
}

function keysOf(input: MessageInput): string[] {
  if (input.keys === undefined) return [];
  return typeof input.keys === 'string' ? [input.keys] : input.keys;
}

/** Puts in 20 bursts with a pause between them, so store timestamps spread over distinct ms. */
async function sendAll(store: MessageStore, inputs: readonly MessageInput[]): Promise<Sent[]> {
  const sent: Sent[] = [];
  const burst = inputs.length / 20;
  for (let i = 0; i < inputs.length; i += burst) {
    const slice = inputs.slice(i, i + burst);
    const results = await putAll(store, slice, burst);
    for (const [j, result] of results.entries()) sent.push({ input: slice[j]!, keys: keysOf(slice[j]!), result });
    await sleep(3);
  }
  return sent;
}

function byQueue(sent: readonly Sent[]): Map<string, Sent[]> {
  const queues = new Map<string, Sent[]>();
  for (const s of sent) {
    const key = `${s.input.topic}/${s.input.queueId}`;
    if (!queues.has(key)) queues.set(key, []);
    queues.get(key)!.push(s);
  }
  return queues;
}

function allQueues(): Array<[string, number]> {
  return TOPICS.flatMap((topic) => Array.from({ length: QUEUES }, (_, q) => [topic, q] as [string, number]));
}

/** Reads every queue to its end and checks each message against what was put. */
async function checkByQueueOffset(store: MessageStore, sent: readonly Sent[]): Promise<Map<string, unknown[]>> {
  const expected = byQueue(sent);
  const views = new Map<string, unknown[]>();
  for (const [topic, queueId] of allQueues()) {
    const want = expected.get(`${topic}/${queueId}`) ?? [];
    assert.equal(store.getMaxOffsetInQueue(topic, queueId), want.length, `${topic}/${queueId} max offset`);
    assert.equal(store.getMinOffsetInQueue(topic, queueId), 0, `${topic}/${queueId} min offset`);
    const read = await readQueue(store, topic, queueId, { maxMsgNums: 32 });
    assert.equal(read.messages.length, want.length, `${topic}/${queueId}: messages read`);
    for (const [i, message] of read.messages.entries()) {
      const s = want[i]!;
      const where = `${topic}/${queueId} queue offset ${i}`;
      const a = s.result.appendMessageResult!;
      assert.equal(message.queueOffset, i, where);
      assert.equal(a.logicsOffset, i, `${where}: the put's logicsOffset`);
      assert.equal(message.commitLogOffset, a.wroteOffset, where);
      assert.equal(message.storeSize, a.wroteBytes, where);
      assert.equal(message.storeTimestamp, a.storeTimestamp, where);
      assert.equal(message.msgId, a.msgId, where);
      assert.equal(message.body.toString('utf8'), s.input.body, where);
      assert.equal(message.tags, s.input.tags, where);
      assert.deepEqual(message.keys, s.keys, where);
    }
    // Every pull but the last one returns FOUND and moves next by the number of messages.
    let offset = 0;
    for (const result of read.results.slice(0, -1)) {
      assert.equal(result.status, GetMessageStatus.FOUND);
      assert.ok(result.messages.length <= 32);
      assert.equal(result.nextBeginOffset, offset + result.messages.length);
      offset = result.nextBeginOffset;
    }
    const last = read.results[read.results.length - 1]!;
    if (want.length > 0) {
      assert.equal(last.status, GetMessageStatus.OFFSET_OVERFLOW_ONE);
      assert.equal(last.nextBeginOffset, want.length);
    }
    views.set(`${topic}/${queueId}`, read.messages.map(messageView));
  }
  return views;
}

/** Every key finds exactly the messages that carry it (query window generous), oldest first. */
async function checkByKey(store: MessageStore, sent: readonly Sent[]): Promise<Map<string, unknown[]>> {
  const carriers = new Map<string, Sent[]>();
  for (const s of sent) {
    for (const key of s.keys) {
      const id = `${s.input.topic}\u0000${key}`;
      if (!carriers.has(id)) carriers.set(id, []);
      carriers.get(id)!.push(s);
    }
  }
  const views = new Map<string, unknown[]>();
  const end = Date.now() + 60_000;
  for (const [id, want] of carriers) {
    const [topic, key] = id.split('\u0000') as [string, string];
    const found = await store.queryMessage(topic, key, 64, 0, end);
    const offsets = found.messages.map((m) => m.commitLogOffset);
    const wantOffsets = want.map((s) => s.result.appendMessageResult!.wroteOffset).sort((a, b) => a - b);
    assert.deepEqual(offsets, wantOffsets, `queryMessage(${topic}, ${key})`);
    for (const message of found.messages) {
      assert.equal(message.topic, topic);
      assert.ok(message.keys.includes(key), `queryMessage(${topic}, ${key}) returned a message with keys ${message.keys.join(' ')}`);
    }
    views.set(id, found.messages.map(messageView));
  }
  // A key of one topic is not found under another topic, nor is an unknown key.
  const first = sent.find((s) => s.keys.length > 0)!;
  const otherTopic = TOPICS.find((topic) => topic !== first.input.topic)!;
  const stray = await store.queryMessage(otherTopic, first.keys[0]!, 64, 0, end);
  assert.ok(stray.messages.every((m) => m.topic === otherTopic && m.keys.includes(first.keys[0]!)), 'no message of another topic');
  assert.deepEqual((await store.queryMessage(TOPICS[0], 'no-such-key', 64, 0, end)).messages, []);
  return views;
}

/** Time lookups against the store timestamps the puts returned. */
async function checkByTime(store: MessageStore, sent: readonly Sent[]): Promise<unknown[]> {
  const answers: unknown[] = [];
  const first = sent.reduce((a, b) => (a.result.appendMessageResult!.wroteOffset < b.result.appendMessageResult!.wroteOffset ? a : b));
  assert.equal(first.result.appendMessageResult!.wroteOffset, 0);
  assert.equal(await store.getEarliestMessageTime(), first.result.appendMessageResult!.storeTimestamp, 'earliest time of the store');
  for (const [key, want] of byQueue(sent)) {
    const [topic, q] = key.split('/') as [string, string];
    const queueId = Number(q);
    const times = want.map((s) => s.result.appendMessageResult!.storeTimestamp);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `${key}: store times never go back`);
    assert.equal(await store.getEarliestMessageTime(topic, queueId), times[0], `${key}: earliest time`);
    for (const i of [0, Math.floor(times.length / 2), times.length - 1]) {
      assert.equal(await store.getMessageStoreTimeStamp(topic, queueId, i), times[i], `${key}: store time at ${i}`);
    }
    assert.equal(await store.getMessageStoreTimeStamp(topic, queueId, times.length), -1, `${key}: store time past the end`);
    const probes = new Set<number>([times[0]! - 1000, times[times.length - 1]! + 1000]);
    for (let i = 0; i < times.length; i += Math.max(1, Math.floor(times.length / 12))) {
      probes.add(times[i]!);
      probes.add(times[i]! + 1);
      probes.add(times[i]! - 1);
    }
    for (const ts of [...probes].sort((a, b) => a - b)) {
      // LOWER: the first offset stored at or after ts (max if none); UPPER: the last at or before (min if none).
      const lowerIndex = times.findIndex((time) => time >= ts);
      const lower = lowerIndex < 0 ? times.length : lowerIndex;
      let upper = 0;
      for (let i = 0; i < times.length; i++) if (times[i]! <= ts) upper = i;
      const gotLower = await store.getOffsetInQueueByTime(topic, queueId, ts, 'LOWER');
      const gotUpper = await store.getOffsetInQueueByTime(topic, queueId, ts, 'UPPER');
      assert.equal(gotLower, lower, `${key}: LOWER at ${ts}`);
      assert.equal(gotUpper, upper, `${key}: UPPER at ${ts}`);
      assert.equal(await store.getOffsetInQueueByTime(topic, queueId, ts), lower, `${key}: LOWER is the default`);
      answers.push([key, ts, gotLower, gotUpper]);
    }
  }
  assert.equal(await store.getEarliestMessageTime('NeverWritten', 0), -1);
  assert.equal(await store.getOffsetInQueueByTime('NeverWritten', 0, Date.now()), 0);
  return answers;
}

test('2000 messages read back by queue offset, key and time, identically after a clean reopen', { timeout: 60_000 }, async (t) => {
  const temp = await TempStore.open(t, 'reads', OPTIONS);
  const sent = await sendAll(temp.store, messageInputs(0x5eed));
  await waitDispatched(temp.store, allQueues());
  assert.ok(temp.store.getMaxPhyOffset() > 3 * OPTIONS.mappedFileSizeCommitLog, 'the log spans several segments');

  const queueViews = await checkByQueueOffset(temp.store, sent);
  const keyViews = await checkByKey(temp.store, sent);
  const timeAnswers = await checkByTime(temp.store, sent);

  const store = await temp.reopen();
  const report = store.getRecoveryReport();
  assert.equal(report.lastExitOK, true);
  assert.deepEqual(report.derived.consumeQueuesRebuilt, [], 'a clean reopen rebuilds no consume queue');
  assert.equal(report.derived.indexRebuilt, false, 'a clean reopen does not rebuild the index');
  assert.deepEqual(report.derived.events, []);
  assert.equal(report.derived.consumeQueueCount, TOPICS.length * QUEUES);
  assert.ok(report.derived.indexFileCount >= 2, `index files: ${report.derived.indexFileCount}`);
  assert.equal(store.dispatchBehindBytes(), 0);

  assert.deepEqual(await checkByQueueOffset(store, sent), queueViews, 'reads by queue offset after reopen');
  assert.deepEqual(await checkByKey(store, sent), keyViews, 'reads by key after reopen');
  assert.deepEqual(await checkByTime(store, sent), timeAnswers, 'reads by time after reopen');
});

test('queryMessage finds a message whose exact store time is the query begin (index times are whole seconds)', async (t) => {
  const temp = await TempStore.open(t, 'query-begin', { maxHashSlotNum: 64, maxIndexNum: 256 });
  const store = temp.store;
  await store.putMessage({ topic: 'Qb', queueId: 0, body: 'first', keys: 'k0' }); // the index file's begin time
  await sleep(1300);
  const put = await store.putMessage({ topic: 'Qb', queueId: 0, body: 'second', keys: 'k1' });
  const storeTimestamp = put.appendMessageResult!.storeTimestamp;
  await waitDispatched(store, [['Qb', 0]]);
  // The entry says begin + 1000 ms (timeDiff 1 s); the record says begin + ~1300 ms.
  const exact = await store.queryMessage('Qb', 'k1', 8, storeTimestamp, storeTimestamp);
  assert.deepEqual(exact.messages.map((m) => m.body.toString()), ['second']);
  const after = await store.queryMessage('Qb', 'k1', 8, storeTimestamp + 1, storeTimestamp + 5000);
  assert.equal(after.messages.length, 0, 'the record\'s own time still bounds the answer');
});
