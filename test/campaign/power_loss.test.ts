// Goal: simulated power loss. (1) The journal model keeps exactly what a power cut leaves:
// synced bytes, entries whose directory was fsynced, a random prefix of unsynced writes, or a
// torn last write. (2) The power-loss campaign: a child process sends the crash stream through
// the journaling storage, is killed, the store is rewritten to what the disk held, reopened and
// checked (every SYNC_FLUSH ack byte for byte, ASYNC_FLUSH acks lost only past the durable end,
// no duplicates, queue offsets in order). The long run is
// `node dist/native-free-bench/crash_loop.js --rounds 200 --power-loss mixed`.
// Method: JournalStorage in this process for the model; CrashCampaign for the rounds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CrashCampaign, formatRound } from '../support/crash_round.js';
import { applyPowerLoss, createStorage, type PowerLossMode } from '../support/power_loss_storage.js';

function tempDir(t: { after: (fn: () => void) => void }, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mqstore-power-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store dir with `old` (durable), then journaled changes, then the power cut in `mode`. */
function scenario(t: { after: (fn: () => void) => void }, mode: PowerLossMode, seed = 1): { storeDir: string; report: ReturnType<typeof applyPowerLoss> } {
  const dir = tempDir(t, mode);
  const storeDir = path.join(dir, 'store');
  const snapshotDir = path.join(dir, 'snapshot');
  fs.mkdirSync(path.join(storeDir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(storeDir, 'old'), 'OLD!');
  fs.cpSync(storeDir, snapshotDir, { recursive: true });
  const journal = path.join(dir, 'journal');
  const storage = createStorage({ journal });
  // synced: created, written, fdatasynced, directory fsynced.
  const synced = storage.open(path.join(storeDir, 'synced'), true);
  storage.pwritev(synced, [Buffer.from('abcd')], 0);
  storage.fdatasync(synced);
  storage.pwritev(synced, [Buffer.from('efgh')], 4); // unsynced
  storage.pwritev(synced, [Buffer.from('ijkl')], 8); // unsynced, the last write
  storage.close(synced);
  storage.fsyncDir(storeDir);
  // no-dirsync: its data synced but its directory entry never.
  const orphan = storage.open(path.join(storeDir, 'sub', 'orphan'), true);
  storage.pwritev(orphan, [Buffer.from('data')], 0);
  storage.fdatasync(orphan);
  storage.close(orphan);
  // atomic replace of `old`, durable; and an unlink without a directory fsync.
  storage.writeFileAtomic(path.join(storeDir, 'old'), Buffer.from('NEW!'));
  const gone = storage.open(path.join(storeDir, 'sub', 'unsynced-unlink'), true);
  storage.close(gone);
  return { storeDir, report: applyPowerLoss({ journal, snapshotDir, storeDir, mode, seed }) };
}

test('drop: only fsynced bytes of entries whose directory was fsynced survive', (t) => {
  const { storeDir, report } = scenario(t, 'drop');
  assert.equal(fs.readFileSync(path.join(storeDir, 'synced'), 'latin1'), 'abcd');
  assert.equal(fs.existsSync(path.join(storeDir, 'sub', 'orphan')), false, 'created and synced, but its directory never was');
  assert.equal(fs.existsSync(path.join(storeDir, 'sub')), true, 'directories stay');
  assert.equal(fs.readFileSync(path.join(storeDir, 'old'), 'latin1'), 'NEW!', 'temp + fsync + rename + directory fsync is durable');
  assert.equal(fs.existsSync(path.join(storeDir, 'old.tmp')), false);
  assert.equal(report.droppedWriteBytes, 8);
  assert.equal(report.lostEntries, 2, 'orphan and unsynced-unlink');
});

test('prefix: a random prefix of each file\'s unsynced writes; torn: all but the last write, which is cut', (t) => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 12; seed++) {
    const content = fs.readFileSync(path.join(scenario(t, 'prefix', seed).storeDir, 'synced'), 'latin1');
    assert.ok(['abcd', 'abcdefgh', 'abcdefghijkl'].includes(content), content);
    seen.add(content);
  }
  assert.ok(seen.size >= 2, `prefixes seen: ${[...seen].join(', ')}`);
  const torn = new Set<string>();
  for (let seed = 1; seed <= 12; seed++) {
    const content = fs.readFileSync(path.join(scenario(t, 'torn', seed).storeDir, 'synced'), 'latin1');
    assert.match(content, /^abcdefgh(i|ij|ijk|ijkl)?$/);
    torn.add(content);
  }
  assert.ok(torn.size >= 2, `tears seen: ${[...torn].join(', ')}`);
});

test('the durable CommitLog end is segment start + the highest synced write, whatever came after', (t) => {
  const dir = tempDir(t, 'durable-end');
  const storeDir = path.join(dir, 'store');
  const snapshotDir = path.join(dir, 'snapshot');
  fs.mkdirSync(path.join(storeDir, 'commitlog'), { recursive: true });
  fs.cpSync(storeDir, snapshotDir, { recursive: true });
  const journal = path.join(dir, 'journal');
  const storage = createStorage({ journal });
  const segment = storage.open(path.join(storeDir, 'commitlog', '00000000000000065536'), true);
  storage.truncate(segment, 4096);
  storage.pwritev(segment, [Buffer.alloc(100, 1)], 0);
  storage.fdatasync(segment);
  storage.pwritev(segment, [Buffer.alloc(50, 2)], 100);
  storage.close(segment);
  storage.fsyncDir(path.join(storeDir, 'commitlog'));
  const report = applyPowerLoss({ journal, snapshotDir, storeDir, mode: 'torn', seed: 3 });
  assert.equal(report.durableCommitLogEnd, 65536 + 100);
});

test('the power-loss campaign: drop, prefix and torn cuts under SYNC_FLUSH, a cut under ASYNC_FLUSH', async (t) => {
  const dir = tempDir(t, 'campaign');
  const modes: PowerLossMode[] = ['drop', 'prefix', 'torn', 'torn'];
  const campaign = new CrashCampaign({ dir, seed: 20261125, powerLossFor: (round) => modes[round % modes.length]!, killAfterMsMin: 150, killAfterMsMax: 300 });
  for (let round = 0; round < modes.length; round++) {
    const report = await campaign.runRound(round);
    assert.deepEqual(report.problems, [], formatRound(20261125, report));
    assert.ok(report.killed && report.powerLoss !== null, formatRound(20261125, report));
    assert.equal(report.flushDiskType, round === 3 ? 'ASYNC_FLUSH' : 'SYNC_FLUSH');
    if (report.flushDiskType === 'SYNC_FLUSH') assert.equal(report.lostAsyncMessages, 0);
    // ASYNC_FLUSH flushes every 500 ms while the child writes all the time: the cut drops bytes.
    else assert.ok(report.powerLoss.droppedWriteBytes > 0, formatRound(20261125, report));
  }
  assert.ok(campaign.ackedMessagesTotal > 0);
});
