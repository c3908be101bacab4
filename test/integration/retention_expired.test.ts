// Goal: retention deletes expired CommitLog segments (oldest first, never the active one, at most
// deleteFileBatchMax per run) and the consume queue and index files wholly below the new minimum;
// reads below answer OFFSET_TOO_SMALL; puts go on. A full disk refuses puts until it has room.
// Method: small segments and consume queue files, fileReservedTime 0 through updateConfig, manual
// runs (deleteExpiredFilesManually); the disk usage probe replaced through MessageStore.open's internals.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { GetMessageStatus, PutMessageStatus, type MessageInput, type MessageStore, type PutMessageResult } from '../../src/index.js';
import { fileName20, putAll, putOk, readQueue, sleep, TempStore, waitDispatched } from '../support/dispatch_support.js';

const SEGMENT_BYTES = 64 * 1024;
const CQ_UNITS_PER_FILE = 20;
const OPTIONS = {
  mappedFileSizeCommitLog: SEGMENT_BYTES,
  mappedFileSizeConsumeQueue: CQ_UNITS_PER_FILE * 20,
  maxHashSlotNum: 50,
  maxIndexNum: 100,
  deleteCommitLogFilesInterval: 0,
  deleteConsumeQueueFilesInterval: 0,
  flushIntervalConsumeQueue: 20,
};
const QUEUES: Array<[string, number]> = [['KeepA', 0], ['KeepA', 1], ['KeepB', 0], ['KeepB', 3]];

interface Sent {
  input: MessageInput;
  result: PutMessageResult;
}

function inputs(count: number, from: number): MessageInput[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const [topic, queueId] = QUEUES[i % QUEUES.length]!;
    return { topic, queueId, body: `keep-${i}-`.padEnd(1000, 'k'), keys: `key-${i}` };
  });
}

async function send(store: MessageStore, list: MessageInput[]): Promise<Sent[]> {
  const results = await putAll(store, list, 50);
  return list.map((input, i) => ({ input, result: results[i]! }));
}

function segmentFiles(temp: TempStore): string[] {
  return fs.readdirSync(temp.path('commitlog')).sort();
}

function ofQueue(sent: readonly Sent[], topic: string, queueId: number): Sent[] {
  return sent.filter((s) => s.input.topic === topic && s.input.queueId === queueId);
}

/** The consume queue files retention keeps: from the first whose last unit is not below min, and always the last. */
function expectedCqFiles(queue: readonly Sent[], minPhysicalOffset: number): string[] {
  const fileCount = Math.ceil(queue.length / CQ_UNITS_PER_FILE);
  let first = 0;
  while (first < fileCount - 1) {
    const lastUnit = queue[(first + 1) * CQ_UNITS_PER_FILE - 1]!;
    if (lastUnit.result.appendMessageResult!.wroteOffset >= minPhysicalOffset) break;
    first++;
  }
  return Array.from({ length: fileCount - first }, (_, k) => fileName20((first + k) * CQ_UNITS_PER_FILE * 20));
}

async function filled(t: Parameters<typeof TempStore.open>[0], prefix: string, count: number): Promise<{ temp: TempStore; sent: Sent[] }> {
  const temp = await TempStore.open(t, prefix, OPTIONS);
  const sent = await send(temp.store, inputs(count, 0));
  await waitDispatched(temp.store, QUEUES);
  return { temp, sent };
}

