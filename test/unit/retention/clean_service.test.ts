// Goal: CleanService decides like RocketMQ's CleanCommitLogService: when to delete (deleteWhen
// hour, disk ratios, manual runs), what to ask (expiry cutoff, force, batch, pause), and when
// puts are refused for a full disk.
// Method: the service with fake dependencies that record every call; no files, no timers fired.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig, type MessageStoreConfig } from '../../../src/config.js';
import { CleanService, MANUAL_DELETE_RUNS } from '../../../src/retention/clean_service.js';

interface Harness {
  service: CleanService;
  calls: Array<{ expiredBeforeMs: number; force: boolean; batchMax: number; pauseMs: number }>;
  derivedBelow: number[];
  diskFull: Array<string | null>;
  setRatio(ratio: number): void;
}

async function harness(overrides: Partial<MessageStoreConfig> = {}, now = new Date(2026, 10, 25, 12, 0, 0)): Promise<Harness> {
  const config = { ...(await resolveConfig({ storePathRootDir: '/nonexistent-mqstore-test' })), ...overrides };
  let ratio = 0.1;
  const calls: Harness['calls'] = [];
  const derivedBelow: number[] = [];
  const diskFull: Array<string | null> = [];
  const service = new CleanService({
    config: () => config,
    diskUsedRatio: async () => ratio,
    deleteSegments: async (options) => {
      calls.push(options);
      return { deletedCount: 2, minPhysicalOffset: 2048 };
    },
    deleteDerivedBelow: async (min) => {
      derivedBelow.push(min);
    },
    setDiskFull: (reason) => diskFull.push(reason),
    now: () => now,
  });
  return { service, calls, derivedBelow, diskFull, setRatio: (r) => (ratio = r) };
}

test('outside deleteWhen hours, with a quiet disk and no request, a run deletes nothing', async () => {
  const h = await harness({ deleteWhen: '04' });
  const result = await h.service.runOnce();
  assert.equal(result.trigger, null);
  assert.equal(h.calls.length, 0);
  assert.deepEqual(h.diskFull, [null]);
});

test('in a deleteWhen hour, expired segments are deleted: cutoff = now − fileReservedTime hours, no force', async () => {
  const now = new Date(2026, 10, 25, 13, 30, 0);
  const h = await harness({ deleteWhen: '04;13', fileReservedTime: 48, deleteFileBatchMax: 7, deleteCommitLogFilesInterval: 55 }, now);
  const result = await h.service.runOnce();
  assert.equal(result.trigger, 'time');
  assert.deepEqual(h.calls, [{ expiredBeforeMs: now.getTime() - 48 * 3600_000, force: false, batchMax: 7, pauseMs: 55 }]);
  assert.deepEqual(h.derivedBelow, [2048], 'derived files follow the new minimum');
});

test('a manual request deletes at any hour, with fileReservedTime 0 meaning everything but the active segment', async () => {
  const now = new Date(2026, 10, 25, 12, 0, 0);
  const h = await harness({ fileReservedTime: 0 }, now);
  const result = await h.service.runManually();
  assert.equal(result.trigger, 'manual');
  assert.equal(h.calls[0]!.expiredBeforeMs, now.getTime());
  // The next MANUAL_DELETE_RUNS − 1 scheduled runs delete too, then it stops.
  for (let i = 1; i < MANUAL_DELETE_RUNS; i++) assert.equal((await h.service.runOnce()).trigger, 'manual');
  assert.equal((await h.service.runOnce()).trigger, null);
});

test('above diskMaxUsedSpaceRatio expired segments go at any hour, still without force', async () => {
  const h = await harness({ diskMaxUsedSpaceRatio: 75 });
  h.setRatio(0.8);
  const result = await h.service.runOnce();
  assert.equal(result.trigger, 'disk');
  assert.equal(h.calls[0]!.force, false);
  assert.deepEqual(h.diskFull, [null]);
});

test('above diskSpaceCleanForciblyRatio deletion is forced when cleanFileForciblyEnable, and not otherwise', async () => {
  const h = await harness({ diskSpaceCleanForciblyRatio: 85 });
  h.setRatio(0.87);
  await h.service.runOnce();
  assert.equal(h.calls[0]!.force, true);
  const off = await harness({ diskSpaceCleanForciblyRatio: 85, cleanFileForciblyEnable: false });
  off.setRatio(0.87);
  await off.service.runOnce();
  assert.equal(off.calls[0]!.force, false);
});

test('above diskSpaceWarningLevelRatio puts are refused with a reason naming the ratio, and allowed again below it', async () => {
  const h = await harness({ diskSpaceWarningLevelRatio: 90 });
  h.setRatio(0.93);
  await h.service.runOnce();
  assert.match(h.diskFull.at(-1)!, /93\.0%.*diskSpaceWarningLevelRatio 90\.0%/);
  assert.equal(h.calls[0]!.force, true);
  h.setRatio(0.5);
  await h.service.runOnce();
  assert.equal(h.diskFull.at(-1), null);
});

test('ratios are clamped as RocketMQ clamps them: a warning level of 99 acts as 90', async () => {
  const h = await harness({ diskSpaceWarningLevelRatio: 99 });
  h.setRatio(0.91);
  await h.service.runOnce();
  assert.notEqual(h.diskFull.at(-1), null);
});

test('runs never overlap: a run requested during another waits for it', async () => {
  const config = { ...(await resolveConfig({ storePathRootDir: '/nonexistent-mqstore-test' })), fileReservedTime: 0 };
  const events: string[] = [];
  const service = new CleanService({
    config: () => config,
    diskUsedRatio: async () => 0.1,
    deleteSegments: async () => {
      events.push('delete start');
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push('delete end');
      return { deletedCount: 1, minPhysicalOffset: 4096 };
    },
    deleteDerivedBelow: async () => {
      events.push('derived');
    },
    setDiskFull: () => undefined,
  });
  await Promise.all([service.runManually(), service.runManually(), service.runOnce()]);
  assert.deepEqual(events, [
    'delete start', 'delete end', 'derived',
    'delete start', 'delete end', 'derived',
    'delete start', 'delete end', 'derived',
  ]);
});
