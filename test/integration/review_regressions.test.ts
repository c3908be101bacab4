// Goal: regression tests for the review findings fixed in "Fix the review findings on the issue-3
// change", one test per fix, each named after what used to fail:
//   - retention deleting segments a lagging dispatcher had not read (gap, fenced store, no reopen);
//   - main-thread reads closing a handle under a read in flight ('file closed' with many queues);
//   - a dispatcher failure fencing the writer, so close() lost acknowledged transient-pool puts;
//   - reads taking the readable CommitLog end from PROGRESS only (units dispatched before PROGRESS
//     arrives read as removed);
//   - index files deleted by hand (directory kept) going unnoticed;
//   - queryMessage crowded out by more than 64 keys with the same hash;
//   - getMaxOffsetInQueue not checking `committed`, the queue-offset getters answering on a closed store.
// Method: a real store per test in its own temp dir (TempStore: closed and removed after the test);
// a slow storage holds the dispatcher in its CommitLog reads, a faulty storage fails a consume queue
// fsync, and the main thread's PROGRESS handling is wrapped to keep its wroteWhere behind the board.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { GetMessageStatus, PutMessageStatus, StoreError, type MessageInput, type MessageStore } from '../../src/index.js';
import { faultyStorageSpec } from '../support/faulty_storage.js';
import { javaHash, putAll, putOk, readQueue, sleep, TempStore, waitDispatched } from '../support/dispatch_support.js';
import { slowStorageSpec } from '../support/slow_storage.js';

const FAR_FUTURE_MS = () => Date.now() + 3_600_000;

