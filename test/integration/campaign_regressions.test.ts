// Regressions found by the reliability campaigns (crash_loop.js --power-loss, soak.js),
// each named after what failed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../../src/index.js';
import { faultyStorageSpec } from '../support/faulty_storage.js';

const SEGMENT_BYTES = 64 * 1024;

test('after a power cut the active segment and the one created ahead both come back empty: recovery drops both and opens', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-power-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, flushDiskType: 'SYNC_FLUSH' as const };
  let store = await MessageStore.open(options);
  const body = Buffer.alloc(1000, 0x61);
  let lastOffset = 0;
  for (let i = 0; i < 100; i++) lastOffset = (await store.putMessage({ topic: 'Pw', queueId: 0, body })).appendMessageResult!.wroteOffset;
  await store.close();
  // Their creation reached the directory, their size (never fsynced: no data yet) did not.
  const commitLogDir = path.join(root, 'commitlog');
  const segments = fs.readdirSync(commitLogDir).sort();
  const lastStart = Number(segments.at(-1));
  for (const start of [lastStart + SEGMENT_BYTES, lastStart + 2 * SEGMENT_BYTES]) {
    fs.writeFileSync(path.join(commitLogDir, String(start).padStart(20, '0')), '');
  }
  fs.writeFileSync(path.join(root, 'abort'), ''); // as after a crash
  store = await MessageStore.open(options);
  try {
    const removed = store.getRecoveryReport().events.filter((e) => e.kind === 'removed' && e.reason === 'zero-length last segment');
    assert.equal(removed.length, 2);
    assert.equal((await store.lookMessageByOffset(lastOffset))?.body.length, 1000, 'the data is all there');
    assert.equal((await store.putMessage({ topic: 'Pw', queueId: 0, body })).putMessageStatus, 'PUT_OK');
  } finally {
    await store.close();
  }
});

test('after a power cut a segment comes back empty while the next one kept records: the log ends at the empty one, the store opens', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-power-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, flushDiskType: 'SYNC_FLUSH' as const };
  let store = await MessageStore.open(options);
  const body = Buffer.alloc(1000, 0x62);
  const offsets: number[] = [];
  for (let i = 0; i < 200; i++) offsets.push((await store.putMessage({ topic: 'Pw', queueId: 0, body })).appendMessageResult!.wroteOffset);
  await store.close();
  const commitLogDir = path.join(root, 'commitlog');
  const withData = fs.readdirSync(commitLogDir).sort().filter((name) => Number(name) <= offsets.at(-1)!);
  assert.ok(withData.length >= 3);
  // The second-to-last segment with data lost its size; the last one kept its records.
  const emptied = withData.at(-2)!;
  fs.truncateSync(path.join(commitLogDir, emptied), 0);
  fs.writeFileSync(path.join(root, 'abort'), '');
  store = await MessageStore.open(options);
  try {
    const report = store.getRecoveryReport();
    assert.ok(report.events.some((e) => e.kind === 'cut' && e.physicalOffset === Number(emptied)), JSON.stringify(report.events));
    assert.equal(store.getMaxPhyOffset(), Number(emptied), 'the log ends where the empty segment begins');
    const kept = offsets.filter((o) => o < Number(emptied)).at(-1)!;
    assert.equal((await store.lookMessageByOffset(kept))?.body.equals(body), true);
    assert.equal((await store.putMessage({ topic: 'Pw', queueId: 0, body })).putMessageStatus, 'PUT_OK');
  } finally {
    await store.close();
  }
});

test('retention deleting a segment whose fdatasync is still in flight no longer fences the store with EBADF (found by the soak)', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-soak-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = await MessageStore.open(
    {
      storePathRootDir: root,
      mappedFileSizeCommitLog: SEGMENT_BYTES,
      flushIntervalCommitLog: 10,
      flushCommitLogLeastPages: 0,
      fileReservedTime: 0,
      deleteWhen: Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')).join(';'),
      deleteCommitLogFilesInterval: 0,
    },
    faultyStorageSpec({ fsyncDelayMs: 150 }),
  );
  try {
    const body = Buffer.alloc(1000, 0x63);
    for (let i = 0; i < 400; i++) assert.equal((await store.putMessage({ topic: 'Soak', queueId: 0, body })).putMessageStatus, 'PUT_OK');
    // Flushes take ≥ 150 ms per segment: deletions run while one is syncing old segments.
    const deadline = performance.now() + 1500;
    while (performance.now() < deadline) {
      await store.deleteExpiredFilesManually();
      assert.equal((await store.putMessage({ topic: 'Soak', queueId: 0, body })).putMessageStatus, 'PUT_OK');
    }
    assert.ok(store.getMinPhyOffset() > 0, 'retention deleted segments');
  } finally {
    await store.close();
  }
});
