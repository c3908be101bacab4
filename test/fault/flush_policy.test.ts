// Goal: SYNC_FLUSH acknowledges only durable messages (in groups), ASYNC_FLUSH and the transient pool follow their interval/page rules, and runtime updates change them live.
// Method: real stores whose writer uses FaultyStorage (slow fsyncs, a shared-memory log of what was fsynced); compare every acknowledgement with that log.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MessageStore,
  PutMessageStatus,
  StoreError,
  type MessageStoreOptions,
  type PutMessageResult,
} from '../../src/index.js';
import { createSyncLog, faultyStorageSpec, readSyncLog, type FaultyStorageOptions } from '../support/faulty_storage.js';
import { readAllMessages } from '../support/store_walk.js';

const SEGMENT_BYTES = 64 * 1024;
const INT32_MAX = 2147483647;
const DAY_MS = 24 * 3600 * 1000;
/** ASYNC_FLUSH settings under which the flush service never flushes on its own. */
const NEVER_FLUSH = { flushIntervalCommitLog: 50, flushCommitLogLeastPages: INT32_MAX, flushCommitLogThoroughInterval: DAY_MS };

/** A fresh temp dir removed after the test; stores registered with `track` are closed first. */
function tempRoot(t: TestContext): { root: string; track: (store: MessageStore) => MessageStore } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-flush-'));
  const stores: MessageStore[] = [];
  t.after(async () => {
    for (const store of stores) await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { root, track: (store) => (stores.push(store), store) };
}

async function openFaulty(
  t: TestContext,
  extra: Partial<MessageStoreOptions>,
  faults: Omit<FaultyStorageOptions, 'syncLog'> = {},
): Promise<{ store: MessageStore; syncLog: SharedArrayBuffer; root: string; track: (s: MessageStore) => MessageStore }> {
  const { root, track } = tempRoot(t);
  const syncLog = createSyncLog();
  const store = track(
    await MessageStore.open(
      { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, ...extra },
      faultyStorageSpec({ ...faults, syncLog }),
    ),
  );
  return { store, syncLog, root, track };
}

function bodyOf(i: number): Buffer {
  return Buffer.from(`message-${i}-${'x'.repeat(i % 97)}`, 'utf8');
}

/** Runs fn(0..count-1) with at most `concurrency` calls in flight, issued in index order. */
async function runConcurrently(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(count, concurrency) }, lane));
}

/** Polls `condition` every 5 ms; returns the ms it took to hold, or -1 after `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<number> {
  const startedMs = performance.now();
  while (!condition()) {
    if (performance.now() - startedMs > timeoutMs) return -1;
    await sleep(5);
  }
  return performance.now() - startedMs;
}

function endOf(result: PutMessageResult): number {
  assert.ok(result.appendMessageResult !== undefined, `no appendMessageResult in ${result.putMessageStatus}`);
  return result.appendMessageResult.wroteOffset + result.appendMessageResult.wroteBytes;
}

async function putOk(store: MessageStore, i: number, extra: { queueId?: number; properties?: Record<string, string> } = {}): Promise<PutMessageResult> {
  const result = await store.putMessage({ topic: 'TopicFlush', queueId: extra.queueId ?? i % 4, body: bodyOf(i), properties: extra.properties });
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  return result;
}

/** Ends of the put's records are covered by getFlushedWhere and by what the disk really fsynced. */
function assertDurable(store: MessageStore, syncLog: SharedArrayBuffer, end: number, what: string): void {
  const durableEnd = readSyncLog(syncLog).durableEnd;
  assert.ok(durableEnd >= end, `${what}: fsynced up to ${durableEnd}, message ends at ${end}`);
  assert.ok(store.getFlushedWhere() >= end, `${what}: getFlushedWhere ${store.getFlushedWhere()} < ${end}`);
}

// ---------------------------------------------------------------------------------------------
// SYNC_FLUSH

test('SYNC_FLUSH acknowledges PUT_OK only once the message is fsynced, for 2000 puts at concurrency 64', async (t) => {
  const { store, syncLog } = await openFaulty(t, { flushDiskType: 'SYNC_FLUSH' });
  let acknowledged = 0;
  await runConcurrently(2000, 64, async (i) => {
    const result = await putOk(store, i);
    assertDurable(store, syncLog, endOf(result), `put ${i}`);
    acknowledged++;
  });
  assert.equal(acknowledged, 2000);
  assert.ok(store.getMaxPhyOffset() > SEGMENT_BYTES, 'the run crossed at least one segment roll');
});

