// Goal: after a SIGKILL, every acknowledged message is in its consume queue exactly once, at its
// acknowledged queue offset, and findable by key; the derived-file recovery report is sane.
// Method: rounds on one store dir (ASYNC_FLUSH, SYNC_FLUSH, ASYNC_FLUSH): spawn
// dispatch_crash_child, SIGKILL it mid-stream, reopen, check every ack of every round so far and
// compare each queue with the messages the CommitLog holds.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GetMessageStatus, type FlushDiskType, type MessageStore } from '../../src/index.js';
import {
  DISPATCH_CRASH_OPTIONS,
  DISPATCH_CRASH_QUEUES,
  DISPATCH_CRASH_TOPICS,
  dispatchCrashTarget,
} from '../support/dispatch_crash_child.js';
import { readQueue, sleep, TempStore } from '../support/dispatch_support.js';
import { readAllMessages } from '../support/store_walk.js';

const CHILD_PATH = fileURLToPath(new URL('../support/dispatch_crash_child.js', import.meta.url));
const ROUNDS: FlushDiskType[] = ['ASYNC_FLUSH', 'SYNC_FLUSH', 'ASYNC_FLUSH'];
const READY_TIMEOUT_MS = 15_000;

interface Ack {
  round: number;
  n: number;
  logicsOffset: number;
  wroteOffset: number;
}

/** Spawns the child, waits for `ready`, lets it put for `runMs`, kills it; returns its acks. */
async function runChild(storeDir: string, ackFile: string, round: number, flush: FlushDiskType, runMs: number): Promise<{ acks: Ack[]; stderr: string }> {
  const child = spawn(process.execPath, [CHILD_PATH, '--dir', storeDir, '--ack', ackFile, '--round', String(round), '--flush', flush], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = await new Promise<boolean>((resolve) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n')) resolve(true);
    });
    void exited.then(() => resolve(false));
    setTimeout(() => resolve(false), READY_TIMEOUT_MS).unref();
  });
  assert.ok(ready, `the child never became ready; stderr: ${stderr}`);
  await sleep(runMs);
  child.kill('SIGKILL');
  const exit = await exited;
  assert.equal(exit.signal, 'SIGKILL', `the child died by itself (code ${exit.code}); stderr: ${stderr}`);
  assert.doesNotMatch(stderr, /STORE FAILED|UNEXPECTED/, 'the child reported a failure');
  const acks: Ack[] = [];
  const lines = fs.readFileSync(ackFile, 'latin1').split('\n');
  lines.pop(); // '' or a line cut by the kill
  for (const line of lines) {
    const [n, logicsOffset, wroteOffset] = line.split(',').map(Number) as [number, number, number];
    acks.push({ round, n, logicsOffset, wroteOffset });
  }
  return { acks, stderr };
}

/** (round, n) of a body written by the child. */
function identity(body: Buffer): { round: number; n: number } {
  const match = /^crash-(\d+)-(\d+)-/.exec(body.toString('latin1', 0, 40));
  assert.ok(match !== null, `a body not written by the child: ${body.toString('latin1', 0, 40)}`);
  return { round: Number(match[1]), n: Number(match[2]) };
}

/** Each queue holds exactly the CommitLog's messages of that queue, in order, once each. */
async function checkQueuesAgainstLog(store: MessageStore): Promise<number> {
  const inLog = new Map<string, string[]>();
  for (const message of await readAllMessages(store, DISPATCH_CRASH_OPTIONS.mappedFileSizeCommitLog)) {
    const key = `${message.topic}/${message.queueId}`;
    const list = inLog.get(key) ?? [];
    assert.equal(message.queueOffset, list.length, `${key}: the CommitLog's queue offsets run 0, 1, 2…`);
    const { round, n } = identity(message.body);
    list.push(`${round}:${n}@${message.commitLogOffset}`);
    inLog.set(key, list);
  }
  let total = 0;
  for (const topic of DISPATCH_CRASH_TOPICS) {
    for (let queueId = 0; queueId < DISPATCH_CRASH_QUEUES; queueId++) {
      const key = `${topic}/${queueId}`;
      const want = inLog.get(key) ?? [];
      assert.equal(store.getMaxOffsetInQueue(topic, queueId), want.length, `${key}: max offset = messages in the CommitLog`);
      assert.equal(store.getMaxOffsetInQueue(topic, queueId, false), want.length, `${key}: accepted max offset`);
      const read = await readQueue(store, topic, queueId, { maxMsgNums: 32 });
      const got = read.messages.map((m) => {
        const { round, n } = identity(m.body);
        return `${round}:${n}@${m.commitLogOffset}`;
      });
      assert.equal(new Set(got).size, got.length, `${key}: no message twice`);
      assert.deepEqual(got, want, `${key}: the consume queue lists the CommitLog's messages of the queue`);
      total += want.length;
    }
  }
  return total;
}

/**
 * Checks every ack by queue offset and by key. Returns the keys whose lookup listed the message
 * more than once; a lookup never misses the message or returns another.
 */