test('expired segments go (never the active one), queue minimums move, reads below are OFFSET_TOO_SMALL, puts go on', { timeout: 30_000 }, async (t) => {
  const { temp, sent } = await filled(t, 'retention', 300);
  const store = temp.store;
  const segmentsBefore = segmentFiles(temp);
  assert.ok(segmentsBefore.length >= 4, `segments: ${segmentsBefore.length}`);
  const indexFilesBefore = fs.readdirSync(temp.path('index')).length;
  assert.ok(indexFilesBefore >= 3, `index files: ${indexFilesBefore}`);

  // Nothing has expired under the default 72 hours.
  await store.deleteExpiredFilesManually();
  assert.deepEqual(segmentFiles(temp), segmentsBefore, 'fileReservedTime 72 h keeps fresh segments');
  assert.equal(store.getMinPhyOffset(), 0);

  await store.updateConfig({ fileReservedTime: 0 });
  await store.deleteExpiredFilesManually();
  const maxPhy = store.getMaxPhyOffset();
  const activeStart = maxPhy - (maxPhy % SEGMENT_BYTES);
  // The writer creates the next segment ahead of time; it starts after the active one and stays.
  const left = segmentFiles(temp);
  assert.equal(left[0], fileName20(activeStart), 'every segment before the active one is deleted, the active one kept');
  assert.ok(left.every((name) => Number(name) >= activeStart) && left.length <= 2, `segments left: ${left.join(', ')}`);
  assert.equal(store.getMinPhyOffset(), activeStart);

  const firstLive = sent.find((s) => s.result.appendMessageResult!.wroteOffset >= activeStart)!;
  assert.equal(await store.getEarliestMessageTime(), firstLive.result.appendMessageResult!.storeTimestamp, 'earliest time: first message of the active segment');
  for (const [topic, queueId] of QUEUES) {
    const queue = ofQueue(sent, topic, queueId);
    const where = `${topic}/${queueId}`;
    const min = queue.findIndex((s) => s.result.appendMessageResult!.wroteOffset >= activeStart);
    assert.ok(min > 0, `${where}: some messages of the queue were deleted`);
    assert.equal(store.getMinOffsetInQueue(topic, queueId), min, `${where}: min offset = first message still in the log`);
    assert.equal(store.getMaxOffsetInQueue(topic, queueId), queue.length, `${where}: max offset unchanged`);
    for (const offset of [0, min - 1]) {
      const below = await store.getMessage({ group: 'g', topic, queueId, offset, maxMsgNums: 8 });
      assert.equal(below.status, GetMessageStatus.OFFSET_TOO_SMALL, `${where} at ${offset}`);
      assert.equal(below.nextBeginOffset, min, `${where} at ${offset}: next = min`);
    }
    const read = await readQueue(store, topic, queueId, { from: min });
    assert.deepEqual(read.messages.map((m) => m.body.toString()), queue.slice(min).map((s) => s.input.body), `${where}: the rest reads`);
    assert.equal(await store.getEarliestMessageTime(topic, queueId), queue[min]!.result.appendMessageResult!.storeTimestamp, `${where}: earliest time`);
    const cqFiles = fs.readdirSync(temp.path('consumequeue', topic, String(queueId))).sort();
    assert.deepEqual(cqFiles, expectedCqFiles(queue, activeStart), `${where}: consume queue files wholly below the minimum are deleted`);
    assert.ok(cqFiles.length < Math.ceil(queue.length / CQ_UNITS_PER_FILE), `${where}: some consume queue file was deleted`);
  }
  assert.ok(fs.readdirSync(temp.path('index')).length < indexFilesBefore, 'index files wholly below the minimum are deleted');
  const end = Date.now() + 60_000;
  const gone = sent[0]!;
  assert.deepEqual((await store.queryMessage(gone.input.topic, 'key-0', 8, 0, end)).messages, [], 'a deleted message is not found by key');
  const live = await store.queryMessage(firstLive.input.topic, firstLive.input.keys as string, 8, 0, end);
  assert.deepEqual(live.messages.map((m) => m.commitLogOffset), [firstLive.result.appendMessageResult!.wroteOffset]);

  // Puts go on, into the same queues, at the next queue offsets.
  const more = await send(store, inputs(40, sent.length));
  await waitDispatched(store, QUEUES);
  for (const [topic, queueId] of QUEUES) {
    const queue = ofQueue([...sent, ...more], topic, queueId);
    const min = store.getMinOffsetInQueue(topic, queueId);
    const read = await readQueue(store, topic, queueId, { from: min });
    assert.deepEqual(read.messages.map((m) => m.queueOffset), queue.slice(min).map((_, i) => min + i), `${topic}/${queueId} after more puts`);
    assert.deepEqual(read.messages.map((m) => m.body.toString()), queue.slice(min).map((s) => s.input.body));
  }
});

test('a manual run deletes at most deleteFileBatchMax segments, oldest first', { timeout: 30_000 }, async (t) => {
  const { temp } = await filled(t, 'retention-batch', 400);
  const before = segmentFiles(temp);
  assert.ok(before.length >= 7, `segments: ${before.length}`);
  await temp.store.updateConfig({ fileReservedTime: 0, deleteFileBatchMax: 3 });
  await temp.store.deleteExpiredFilesManually();
  assert.deepEqual(segmentFiles(temp), before.slice(3));
  assert.equal(temp.store.getMinPhyOffset(), 3 * SEGMENT_BYTES);
  await temp.store.deleteExpiredFilesManually();
  assert.deepEqual(segmentFiles(temp), before.slice(6));
  assert.equal(temp.store.getMinPhyOffset(), 6 * SEGMENT_BYTES);
});

// RocketMQ corrects every consume queue's minimum against the CommitLog's at load
// (recoverTopicQueueTable → correctMinOffset); the minimum must not fall back to the start of
// the first consume queue file left.
test(
  'after retention and a clean reopen the minimums stay where retention put them',
  { timeout: 30_000 },
  async (t) => {
  const { temp, sent } = await filled(t, 'retention-reopen', 300);
  await temp.store.updateConfig({ fileReservedTime: 0 });
  await temp.store.deleteExpiredFilesManually();
  const minPhy = temp.store.getMinPhyOffset();
  const mins = QUEUES.map(([topic, queueId]) => temp.store.getMinOffsetInQueue(topic, queueId));
  assert.ok(mins.every((min) => min > 0));
  const store = await temp.reopen();
  assert.equal(store.getMinPhyOffset(), minPhy);
  for (const [i, [topic, queueId]] of QUEUES.entries()) {
    const where = `${topic}/${queueId}`;
    assert.equal(store.getMaxOffsetInQueue(topic, queueId), ofQueue(sent, topic, queueId).length, `${where}: max`);
    assert.equal(store.getMinOffsetInQueue(topic, queueId), mins[i], `${where}: min offset after reopen (RocketMQ corrects it at load)`);
    const below = await store.getMessage({ group: 'g', topic, queueId, offset: 0, maxMsgNums: 8 });
    assert.equal(below.status, GetMessageStatus.OFFSET_TOO_SMALL, `${where}: offset 0 after reopen`);
    assert.equal(below.nextBeginOffset, mins[i]);
  }
  },
);