test('SYNC_FLUSH commits concurrent puts in groups: far fewer fsyncs than messages', async (t) => {
  const { store, syncLog } = await openFaulty(t, { flushDiskType: 'SYNC_FLUSH' });
  const messages = 2000;
  await runConcurrently(messages, 64, async (i) => {
    await putOk(store, i);
  });
  const { fsyncCount } = readSyncLog(syncLog);
  assert.ok(fsyncCount >= 1, 'at least one fsync happened');
  const perFsync = messages / fsyncCount;
  assert.ok(perFsync >= 4, `${fsyncCount} fsyncs for ${messages} messages: ${perFsync.toFixed(1)} messages per fsync`);
});

test('SYNC_FLUSH resolves FLUSH_DISK_TIMEOUT when the fsync outlasts syncFlushTimeout, and the message is stored', async (t) => {
  const { store, syncLog } = await openFaulty(t, { flushDiskType: 'SYNC_FLUSH', syncFlushTimeout: 100 }, { fsyncDelayMs: 400 });
  const body = bodyOf(7);
  const startedMs = performance.now();
  const result = await store.putMessage({ topic: 'TopicFlush', queueId: 2, body, tags: 'TagA', keys: ['k1', 'k2'] });
  const elapsedMs = performance.now() - startedMs;
  assert.equal(result.putMessageStatus, PutMessageStatus.FLUSH_DISK_TIMEOUT);
  assert.equal(result.ok, true);
  assert.ok(result.appendMessageResult !== undefined);
  assert.ok(elapsedMs < 400, `the put waited ${elapsedMs.toFixed(0)} ms, longer than the fsync itself`);
  const end = endOf(result);
  assert.ok(readSyncLog(syncLog).durableEnd < end, 'the message was not durable when the put timed out');

  await store.flush();
  assertDurable(store, syncLog, end, 'after flush()');
  const found = await store.lookMessageByOffset(result.appendMessageResult.wroteOffset);
  assert.ok(found !== null, 'the timed-out message is readable');
  assert.deepEqual(found.body, body);
  assert.equal(found.topic, 'TopicFlush');
  assert.equal(found.queueId, 2);
  assert.equal(found.tags, 'TagA');
  assert.deepEqual(found.keys, ['k1', 'k2']);
  assert.equal(found.queueOffset, result.appendMessageResult.logicsOffset);
  assert.equal(found.storeSize, result.appendMessageResult.wroteBytes);
  assert.equal(found.storeTimestamp, result.appendMessageResult.storeTimestamp);
  assert.equal(found.msgId, result.appendMessageResult.msgId);
});

test('SYNC_FLUSH acknowledges a WAIT=false message without waiting for the fsync, and does not store WAIT', async (t) => {
  const fsyncDelayMs = 1000;
  const { store, syncLog } = await openFaulty(t, { flushDiskType: 'SYNC_FLUSH' }, { fsyncDelayMs });
  const startedMs = performance.now();
  const result = await putOk(store, 3, { properties: { WAIT: 'false', color: 'blue' } });
  const elapsedMs = performance.now() - startedMs;
  assert.ok(elapsedMs < fsyncDelayMs / 2, `WAIT=false put took ${elapsedMs.toFixed(0)} ms (fsync takes ${fsyncDelayMs} ms)`);
  assert.ok(readSyncLog(syncLog).durableEnd < endOf(result), 'acknowledged before its bytes were fsynced');

  const found = await store.lookMessageByOffset(result.appendMessageResult!.wroteOffset);
  assert.ok(found !== null);
  assert.deepEqual(found.body, bodyOf(3));
  assert.equal(found.properties['WAIT'], undefined);
  assert.equal(found.properties['color'], 'blue');
});

// ---------------------------------------------------------------------------------------------
// ASYNC_FLUSH