async function checkAcks(store: MessageStore, acks: readonly Ack[]): Promise<string[]> {
  const end = Date.now() + 60_000;
  const repeated: string[] = [];
  for (const ack of acks) {
    const target = dispatchCrashTarget(ack.round, ack.n);
    const where = `ack round ${ack.round} n ${ack.n} (${target.topic}/${target.queueId}@${ack.logicsOffset})`;
    const got = await store.getMessage({ group: 'g', topic: target.topic, queueId: target.queueId, offset: ack.logicsOffset, maxMsgNums: 1 });
    assert.equal(got.status, GetMessageStatus.FOUND, where);
    assert.equal(got.messages.length, 1, where);
    const message = got.messages[0]!;
    assert.equal(message.commitLogOffset, ack.wroteOffset, where);
    assert.equal(message.queueOffset, ack.logicsOffset, where);
    assert.equal(message.body.toString('latin1'), target.body, where);
    assert.equal(message.tags, target.tags, where);
    const byKey = await store.queryMessage(target.topic, target.key, 32, 0, end);
    const offsets = byKey.messages.map((m) => m.commitLogOffset);
    assert.ok(offsets.length >= 1, `${where}: queryMessage(${target.key}) finds it`);
    assert.deepEqual([...new Set(offsets)], [ack.wroteOffset], `${where}: queryMessage(${target.key}) finds only it`);
    if (offsets.length > 1) repeated.push(`${target.key} ×${offsets.length}`);
  }
  return repeated;
}

test('after SIGKILL every acknowledged message is in its consume queue once and found by key (ASYNC and SYNC flush)', { timeout: 90_000 }, async (t) => {
  const temp = await TempStore.open(t, 'dispatch-kill', DISPATCH_CRASH_OPTIONS);
  await temp.close(); // The children own the directory; the test reopens it after each kill.
  const ackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-dispatch-acks-'));
  t.after(() => fs.rmSync(ackDir, { recursive: true, force: true }));
  const history: Ack[] = [];
  for (const [round, flush] of ROUNDS.entries()) {
    const ackFile = path.join(ackDir, `acks-${round}`);
    const { acks } = await runChild(temp.root, ackFile, round, flush, 400 + 150 * round);
    assert.ok(acks.length > 20, `round ${round} (${flush}): the child acknowledged puts before the kill (${acks.length})`);
    history.push(...acks);

    const store = await temp.reopen({ ...DISPATCH_CRASH_OPTIONS, flushDiskType: 'SYNC_FLUSH' });
    const report = store.getRecoveryReport();
    const derived = report.derived;
    t.diagnostic(`round ${round} ${flush}: ${acks.length} acks, derived ${JSON.stringify({ ...derived, durationMs: Math.round(derived.durationMs) })}`);
    assert.equal(report.lastExitOK, false, 'a killed store reopens abnormally');
    assert.ok(derived.redispatchFromPhysicalOffset >= 0);
    assert.ok(derived.redispatchFromPhysicalOffset <= report.endPhysicalOffset, 're-dispatch starts inside the log');
    assert.equal(derived.redispatchedBytes, report.endPhysicalOffset - derived.redispatchFromPhysicalOffset);
    // The page cache survives a process kill: nothing needs a rebuild, re-dispatch is enough.
    assert.deepEqual(derived.consumeQueuesRebuilt, [], 'no consume queue is rebuilt after a process kill');
    assert.equal(derived.indexRebuilt, false, 'the index is not rebuilt after a process kill');
    assert.ok(derived.indexFileCount >= 1);
    assert.ok(derived.durationMs >= 0);
    if (derived.consumeQueuesTrimmed > 0 || derived.indexSlotsRepaired > 0) assert.ok(derived.events.length > 0, 'every repair is reported');

    const total = await checkQueuesAgainstLog(store);
    assert.ok(total >= history.length, `the log holds at least every acknowledged message (${total} ≥ ${history.length})`);
    assert.equal(derived.consumeQueueCount, DISPATCH_CRASH_TOPICS.length * DISPATCH_CRASH_QUEUES);
    assert.deepEqual(await checkAcks(store, history), [], 'keys whose lookup lists their message more than once');
    await temp.close();
  }
  assert.ok(history.length > 100, `acknowledged messages over all rounds: ${history.length}`);
});

// After a kill, re-dispatch indexes the message at the index's endPhyOffset again (as RocketMQ
// does: its keys may have been half written), so the index holds that offset twice; queryMessage
// must still list the message once.
test('after SIGKILL queryMessage lists the last indexed message once', { timeout: 30_000 }, async (t) => {
  const temp = await TempStore.open(t, 'dispatch-kill-key', DISPATCH_CRASH_OPTIONS);
  await temp.close();
  const ackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-dispatch-acks-'));
  t.after(() => fs.rmSync(ackDir, { recursive: true, force: true }));
  const { acks } = await runChild(temp.root, path.join(ackDir, 'acks'), 0, 'ASYNC_FLUSH', 300);
  assert.ok(acks.length > 0);
  const store = await temp.reopen();
  assert.deepEqual(await checkAcks(store, acks), [], 'keys whose lookup lists their message more than once');
});
