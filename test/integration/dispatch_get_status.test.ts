// Goal: every GetMessageStatus the public API can produce, with RocketMQ 5.x's nextBeginOffset,
// and the pull transfer limits (32 messages / 256 KiB in memory, 8 / 64 KiB on disk).
// Method: real stores on small segments and consume queue files; retention through
// deleteExpiredFilesManually with fileReservedTime 0; a consume queue file unlinked on a live store.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GetMessageStatus, type GetMessageResult, type MessageStore } from '../../src/index.js';
import { fileName20, putAll, putOk, TempStore, waitDispatched } from '../support/dispatch_support.js';
import { slowStorageSpec } from '../support/slow_storage.js';

function pull(store: MessageStore, topic: string, queueId: number, offset: number, maxMsgNums = 32, tags?: string[]): Promise<GetMessageResult> {
  return store.getMessage({ group: 'g', topic, queueId, offset, maxMsgNums, subscription: tags === undefined ? undefined : { tags } });
}

function assertStatus(result: GetMessageResult, status: string, nextBeginOffset: number, what: string): void {
  assert.equal(result.status, status, `${what}: status (next ${result.nextBeginOffset}, range [${result.minOffset}, ${result.maxOffset}))`);
  assert.equal(result.nextBeginOffset, nextBeginOffset, `${what}: nextBeginOffset`);
}

/** Small segments and fileReservedTime 0, so a manual clean-up deletes all but the active one. */
const RETENTION = {
  mappedFileSizeCommitLog: 64 * 1024,
  fileReservedTime: 0,
  deleteCommitLogFilesInterval: 0,
  deleteConsumeQueueFilesInterval: 0,
  flushIntervalConsumeQueue: 20,
};

async function fill(store: MessageStore, topic: string, count: number, bodyBytes: number): Promise<void> {
  await putAll(store, Array.from({ length: count }, (_, i) => ({ topic, queueId: 0, body: `${i}:`.padEnd(bodyBytes, 'r') })));
  await waitDispatched(store, [[topic, 0]]);
}

test('offsets at the edges: NO_MESSAGE_IN_QUEUE, FOUND, OFFSET_OVERFLOW_ONE, OFFSET_OVERFLOW_BADLY', async (t) => {
  const { store } = await TempStore.open(t, 'status-edges', { mappedFileSizeCommitLog: 1 << 20 });
  for (const offset of [0, 5]) {
    const never = await pull(store, 'EdgeTopic', 0, offset);
    assertStatus(never, GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, `never-written topic at ${offset}`);
    assert.equal(never.maxOffset, 0);
    assert.deepEqual(never.messages, []);
  }
  await putAll(store, Array.from({ length: 10 }, (_, i) => ({ topic: 'EdgeTopic', queueId: 1, body: `edge-${i}` })));
  await waitDispatched(store, [['EdgeTopic', 1]]);
  assertStatus(await pull(store, 'EdgeTopic', 0, 3), GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, 'never-written queue of a written topic');

  const found = await pull(store, 'EdgeTopic', 1, 4, 3);
  assertStatus(found, GetMessageStatus.FOUND, 7, 'FOUND from 4, 3 messages');
  assert.deepEqual(found.messages.map((m) => m.body.toString()), ['edge-4', 'edge-5', 'edge-6']);
  assert.equal(found.minOffset, 0);
  assert.equal(found.maxOffset, 10);
  assert.equal(found.bufferTotalSize, found.messages.reduce((sum, m) => sum + m.storeSize, 0));

  const one = await pull(store, 'EdgeTopic', 1, 10);
  assertStatus(one, GetMessageStatus.OFFSET_OVERFLOW_ONE, 10, 'offset == max');
  assert.deepEqual(one.messages, []);
  assertStatus(await pull(store, 'EdgeTopic', 1, 11), GetMessageStatus.OFFSET_OVERFLOW_BADLY, 10, 'offset == max + 1');
  assertStatus(await pull(store, 'EdgeTopic', 1, 1_000_000), GetMessageStatus.OFFSET_OVERFLOW_BADLY, 10, 'offset far past max');
  assertStatus(await pull(store, 'EdgeTopic', 1, -1), GetMessageStatus.OFFSET_TOO_SMALL, 0, 'offset below min (-1)');
});

test('OFFSET_TOO_SMALL after retention: next is the queue minimum, which is readable', async (t) => {
  const { store } = await TempStore.open(t, 'status-small', { ...RETENTION, mappedFileSizeConsumeQueue: 400 });
  await fill(store, 'SmallTopic', 200, 2000);
  await store.deleteExpiredFilesManually();
  const min = store.getMinOffsetInQueue('SmallTopic', 0);
  assert.ok(min > 0, `the queue minimum moved (${min})`);
  for (const offset of [0, 1, min - 1]) {
    const result = await pull(store, 'SmallTopic', 0, offset);
    assertStatus(result, GetMessageStatus.OFFSET_TOO_SMALL, min, `offset ${offset} below min ${min}`);
    assert.equal(result.minOffset, min);
    assert.equal(result.maxOffset, 200);
  }
  const at = await pull(store, 'SmallTopic', 0, min, 1);
  assertStatus(at, GetMessageStatus.FOUND, min + 1, 'at min');
  assert.ok(at.messages[0]!.body.toString().startsWith(`${min}:`));
  assert.ok(at.messages[0]!.commitLogOffset >= store.getMinPhyOffset());
});