test('ASYNC_FLUSH acknowledges puts before any fsync, and flush() makes everything durable', async (t) => {
  const { store, syncLog } = await openFaulty(t, { flushDiskType: 'ASYNC_FLUSH' }, { fsyncDelayMs: 2000 });
  const startedMs = performance.now();
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => putOk(store, i)));
  const elapsedMs = performance.now() - startedMs;
  assert.ok(elapsedMs < 1000, `100 puts took ${elapsedMs.toFixed(0)} ms`);
  assert.equal(readSyncLog(syncLog).fsyncCount, 0, 'no fsync completed before the acknowledgements');
  const lastEnd = Math.max(...results.map(endOf));
  assert.ok(store.getMaxPhyOffset() >= lastEnd);

  await store.flush();
  assert.equal(store.getFlushedWhere(), store.getMaxPhyOffset());
  assertDurable(store, syncLog, lastEnd, 'after flush()');
});

test('ASYNC_FLUSH flushes on its own every flushIntervalCommitLog when flushCommitLogLeastPages is 0', async (t) => {
  const { store, syncLog } = await openFaulty(t, {
    flushDiskType: 'ASYNC_FLUSH',
    flushIntervalCommitLog: 50,
    flushCommitLogLeastPages: 0,
  });
  for (let i = 0; i < 20; i++) await putOk(store, i);
  const end = store.getMaxPhyOffset();
  const tookMs = await waitUntil(() => store.getFlushedWhere() >= end, 600);
  assert.ok(tookMs >= 0, `getFlushedWhere stayed at ${store.getFlushedWhere()} < ${end} for 600 ms`);
  assert.ok(readSyncLog(syncLog).durableEnd >= end);
});

test('ASYNC_FLUSH does not flush on its own below flushCommitLogLeastPages before the thorough interval', async (t) => {
  const { store, syncLog } = await openFaulty(t, { flushDiskType: 'ASYNC_FLUSH', ...NEVER_FLUSH });
  for (let i = 0; i < 20; i++) await putOk(store, i);
  await sleep(500);
  assert.ok(store.getFlushedWhere() < store.getMaxPhyOffset(), 'nothing flushed the log');
  assert.equal(readSyncLog(syncLog).fsyncCount, 0);
});

test('updateConfig lowers flushCommitLogLeastPages on a live ASYNC_FLUSH store and it starts flushing on its own', async (t) => {
  const { store, syncLog } = await openFaulty(t, { flushDiskType: 'ASYNC_FLUSH', ...NEVER_FLUSH });
  for (let i = 0; i < 20; i++) await putOk(store, i);
  await sleep(300);
  const end = store.getMaxPhyOffset();
  assert.ok(store.getFlushedWhere() < end, 'not flushed before the update');

  await store.updateConfig({ flushIntervalCommitLog: 50, flushCommitLogLeastPages: 0, flushCommitLogThoroughInterval: DAY_MS });
  assert.equal(store.getConfig().flushCommitLogLeastPages, 0);
  const tookMs = await waitUntil(() => store.getFlushedWhere() >= end, 600);
  assert.ok(tookMs >= 0, `still not flushed 600 ms after updateConfig (flushedWhere ${store.getFlushedWhere()} < ${end})`);
  assert.ok(readSyncLog(syncLog).durableEnd >= end);
});

test('updateConfig shortening flushIntervalCommitLog takes effect at once, not after the old interval ends', async (t) => {
  const { store } = await openFaulty(t, {
    flushDiskType: 'ASYNC_FLUSH',
    flushIntervalCommitLog: 10 * 60 * 1000,
    flushCommitLogLeastPages: 0,
  });
  for (let i = 0; i < 20; i++) await putOk(store, i);
  await sleep(200);
  const end = store.getMaxPhyOffset();
  assert.ok(store.getFlushedWhere() < end, 'not flushed before the update (10 minute interval)');

  await store.updateConfig({ flushIntervalCommitLog: 50 });
  const tookMs = await waitUntil(() => store.getFlushedWhere() >= end, 600);
  assert.ok(tookMs >= 0, `still not flushed 600 ms after flushIntervalCommitLog became 50 ms (flushedWhere ${store.getFlushedWhere()} < ${end})`);
});