test('above diskSpaceWarningLevelRatio puts are refused, naming the ratio, until a check finds room', { timeout: 30_000 }, async (t) => {
  let ratio = 0.5;
  const temp = await TempStore.open(t, 'retention-disk', { ...OPTIONS, cleanResourceInterval: 50 }, { diskUsedRatio: () => ratio });
  const store = temp.store;
  await putOk(store, { topic: 'DiskTopic', queueId: 0, body: 'before' });
  ratio = 0.95;
  await store.deleteExpiredFilesManually(); // runs the disk check now
  const refused = await store.putMessage({ topic: 'DiskTopic', queueId: 0, body: 'refused' });
  assert.equal(refused.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE);
  assert.equal(refused.ok, false);
  assert.equal(refused.appendMessageResult, undefined);
  assert.ok(refused.error !== undefined);
  assert.match(refused.error.message, /95(\.0)?\s?%/, `the message names the ratio: ${refused.error.message}`);
  assert.equal(store.getMaxOffsetInQueue('DiskTopic', 0, false), 1, 'the refused put took no queue offset');
  const batch = await store.putMessages({ topic: 'DiskTopic', queueId: 0, messages: [{ body: 'b1' }, { body: 'b2' }] });
  assert.equal(batch.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE, 'batches are refused too');

  ratio = 0.5;
  await store.deleteExpiredFilesManually();
  const resumed = await putOk(store, { topic: 'DiskTopic', queueId: 0, body: 'after' });
  assert.equal(resumed.appendMessageResult!.logicsOffset, 1);
  await waitDispatched(store, [['DiskTopic', 0]]);
  const read = await readQueue(store, 'DiskTopic', 0);
  assert.deepEqual(read.messages.map((m) => m.body.toString()), ['before', 'after']);
});

test('between diskSpaceCleanForciblyRatio and the warning level, unexpired segments are deleted and puts go on', { timeout: 30_000 }, async (t) => {
  let ratio = 0.5;
  const temp = await TempStore.open(t, 'retention-forcibly', OPTIONS, { diskUsedRatio: () => ratio });
  const store = temp.store;
  await send(store, inputs(300, 0));
  await waitDispatched(store, QUEUES);
  const before = segmentFiles(temp);
  ratio = 0.87; // above 85 %, below 90 %; fileReservedTime stays 72 h
  await store.deleteExpiredFilesManually();
  const maxPhy = store.getMaxPhyOffset();
  const after = segmentFiles(temp);
  assert.equal(after[0], fileName20(maxPhy - (maxPhy % SEGMENT_BYTES)), `only the active segment (and the one made ahead) is left (was ${before.length})`);
  assert.ok(after.length <= 2);
  await putOk(store, { topic: 'KeepA', queueId: 0, body: 'still accepted' });
});

// RocketMQ checks disk space on its own schedule (DefaultMessageStore's DiskCheckScheduledThread:
// isSpaceFull() 1 s after start, then every 10 s), apart from the clean-up runs that start 60 s
// after start. With cleanResourceInterval 50 ms a full disk must be noticed within seconds.
test(
  'with a small cleanResourceInterval a full disk is noticed, and its end, without a manual run',
  { timeout: 30_000 },
  async (t) => {
    let ratio = 0.5;
    const temp = await TempStore.open(t, 'retention-disk-timer', { ...OPTIONS, cleanResourceInterval: 50 }, { diskUsedRatio: () => ratio });
    const store = temp.store;
    await putOk(store, { topic: 'DiskTopic', queueId: 0, body: 'before' });
    ratio = 0.95;
    const refusedBy = performance.now() + 5000;
    let refused: PutMessageResult | null = null;
    while (refused === null && performance.now() < refusedBy) {
      await sleep(100);
      const result = await store.putMessage({ topic: 'DiskTopic', queueId: 0, body: 'probe' });
      if (result.putMessageStatus === PutMessageStatus.SERVICE_NOT_AVAILABLE) refused = result;
    }
    assert.ok(refused !== null, 'a put is refused within 5 s of the disk filling up');
    assert.match(refused.error?.message ?? '', /95(\.0)?\s?%/);
    ratio = 0.5;
    const resumedBy = performance.now() + 5000;
    let resumed = false;
    while (!resumed && performance.now() < resumedBy) {
      await sleep(100);
      resumed = (await store.putMessage({ topic: 'DiskTopic', queueId: 0, body: 'probe' })).putMessageStatus === PutMessageStatus.PUT_OK;
    }
    assert.ok(resumed, 'puts resume within 5 s of the disk having room');
  },
);