test('NO_MATCHED_MESSAGE: nextBeginOffset moves past the scanned units, up to the consume queue file end', async (t) => {
  // 100 units per consume queue file; 250 messages tagged X, then one tagged Y.
  const { store } = await TempStore.open(t, 'status-nomatch', { mappedFileSizeCommitLog: 1 << 20, mappedFileSizeConsumeQueue: 2000 });
  const inputs = Array.from({ length: 250 }, (_, i) => ({ topic: 'MatchTopic', queueId: 0, body: `m-${i}`, tags: 'X' }));
  inputs.push({ topic: 'MatchTopic', queueId: 0, body: 'the-y', tags: 'Y' });
  await putAll(store, inputs);
  await waitDispatched(store, [['MatchTopic', 0]]);

  // maxFilterMessageSize 16000 covers 801 units; one pull never leaves its consume queue file.
  assertStatus(await pull(store, 'MatchTopic', 0, 0, 32, ['Y']), GetMessageStatus.NO_MATCHED_MESSAGE, 100, 'from 0: to the end of file 0');
  assertStatus(await pull(store, 'MatchTopic', 0, 130, 32, ['Y']), GetMessageStatus.NO_MATCHED_MESSAGE, 200, 'from 130: to the end of file 1');
  const y = await pull(store, 'MatchTopic', 0, 200, 32, ['Y']);
  assertStatus(y, GetMessageStatus.FOUND, 251, 'from 200: the Y at 250');
  assert.deepEqual(y.messages.map((m) => m.body.toString()), ['the-y']);

  // A smaller scan budget: max(maxFilterMessageSize, maxMsgNums × 20) bytes of units past the first.
  await store.updateConfig({ maxFilterMessageSize: 200 });
  assertStatus(await pull(store, 'MatchTopic', 0, 0, 1, ['Y']), GetMessageStatus.NO_MATCHED_MESSAGE, 11, 'budget 200 bytes');
  assertStatus(await pull(store, 'MatchTopic', 0, 40, 20, ['Y']), GetMessageStatus.NO_MATCHED_MESSAGE, 61, 'budget 20 × 20 bytes');
  assertStatus(await pull(store, 'MatchTopic', 0, 0, 1, ['Nope']), GetMessageStatus.NO_MATCHED_MESSAGE, 11, 'a tag no message has');
});

// MESSAGE_WAS_REMOVING needs a unit at or above the queue's minimum that points below the
// CommitLog's minimum. Retention deletes segments in the writer first, then asks the dispatcher
// to correct the consume queue minimums; a pull that starts in between (the store already knows
// the new CommitLog minimum, the queue range is still the old one) finds units whose messages
// are gone. To make "in between" last, the dispatcher's consume queue reads (correctMinOffset)
// wait 150 ms each (test/support/slow_storage.ts). The scan budget is cut to two units, so the pull
// cannot scan on to a live message (which would make it FOUND). (After a reopen, the stale
// minimum of retention_expired.test.ts's reopen test reaches it too.)
test('MESSAGE_WAS_REMOVING: a pull between the CommitLog deletion and the consume queue correction', async (t) => {
  // Default consume queue file size: one file, never deleted, so the units stay readable.
  const slow = slowStorageSpec({ preadPathIncludes: `${path.sep}consumequeue${path.sep}`, preadDelayMs: 150 });
  const { store } = await TempStore.open(t, 'status-removing', RETENTION, slow);
  await fill(store, 'RemovingTopic', 200, 2000);
  await store.updateConfig({ maxFilterMessageSize: 20 });
  assert.equal(store.getMinPhyOffset(), 0);
  const deleting = store.deleteExpiredFilesManually();
  const deadline = performance.now() + 10_000;
  while (store.getMinPhyOffset() === 0) {
    assert.ok(performance.now() < deadline, 'the CommitLog minimum never moved');
    await new Promise((resolve) => setImmediate(resolve));
  }
  const pulling = pull(store, 'RemovingTopic', 0, 0, 1);
  await deleting;
  const removing = await pulling;
  assertStatus(removing, GetMessageStatus.MESSAGE_WAS_REMOVING, 2, 'units 0 and 1 point into deleted segments');
  assert.deepEqual(removing.messages, []);
  // Once the consume queue caught up, the same offset is below its minimum.
  const min = store.getMinOffsetInQueue('RemovingTopic', 0);
  assert.ok(min > 2);
  assertStatus(await pull(store, 'RemovingTopic', 0, 0, 1), GetMessageStatus.OFFSET_TOO_SMALL, min, 'after the correction');
});