test('updateConfig rejects a key that cannot change on an open store with E_CONFIG_INVALID and keeps the config', async (t) => {
  const { store } = await openFaulty(t, { flushDiskType: 'ASYNC_FLUSH' });
  for (const partial of [{ mappedFileSizeCommitLog: 8192 }, { flushDiskType: 'SYNC_FLUSH' as const }, { transientStorePoolEnable: true }]) {
    await assert.rejects(store.updateConfig(partial), (error: unknown) => {
      assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
      assert.equal(error.code, 'E_CONFIG_INVALID');
      return true;
    });
  }
  assert.equal(store.getConfig().mappedFileSizeCommitLog, SEGMENT_BYTES);
  assert.equal(store.getConfig().flushDiskType, 'ASYNC_FLUSH');
  assert.equal(store.getConfig().transientStorePoolEnable, false);
  await putOk(store, 1);
});

// ---------------------------------------------------------------------------------------------
// Transient store pool

test('transientStorePoolEnable acknowledges staged puts, commits them within about commitIntervalCommitLog, and they survive reopen', async (t) => {
  const commitIntervalMs = 200;
  const { store, root, track } = await openFaulty(t, {
    flushDiskType: 'ASYNC_FLUSH',
    transientStorePoolEnable: true,
    commitIntervalCommitLog: commitIntervalMs,
  });
  const count = 300;
  const results: PutMessageResult[] = [];
  await runConcurrently(count, 16, async (i) => {
    results[i] = await putOk(store, i);
  });
  const lastEnd = Math.max(...results.map(endOf));
  const tookMs = await waitUntil(() => store.getMaxPhyOffset() >= lastEnd, commitIntervalMs + 500);
  assert.ok(tookMs >= 0, `getMaxPhyOffset ${store.getMaxPhyOffset()} did not reach ${lastEnd} within ${commitIntervalMs + 500} ms`);
  for (const i of [0, count >> 1, count - 1]) {
    const found = await store.lookMessageByOffset(results[i]!.appendMessageResult!.wroteOffset);
    assert.ok(found !== null, `message ${i} is readable once committed`);
    assert.deepEqual(found.body, bodyOf(i));
  }
  await store.close();

  const reopened = track(await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES }));
  const messages = await readAllMessages(reopened, SEGMENT_BYTES);
  assert.equal(messages.length, count);
  for (let i = 0; i < count; i++) {
    assert.deepEqual(messages[i]!.body, bodyOf(i), `message ${i} after reopen`);
    assert.equal(messages[i]!.commitLogOffset, results[i]!.appendMessageResult!.wroteOffset);
  }
});

test('updateConfig shortening syncFlushTimeout applies to puts already waiting for their fsync', async (t) => {
  const { store } = await openFaulty(t, { flushDiskType: 'SYNC_FLUSH', syncFlushTimeout: 3000 }, { fsyncDelayMs: 2000 });
  const startedMs = performance.now();
  const waiting = store.putMessage({ topic: 'TopicFlush', queueId: 0, body: bodyOf(1) });
  await store.updateConfig({ syncFlushTimeout: 100 });
  const result = await waiting;
  const elapsedMs = performance.now() - startedMs;
  assert.equal(result.putMessageStatus, PutMessageStatus.FLUSH_DISK_TIMEOUT);
  assert.ok(elapsedMs < 1000, `the waiting put timed out after ${elapsedMs.toFixed(0)} ms, not ~100 ms`);
});

test('flush() also covers sends parked behind a full ring', async (t) => {
  // 54 MB of sends at once into a 16 MiB ring: most of them wait in line (parked) when flush()
  // is called, and flush() must not resolve before the last accepted one is durable.
  const { store, syncLog } = await openFaulty(t, {
    flushDiskType: 'ASYNC_FLUSH',
    maxMessageSize: 1024 * 1024,
    mappedFileSizeCommitLog: 8 * 1024 * 1024,
  });
  const big = Buffer.alloc(900 * 1024, 7);
  const puts = Array.from({ length: 60 }, () => store.putMessage({ topic: 'TopicPark', queueId: 0, body: big }));
  await store.flush();
  const results = await Promise.all(puts);
  const last = results.filter((r) => r.putMessageStatus === PutMessageStatus.PUT_OK).at(-1);
  assert.ok(last !== undefined, 'some puts were stored');
  assert.ok(readSyncLog(syncLog).durableEnd >= endOf(last), 'flush() covered the last accepted send, parked or not');
});
