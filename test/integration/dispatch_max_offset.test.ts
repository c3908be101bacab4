// Goal: getMaxOffsetInQueue(topic, queueId, false) counts every accepted message, dispatched or
// not (RocketMQ's topicQueueTable), is never below the committed (dispatched) value, and equals
// it once dispatch has caught up.
// Method: puts issued without awaiting them, then the two values sampled on every turn of the
// event loop until the dispatcher catches up; in ASYNC_FLUSH and SYNC_FLUSH.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FlushDiskType, MessageStore } from '../../src/index.js';
import { putOk, TempStore, waitDispatched } from '../support/dispatch_support.js';

const OPTIONS = { mappedFileSizeCommitLog: 1 << 20, flushIntervalCommitLog: 200, flushCommitLogLeastPages: 0 };

function maxOffsets(store: MessageStore, topic: string, queueId: number): { accepted: number; committed: number } {
  return { accepted: store.getMaxOffsetInQueue(topic, queueId, false), committed: store.getMaxOffsetInQueue(topic, queueId, true) };
}

for (const flushDiskType of ['ASYNC_FLUSH', 'SYNC_FLUSH'] as FlushDiskType[]) {
  test(`${flushDiskType}: the accepted max offset counts undispatched messages and meets the committed one`, async (t) => {
    const { store } = await TempStore.open(t, 'max-offset', { ...OPTIONS, flushDiskType });
    await putOk(store, { topic: 'MaxTopic', queueId: 1, body: 'first' });
    await waitDispatched(store, [['MaxTopic', 1]]);
    assert.deepEqual(maxOffsets(store, 'MaxTopic', 1), { accepted: 1, committed: 1 });

    const puts = Array.from({ length: 200 }, (_, i) => store.putMessage({ topic: 'MaxTopic', queueId: 1, body: `m-${i}` }));
    // Sequenced at once, dispatched later: nothing of this turn can have reached the dispatcher.
    assert.deepEqual(maxOffsets(store, 'MaxTopic', 1), { accepted: 201, committed: 1 });
    assert.equal(store.getMaxOffsetInQueue('MaxTopic', 1), 1, 'committed is the default');
    assert.equal(store.getMaxOffsetInQueue('MaxTopic', 2, false), 0, 'another queue');
    assert.equal(store.getMaxOffsetInQueue('Unknown', 0, false), 0, 'an unknown topic');

    const seen = new Set<number>();
    let settled = false;
    void Promise.all(puts).then(() => (settled = true));
    const deadline = performance.now() + 10_000;
    for (;;) {
      const { accepted, committed } = maxOffsets(store, 'MaxTopic', 1);
      assert.equal(accepted, 201, 'the accepted value does not wait for anything');
      assert.ok(committed <= accepted, `committed ${committed} ≤ accepted ${accepted}`);
      seen.add(committed);
      if (settled && committed === accepted && store.dispatchBehindBytes() === 0) break;
      assert.ok(performance.now() < deadline, `dispatch did not catch up: committed ${committed}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const result of await Promise.all(puts)) assert.equal(result.putMessageStatus, 'PUT_OK');
    assert.ok(seen.has(1), 'the committed value lagged at first');
    assert.equal(store.getMinOffsetInQueue('MaxTopic', 1), 0);
  });
}

// dispatchBehindBytes() counts a dispatch only once the main thread has the queue ranges that
// came with it: 0 must never be seen while reads still miss a stored message. Busy-waiting (no
// event loop turn) it stays above 0; once it reads 0 after yielding, the message is readable.
test(
  'once dispatchBehindBytes() is 0, the committed max offset includes every put',
  async (t) => {
    const { store } = await TempStore.open(t, 'max-offset-behind', OPTIONS);
    await putOk(store, { topic: 'BehindTopic', queueId: 0, body: 'one' });
    const spinUntil = performance.now() + 200;
    while (performance.now() < spinUntil) {
      // The dispatcher works on its own thread meanwhile; this thread handles no message.
      if (store.dispatchBehindBytes() === 0) assert.equal(store.getMaxOffsetInQueue('BehindTopic', 0, true), 1);
    }
    const deadline = performance.now() + 5000;
    while (store.dispatchBehindBytes() > 0) {
      assert.ok(performance.now() < deadline, 'dispatch caught up');
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(store.getMaxOffsetInQueue('BehindTopic', 0, true), 1, 'the dispatched message is visible to reads');
  },
);
