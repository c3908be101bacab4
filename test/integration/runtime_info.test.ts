// Goal: store.getRuntimeInfo() reports what happened under RocketMQ's brokerStatus names: puts
// and their bytes, failures, gets found and missed, flush and dispatch backlogs, CommitLog
// offsets, the disk ratio, and pageCacheLockTimeMills while a write is in progress; with
// pageCacheRtLogEnable the [PAGECACHERT] line is printed at each window end.
// Method: real stores in temp dirs; a storage whose CommitLog writes are slow for the lock time;
// stderr captured with the test runner's mock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../../src/index.js';
import { slowStorageSpec } from '../support/slow_storage.js';

/** Opens a store in a fresh temp dir; after the test: close, then remove the dir. */
async function openStore(t: { after: (fn: () => Promise<void>) => void }, ...args: [Record<string, unknown>, object?]): Promise<MessageStore> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-runtime-'));
  const store = await MessageStore.open({ storePathRootDir: root, ...args[0] }, args[1]);
  t.after(async () => {
    await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  return store;
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    assert.ok(performance.now() < deadline, what);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('counts puts, bytes, failures and gets; offsets and backlogs agree with the store', async (t) => {
  const store = await openStore(t, { flushDiskType: 'SYNC_FLUSH', maxMessageSize: 1000 });
  let bytes = 0;
  for (let i = 0; i < 200; i++) {
    const result = await store.putMessage({ topic: 'Rt', queueId: i % 2, body: `message ${i}` });
    assert.equal(result.putMessageStatus, 'PUT_OK');
    bytes += result.appendMessageResult!.wroteBytes;
  }
  const batch = await store.putMessages({ topic: 'Rt', queueId: 0, messages: [{ body: 'a' }, { body: 'b' }, { body: 'c' }] });
  bytes += batch.appendMessageResult!.wroteBytes;
  assert.equal((await store.putMessage({ topic: 'Rt', queueId: 0, body: Buffer.alloc(2000) })).putMessageStatus, 'MESSAGE_ILLEGAL');
  await assert.rejects(store.putMessage({ topic: 'Rt', queueId: -1, body: 'x' }));
  await until(() => store.dispatchBehindBytes() === 0, 'dispatch caught up');
  const found = await store.getMessage({ group: 'g', topic: 'Rt', queueId: 0, offset: 0, maxMsgNums: 32 });
  assert.equal(found.status, 'FOUND');
  const missed = await store.getMessage({ group: 'g', topic: 'Rt', queueId: 1, offset: 100, maxMsgNums: 32 });
  assert.notEqual(missed.status, 'FOUND');

  const info = store.getRuntimeInfo();
  assert.equal(info.putMessageTimesTotal, 203, 'a batch counts its messages');
  assert.equal(info.putMessageSizeTotal, bytes);
  assert.equal(info.putMessageAverageSize, bytes / 203);
  assert.equal(info.putMessageFailedTimes, 2, 'MESSAGE_ILLEGAL and the thrown argument error');
  assert.ok(info.putTps > 0);
  assert.ok(info.getFoundTps > 0 && info.getMissTps > 0);
  assert.equal(info.getTotalTps, info.getFoundTps + info.getMissTps);
  assert.ok(info.getTransferredTps >= found.messages.length / 10, 'transferred messages over at most 10 s');
  assert.ok(info.putMessageEntireTimeMax > 0);
  assert.ok(info.getMessageEntireTimeMax > 0);
  assert.equal(info.commitLogMinOffset, 0);
  assert.equal(info.commitLogMaxOffset, store.getMaxPhyOffset());
  assert.equal(info.flushBehindBytes, 0, 'SYNC_FLUSH: every acknowledged byte is fsynced');
  assert.equal(info.remainHowManyDataToCommit, 0);
  assert.equal(info.remainHowManyDataToFlush, 0);
  assert.equal(info.dispatchBehindBytes, 0);
  assert.equal(info.pageCacheLockTimeMills, 0, 'the writer is idle');
  assert.ok(info.commitLogFsyncTimesTotal > 0);
  const total = [...info.putMessageDistributeTime.matchAll(/\]:(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  assert.equal(total, 201, 'one distribution sample per put call (200 singles and a batch)');
  assert.ok(info.putLatency99 >= 0 && info.putLatency999 >= info.putLatency99);
  await until(() => store.getRuntimeInfo().commitLogDiskRatio >= 0, 'the first disk check ran', 5000);
  assert.ok(store.getRuntimeInfo().commitLogDiskRatio <= 1);
});

test('pageCacheLockTimeMills grows while a CommitLog write is stuck', async (t) => {
  const store = await openStore(t, {}, slowStorageSpec({ pwritevPathIncludes: `${path.sep}commitlog${path.sep}`, pwritevDelayMs: 400 }));
  const put = store.putMessage({ topic: 'Slow', queueId: 0, body: 'x' });
  await until(() => store.getRuntimeInfo().pageCacheLockTimeMills >= 100, 'the lock time rose while the write sleeps', 5000);
  assert.equal((await put).putMessageStatus, 'PUT_OK');
  await until(() => store.getRuntimeInfo().pageCacheLockTimeMills === 0, 'back to 0 after the write', 5000);
  assert.ok(store.getRuntimeInfo().putMessageEntireTimeMax >= 300, 'the slow put is the longest');
});

test('pageCacheRtLogEnable prints RocketMQ\'s lines each window; updateConfig turns them off', async (t) => {
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  t.mock.method(process.stderr, 'write', (chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.includes('StoreStatsService')) {
      written.push(text);
      return true;
    }
    return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  });
  const store = await openStore(t, { pageCacheRtLogEnable: true }, { statsWindowMs: 300 });
  for (let i = 0; i < 20; i++) await store.putMessage({ topic: 'Log', queueId: 0, body: 'x' });
  await until(() => written.some((line) => line.includes('[PAGECACHERT]')), 'a [PAGECACHERT] line', 5000);
  const line = written.find((l) => l.includes('[PAGECACHERT]'))!;
  assert.match(line, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO StoreStatsService - \[PAGECACHERT\] TotalPut \d+, PutMessageDistributeTime \[<=0ms\]:\d+ \[0~10ms\]:\d+ .* \[10s~\]:\d+\n$/);
  assert.ok(written.some((l) => /\[STORETPS\] put_tps \d+\.\d\d get_found_tps /.test(l)));
  await store.updateConfig({ pageCacheRtLogEnable: false });
  const count = written.length;
  await new Promise((resolve) => setTimeout(resolve, 800));
  assert.equal(written.length, count, 'no lines after the log was turned off');
});