function isStoreError(code: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/**
 * waitDispatched, failing at once with the dispatcher's error when it stops (a fenced store
 * refuses requests to it) instead of waiting out the timeout.
 */
async function waitDispatchedHealthy(store: MessageStore, queues: ReadonlyArray<readonly [string, number]>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (store.dispatchBehindBytes() > 0 || queues.some(([topic, queueId]) => store.getMaxOffsetInQueue(topic, queueId, true) !== store.getMaxOffsetInQueue(topic, queueId, false))) {
    await store.queryMessage('T', 'probe', 1, 0, FAR_FUTURE_MS()); // Rejects once the dispatcher failed.
    assert.ok(performance.now() < deadline, `dispatch did not catch up within ${timeoutMs} ms: ${store.dispatchBehindBytes()} bytes behind`);
    await sleep(20);
  }
}

test('retention with a lagging dispatcher deletes no segment it has not read: no gap, puts go on, the store reopens', { timeout: 30_000 }, async (t) => {
  const SEGMENT_BYTES = 64 * 1024;
  const options = {
    mappedFileSizeCommitLog: SEGMENT_BYTES,
    mappedFileSizeConsumeQueue: 400,
    flushIntervalConsumeQueue: 20,
    deleteCommitLogFilesInterval: 0,
    maxHashSlotNum: 50,
    maxIndexNum: 1000,
    // Every segment is expired; only manual runs delete (the first scheduled run is 60 s away).
    fileReservedTime: 0,
  };
  const noDiskPressure = { diskUsedRatio: () => 0 };
  // Every CommitLog read of the dispatcher waits 300 ms: it falls several segments behind.
  const temp = await TempStore.open(t, 'rr-retention', options, {
    ...slowStorageSpec({ preadPathIncludes: '/commitlog/', preadDelayMs: 300 }),
    ...noDiskPressure,
  });
  const store = temp.store;
  const inputs: MessageInput[] = Array.from({ length: 300 }, (_, i) => ({ topic: 'T', queueId: 0, body: `m${i}-`.padEnd(1000, 'x') }));
  const results = await putAll(store, inputs, 300);
  assert.ok(fs.readdirSync(temp.path('commitlog')).length >= 5);
  const behind = store.dispatchBehindBytes();
  assert.ok(behind > 2 * SEGMENT_BYTES, `precondition: the dispatcher lags by segments (${behind} bytes behind)`);
  // Used to delete every segment but the active one: the dispatcher met a gap and fenced the store.
  await store.deleteExpiredFilesManually();

  await waitDispatchedHealthy(store, [['T', 0]]);
  const later = await putOk(store, { topic: 'T', queueId: 0, body: 'after retention' });
  assert.equal(later.appendMessageResult!.logicsOffset, inputs.length);
  await waitDispatchedHealthy(store, [['T', 0]]);

  const minPhy = store.getMinPhyOffset();
  const min = results.findIndex((r) => r.appendMessageResult!.wroteOffset >= minPhy);
  assert.ok(min >= 0, `min physical offset ${minPhy}`);
  assert.equal(store.getMinOffsetInQueue('T', 0), min);
  assert.equal(store.getMaxOffsetInQueue('T', 0), inputs.length + 1);
  const read = await readQueue(store, 'T', 0, { from: min });
  assert.deepEqual(
    read.messages.map((m) => m.body.toString()),
    [...inputs.slice(min).map((m) => m.body as string), 'after retention'],
    'the queue reads whole from its minimum, without a gap',
  );

  // The cap is only the dispatched position: once caught up, retention goes up to the active segment.
  await store.deleteExpiredFilesManually();
  const maxPhy = store.getMaxPhyOffset();
  assert.equal(store.getMinPhyOffset(), maxPhy - (maxPhy % SEGMENT_BYTES));

  const reopened = await temp.reopen(options, noDiskPressure);
  assert.deepEqual(reopened.getRecoveryReport().derived.events, []);
  await waitDispatched(reopened, [['T', 0]]);
  assert.equal(reopened.getMaxOffsetInQueue('T', 0), inputs.length + 1);
  const tail = await readQueue(reopened, 'T', 0, { from: reopened.getMinOffsetInQueue('T', 0) });
  assert.equal(tail.messages.at(-1)?.body.toString(), 'after retention');
});

test('2000 concurrent getMessage over 2000 queues all find their message (no "file closed")', { timeout: 30_000 }, async (t) => {
  const temp = await TempStore.open(t, 'rr-many-reads', { messageIndexEnable: false });
  const store = temp.store;
  const N = 2000;
  const queueOf = (i: number): [string, number] => [`T${i % 250}`, Math.floor(i / 250)]; // 250 topics × 8 queues
  await putAll(
    store,
    Array.from({ length: N }, (_, i) => ({ topic: queueOf(i)[0], queueId: queueOf(i)[1], body: `b${i}` })),
    500,
  );
  await waitDispatched(store, [queueOf(0), queueOf(N - 1)]);
  for (let round = 0; round < 2; round++) {
    const answers = await Promise.all(
      Array.from({ length: N }, (_, i) => {
        const [topic, queueId] = queueOf(i);
        return store.getMessage({ group: 'g', topic, queueId, offset: 0, maxMsgNums: 32 }).then(
          (r) => (r.status === GetMessageStatus.FOUND && r.messages.length === 1 && r.messages[0]!.body.toString() === `b${i}` ? 'ok' : `${r.status}/${r.messages.length}`),
          (error: Error & { code?: string }) => `${error.code} ${error.message}`,
        );
      }),
    );
    const failures = answers.filter((a) => a !== 'ok');
    assert.deepEqual(failures.slice(0, 3), [], `round ${round}: ${failures.length} of ${N} reads failed`);
  }
});

test('a dispatcher failure then close keeps every acknowledged put (transient pool)', { timeout: 30_000 }, async (t) => {
  const options = {
    mappedFileSizeCommitLog: 1 << 20, // A small segment: the abnormal recovery after this test scans it fast.
    transientStorePoolEnable: true,
    // Nothing is committed to the CommitLog file on its own: acknowledged puts live in the pool.
    commitIntervalCommitLog: 600_000,
    commitCommitLogThoroughInterval: 600_000,
    commitCommitLogLeastPages: 1000,
    flushIntervalConsumeQueue: 1000,
  };
  // The dispatcher's first consume queue fsync fails: the dispatcher stops.
  const temp = await TempStore.open(t, 'rr-transient', options, faultyStorageSpec({ failOn: { op: 'fdatasync', nth: 1, errno: 'EIO', pathIncludes: 'consumequeue' } }));
  const store = temp.store;
  await putOk(store, { topic: 'T', queueId: 0, body: 'A' });
  await store.flush();
  await putOk(store, { topic: 'T', queueId: 0, body: 'B' }); // Acknowledged, staged in the pool only.

  // Wait for the dispatcher to fail (requests to it are refused from then on).
  const deadline = performance.now() + 10_000;
  for (;;) {
    const failed = await store.queryMessage('T', 'probe', 1, 0, FAR_FUTURE_MS()).then(() => false, () => true);
    if (failed) break;
    assert.ok(performance.now() < deadline, 'the dispatcher did not fail');
    await sleep(20);
  }
  const refused = await store.putMessage({ topic: 'T', queueId: 0, body: 'C' });
  assert.equal(refused.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE, 'new puts are refused until reopened');

  await temp.close(); // Drains the writer: B is written before the store closes.
  const reopened = await temp.reopen(options, {});
  assert.equal(reopened.getRecoveryReport().lastExitOK, false, 'close kept `abort`: the derived files are re-dispatched');
  await waitDispatched(reopened, [['T', 0]]);
  const read = await readQueue(reopened, 'T', 0);
  assert.deepEqual(read.messages.map((m) => m.body.toString()), ['A', 'B'], 'the acknowledged put B survives close');
});

test('a unit dispatched before PROGRESS arrives is read, not taken for a removed message', { timeout: 30_000 }, async (t) => {
  const temp = await TempStore.open(t, 'rr-lagging-end', { messageIndexEnable: false });
  const store = temp.store;
  for (let i = 0; i < 5; i++) await putOk(store, { topic: 'T', queueId: 0, body: `b${i}` });
  await waitDispatched(store, [['T', 0]]);

  // From here the main thread's PROGRESS keeps wroteWhere where it is (as if the PROGRESS messages
  // were still on their way), while puts are acknowledged and the dispatcher follows the board.
  const frozenEnd = store.getMaxPhyOffset();
  type Progress = { wroteWhere: number };
  const internal = store as unknown as { onProgress: (progress: Progress) => void };
  const onProgress = internal.onProgress;
  internal.onProgress = function (this: unknown, progress: Progress) {
    onProgress.call(this, { ...progress, wroteWhere: Math.min(progress.wroteWhere, frozenEnd) });
  };
  t.after(() => {
    delete (internal as { onProgress?: unknown }).onProgress;
  });
  for (let i = 5; i < 10; i++) await putOk(store, { topic: 'T', queueId: 0, body: `b${i}` });
  await waitDispatched(store, [['T', 0]]);
  assert.equal(store.getMaxOffsetInQueue('T', 0), 10, 'precondition: the new units are dispatched');
  assert.equal(store.getMaxPhyOffset(), frozenEnd, 'precondition: PROGRESS still lags');

  const result = await store.getMessage({ group: 'g', topic: 'T', queueId: 0, offset: 5, maxMsgNums: 32 });
  assert.equal(result.status, GetMessageStatus.FOUND);
  assert.deepEqual(result.messages.map((m) => m.body.toString()), ['b5', 'b6', 'b7', 'b8', 'b9']);
  assert.equal(result.nextBeginOffset, 10);
  const whole = await readQueue(store, 'T', 0);
  assert.equal(whole.messages.length, 10);
  delete (internal as { onProgress?: unknown }).onProgress;
});

test('index files deleted by hand (index directory kept) are noticed and the index is rebuilt', { timeout: 30_000 }, async (t) => {
  const options = { maxHashSlotNum: 50, maxIndexNum: 40 };
  const temp = await TempStore.open(t, 'rr-index-delete', options);
  await putAll(temp.store, Array.from({ length: 100 }, (_, i) => ({ topic: 'T', queueId: 0, body: `b${i}`, keys: `k${i}` })));
  await waitDispatched(temp.store, [['T', 0]]);
  const found = async (store: MessageStore): Promise<string[]> => {
    const out: string[] = [];
    for (const key of ['k5', 'k50', 'k95']) {
      const result = await store.queryMessage('T', key, 10, 0, FAR_FUTURE_MS());
      out.push(`${key}:${result.messages.map((m) => m.body.toString()).join(',')}`);
    }
    return out;
  };
  const expected = ['k5:b5', 'k50:b50', 'k95:b95'];
  assert.deepEqual(await found(temp.store), expected);
  await temp.close();

  const indexDir = temp.path('index');
  const files = fs.readdirSync(indexDir).sort();
  assert.ok(files.length >= 3, `precondition: several index files (${files.join(', ')})`);

  // Only the newest file goes.
  fs.unlinkSync(temp.path('index', files.at(-1)!));
  let store = await temp.reopen(options);
  assert.equal(store.getRecoveryReport().derived.indexRebuilt, true, 'the missing newest index file is noticed');
  await waitDispatched(store, [['T', 0]]);
  assert.deepEqual(await found(store), expected, 'keys of the deleted newest file are found again');
  await temp.close();

  // Every file goes, the directory stays.
  for (const name of fs.readdirSync(indexDir)) fs.unlinkSync(temp.path('index', name));
  store = await temp.reopen(options);
  assert.equal(store.getRecoveryReport().derived.indexRebuilt, true, 'an emptied index directory is noticed');
  await waitDispatched(store, [['T', 0]]);
  assert.deepEqual(await found(store), expected, 'every key is found again');
});

test('queryMessage finds its key among more than 64 colliding keys stored in the same second', { timeout: 30_000 }, async (t) => {
  assert.equal(javaHash('Aa'), javaHash('BB'), 'precondition: the keys collide');
  const temp = await TempStore.open(t, 'rr-collide');
  const store = temp.store;
  const target = await putOk(store, { topic: 'T', queueId: 0, body: 'target', keys: 'Aa' });
  await putAll(store, Array.from({ length: 70 }, (_, i) => ({ topic: 'T', queueId: 0, body: `other${i}`, keys: 'BB' })));
  await waitDispatched(store, [['T', 0]]);

  const end = FAR_FUTURE_MS();
  const aa = await store.queryMessage('T', 'Aa', 32, 0, end);
  assert.deepEqual(aa.messages.map((m) => [m.body.toString(), m.commitLogOffset]), [['target', target.appendMessageResult!.wroteOffset]]);
  // At most min(maxNum, maxMsgsNumBatch) exact matches.
  assert.equal((await store.queryMessage('T', 'BB', 100, 0, end)).messages.length, 64);
  const three = await store.queryMessage('T', 'BB', 3, 0, end);
  assert.equal(three.messages.length, 3);
  assert.ok(three.messages.every((m) => m.keys.includes('BB')));
});

test('getMaxOffsetInQueue refuses a non-boolean committed; the queue-offset getters answer E_STORE_CLOSED on a closed store', { timeout: 30_000 }, async (t) => {
  const temp = await TempStore.open(t, 'rr-args');
  const store = temp.store;
  await putOk(store, { topic: 'T', queueId: 0, body: 'x' });
  await waitDispatched(store, [['T', 0]]);
  assert.throws(() => store.getMaxOffsetInQueue('T', 0, 'no' as unknown as boolean), isStoreError('E_INVALID_ARGUMENT'));
  assert.throws(() => store.getMaxOffsetInQueue('T', 0, 1 as unknown as boolean), isStoreError('E_INVALID_ARGUMENT'));
  assert.equal(store.getMaxOffsetInQueue('T', 0, true), 1);
  assert.equal(store.getMaxOffsetInQueue('T', 0, false), 1);
  assert.equal(store.getMinOffsetInQueue('T', 0), 0);
  await temp.close();
  assert.throws(() => store.getMaxOffsetInQueue('T', 0), isStoreError('E_STORE_CLOSED'));
  assert.throws(() => store.getMaxOffsetInQueue('T', 0, false), isStoreError('E_STORE_CLOSED'));
  assert.throws(() => store.getMinOffsetInQueue('T', 0), isStoreError('E_STORE_CLOSED'));
});
