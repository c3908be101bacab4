// Goal: a full recovery gives the same answer whether segments are scanned in the writer or in
// parallel on the piscina pool: same end, minimum, queue offsets, events, and the same cut.
// Method: a real store with many small segments is written and left "crashed" (abort file), then
// copied; Recovery runs on one copy sequentially and on the other with parallel summaries. Then
// the same with a damaged record in the middle segment.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../../../src/index.js';
import { FsStorage } from '../../../src/io/storage_fs.js';
import { scanSegmentsInParallel, scanThreadsFor } from '../../../src/recovery/parallel_scan.js';
import { ABORT_FILE_NAME, Recovery, type RecoveryResult } from '../../../src/recovery/recovery.js';
import { segmentName } from '../../../src/format/segment_name.js';

const SEGMENT_BYTES = 64 * 1024;

async function writeStore(root: string): Promise<void> {
  const store = await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES });
  const puts = [];
  for (let i = 0; i < 1500; i++) {
    puts.push(store.putMessage({ topic: `T${i % 3}`, queueId: i % 4, body: Buffer.alloc(200 + (i % 50), i), keys: `k${i}` }));
  }
  for (const result of await Promise.all(puts)) assert.equal(result.putMessageStatus, 'PUT_OK');
  await store.close();
  // As after a crash: the next open must scan every segment.
  fs.writeFileSync(path.join(root, ABORT_FILE_NAME), '1');
}

function recover(root: string, prescanned?: Parameters<Recovery['run']>[0]): RecoveryResult {
  return new Recovery(new FsStorage(), {
    rootDir: root,
    commitLogDir: path.join(root, 'commitlog'),
    segmentSizeBytes: SEGMENT_BYTES,
    checkCrc: true,
  }).run(prescanned);
}

async function recoverInParallel(root: string): Promise<RecoveryResult> {
  const recovery = new Recovery(new FsStorage(), {
    rootDir: root,
    commitLogDir: path.join(root, 'commitlog'),
    segmentSizeBytes: SEGMENT_BYTES,
    checkCrc: true,
  });
  const options = { segments: recovery.segmentsToScan(), segmentSizeBytes: SEGMENT_BYTES, verifyCrc: true, storage: undefined, threads: 2 };
  assert.ok(options.segments.length >= 4, `${options.segments.length} segments to scan`);
  assert.equal(scanThreadsFor(options), 2);
  const summaries = await scanSegmentsInParallel(options, 2);
  assert.equal(summaries.size, options.segments.length);
  return recovery.run(summaries);
}

/** The result without timings, with file paths relative to the store (the copies differ). */
function comparable(result: RecoveryResult): unknown {
  const { durationMs: _durationMs, ...rest } = result;
  const events = rest.events.map((event) => ({ ...event, file: event.file === '' ? '' : path.basename(event.file) }));
  return { ...rest, events, queueOffsets: [...rest.queueOffsets].sort() };
}

test('parallel and sequential full recovery agree on an intact log', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-parallel-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const a = path.join(base, 'a');
  await writeStore(a);
  const b = path.join(base, 'b');
  fs.cpSync(a, b, { recursive: true });
  const sequential = recover(a);
  const parallel = await recoverInParallel(b);
  assert.deepEqual(comparable(parallel), comparable(sequential));
  assert.equal(sequential.fullScan, true);
  assert.equal(sequential.queueOffsets.reduce((sum, [, , next]) => sum + next, 0), 1500);
});

test('parallel and sequential full recovery cut a damaged log at the same record and remove the same segments', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-parallel-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const a = path.join(base, 'a');
  await writeStore(a);
  // Damage a body byte in the middle of the third segment: its CRC fails there.
  const victim = path.join(a, 'commitlog', segmentName(2 * SEGMENT_BYTES));
  const bytes = fs.readFileSync(victim);
  bytes[20000] = bytes[20000]! ^ 0xff;
  fs.writeFileSync(victim, bytes);
  const b = path.join(base, 'b');
  fs.cpSync(a, b, { recursive: true });
  const sequential = recover(a);
  const parallel = await recoverInParallel(b);
  assert.deepEqual(comparable(parallel), comparable(sequential));
  assert.ok(sequential.endPhysicalOffset > 2 * SEGMENT_BYTES && sequential.endPhysicalOffset < 2 * SEGMENT_BYTES + 20000);
  assert.deepEqual(fs.readdirSync(path.join(a, 'commitlog')), fs.readdirSync(path.join(b, 'commitlog')));
  assert.equal(fs.readdirSync(path.join(b, 'commitlog')).length, 3, 'segments after the cut are removed');
});

test('the pool is used only for enough data over several segments that reads like the page cache', () => {
  const segments = (count: number): Array<{ startOffset: number; path: string }> =>
    Array.from({ length: count }, (_, i) => ({ startOffset: i * 2 ** 30, path: `/nonexistent/${i}` }));
  const options = (count: number, segmentSizeBytes = 2 ** 30, threads?: number) => ({
    segments: segments(count),
    segmentSizeBytes,
    verifyCrc: true,
    storage: undefined,
    threads,
  });
  const cores = Math.min(4, os.availableParallelism());
  const parallel = cores >= 2 ? Math.min(cores, 10) : 1;
  const fast = (): number => 20e9;
  const slow = (): number => 1e9;
  assert.equal(scanThreadsFor(options(10), fast), parallel, 'cached: every core');
  assert.equal(scanThreadsFor(options(10), slow), 1, 'a slow disk: one sequential reader');
  assert.equal(scanThreadsFor(options(1), fast), 1, 'one segment');
  assert.equal(scanThreadsFor(options(3, 64 * 1024 * 1024), fast), 1, 'less than 256 MiB');
  assert.equal(scanThreadsFor(options(10, 2 ** 30, 3), slow), 3, 'a pinned count wins');
  assert.equal(scanThreadsFor(options(2, 2 ** 30, 8), slow), 2, 'never more threads than segments');
});