test('OFFSET_FOUND_NULL: a consume queue file unlinked under a live store; next is the start of the next file', async (t) => {
  const temp = await TempStore.open(t, 'status-null', { mappedFileSizeCommitLog: 1 << 20, mappedFileSizeConsumeQueue: 200 });
  const store = temp.store;
  await putAll(store, Array.from({ length: 35 }, (_, i) => ({ topic: 'NullTopic', queueId: 2, body: `n-${i}` })));
  await waitDispatched(store, [['NullTopic', 2]]);
  // Files of 10 units: 0, 200, 400, 600. The main thread has not opened any of them yet.
  const dir = temp.path('consumequeue', 'NullTopic', '2');
  assert.deepEqual(fs.readdirSync(dir).sort(), [0, 200, 400, 600].map(fileName20));
  fs.unlinkSync(`${dir}/${fileName20(200)}`);
  for (const offset of [10, 12, 19]) {
    assertStatus(await pull(store, 'NullTopic', 2, offset), GetMessageStatus.OFFSET_FOUND_NULL, 20, `offset ${offset} in the unlinked file`);
  }
  const after = await pull(store, 'NullTopic', 2, 20, 32);
  assertStatus(after, GetMessageStatus.FOUND, 30, 'the next file reads again (one pull stays in its file)');
  assert.deepEqual(after.messages.map((m) => m.queueOffset), [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  const before = await pull(store, 'NullTopic', 2, 0, 32);
  assertStatus(before, GetMessageStatus.FOUND, 10, 'the file before it reads too');
});

test('transfer limits in memory: at most 32 messages and 256 KiB per pull, never fewer than one', async (t) => {
  const { store } = await TempStore.open(t, 'status-limits', { mappedFileSizeCommitLog: 4 << 20 });
  await putAll(store, Array.from({ length: 100 }, (_, i) => ({ topic: 'Small', queueId: 0, body: `s-${i}` })));
  const big = 100 * 1024;
  await putAll(store, Array.from({ length: 10 }, (_, i) => ({ topic: 'Big', queueId: 0, body: Buffer.alloc(big, 65 + i) })));
  await putOk(store, { topic: 'Huge', queueId: 0, body: Buffer.alloc(300 * 1024, 0x68) });
  await waitDispatched(store, [['Small', 0], ['Big', 0], ['Huge', 0]]);

  const small = await pull(store, 'Small', 0, 0, 100);
  assertStatus(small, GetMessageStatus.FOUND, 32, 'maxMsgNums 100, small messages');
  assert.equal(small.messages.length, 32, 'maxTransferCountOnMessageInMemory');
  assert.equal(small.suggestPullingFromSlave, false);
  assert.equal((await pull(store, 'Small', 0, 90, 100)).messages.length, 10, 'the rest of the queue');
  assert.equal((await pull(store, 'Small', 0, 0, 5)).messages.length, 5, 'maxMsgNums below the limit');

  const bigs = await pull(store, 'Big', 0, 0, 100);
  assert.equal(bigs.status, GetMessageStatus.FOUND);
  const recordBytes = bigs.messages[0]!.storeSize;
  assert.equal(bigs.messages.length, Math.floor((256 * 1024) / recordBytes), 'as many 100 KiB messages as fit 256 KiB');
  assert.ok(bigs.bufferTotalSize <= 256 * 1024, `bufferTotalSize ${bigs.bufferTotalSize}`);
  assert.ok(bigs.bufferTotalSize + recordBytes > 256 * 1024, 'the next one would not have fit');
  assert.equal(bigs.nextBeginOffset, bigs.messages.length);

  const huge = await pull(store, 'Huge', 0, 0, 100);
  assertStatus(huge, GetMessageStatus.FOUND, 1, 'a single message over 256 KiB');
  assert.equal(huge.messages.length, 1);
  assert.ok(huge.bufferTotalSize > 256 * 1024);
});

test('transfer limits on disk: at most 8 messages and 64 KiB per pull when the data is not in memory', async (t) => {
  const { store } = await TempStore.open(t, 'status-disk', { mappedFileSizeCommitLog: 4 << 20 });
  await putAll(store, Array.from({ length: 40 }, (_, i) => ({ topic: 'Cold', queueId: 0, body: `c-${i}` })));
  await putAll(store, Array.from({ length: 6 }, (_, i) => ({ topic: 'ColdBig', queueId: 0, body: Buffer.alloc(30 * 1024, 65 + i) })));
  await putOk(store, { topic: 'Tail', queueId: 0, body: 'the end of the log' });
  await waitDispatched(store, [['Cold', 0], ['ColdBig', 0]]);
  // 0 % of RAM: nothing but the log's very end counts as in memory.
  await store.updateConfig({ accessMessageInMemoryMaxRatio: 0 });
  const cold = await pull(store, 'Cold', 0, 0, 100);
  assertStatus(cold, GetMessageStatus.FOUND, 8, 'maxTransferCountOnMessageInDisk');
  assert.equal(cold.suggestPullingFromSlave, true, 'data far from the log end: pull from a slave');
  const coldBig = await pull(store, 'ColdBig', 0, 0, 100);
  const recordBytes = coldBig.messages[0]!.storeSize;
  assert.equal(coldBig.messages.length, Math.floor((64 * 1024) / recordBytes), 'as many 30 KiB messages as fit 64 KiB');
  assert.ok(coldBig.bufferTotalSize <= 64 * 1024);
});
