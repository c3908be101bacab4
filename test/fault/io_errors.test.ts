// Goal: a failed write, fsync or segment creation is never acknowledged; the store fences itself with the errno, closes cleanly, and reopens consistent.
// Method: FaultyStorage fails the nth CommitLog call with EIO/ENOSPC/EROFS under concurrent puts; every result is checked against the fault's offset, then the store is reopened without faults and walked record by record.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodeMessages,
  MessageStore,
  PutMessageStatus,
  StoreError,
  type FlushDiskType,
  type MessageStoreOptions,
  type PutMessageResult,
} from '../../src/index.js';
import { createSyncLog, type FailOn, faultyStorageSpec, readSyncLog, type SyncLogSnapshot } from '../support/faulty_storage.js';
import { readAllMessages } from '../support/store_walk.js';

const SEGMENT_BYTES = 16 * 1024;
const TOPIC = 'TopicFault';
const QUEUES = 4;
const FAILED_STATUSES: ReadonlySet<string> = new Set([
  PutMessageStatus.UNKNOWN_ERROR,
  PutMessageStatus.CREATE_MAPPED_FILE_FAILED,
  PutMessageStatus.SERVICE_NOT_AVAILABLE,
]);

interface Sent {
  index: number;
  queueId: number;
  result: PutMessageResult;
  /** Issued after some earlier put had already come back failed. */
  issuedAfterFailure: boolean;
}

interface Scenario {
  flushDiskType: FlushDiskType;
  failOn: FailOn;
  puts: number;
  concurrency: number;
  segmentBytes?: number;
}

interface Outcome {
  root: string;
  store: MessageStore;
  sent: Sent[];
  log: SyncLogSnapshot;
  track: (store: MessageStore) => MessageStore;
  options: MessageStoreOptions;
}

/** A fresh temp dir removed after the test; stores registered with `track` are closed first. */
function tempRoot(t: TestContext): { root: string; track: (store: MessageStore) => MessageStore } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-ioerr-'));
  const stores: MessageStore[] = [];
  t.after(async () => {
    for (const store of stores) await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { root, track: (store) => (stores.push(store), store) };
}

function bodyOf(i: number): Buffer {
  return Buffer.from(`fault-${i}-${'y'.repeat((i * 7) % 113)}`, 'utf8');
}

function indexOfBody(body: Buffer): number {
  const match = /^fault-(\d+)-/.exec(body.toString('utf8'));
  assert.ok(match !== null, `unexpected body ${body.toString('utf8').slice(0, 40)}`);
  return Number(match[1]);
}

/** Opens a faulty store and sends `puts` messages, `concurrency` at a time, in index order. */
async function runScenario(t: TestContext, scenario: Scenario): Promise<Outcome> {
  const { root, track } = tempRoot(t);
  const syncLog = createSyncLog();
  const options: MessageStoreOptions = {
    storePathRootDir: root,
    mappedFileSizeCommitLog: scenario.segmentBytes ?? SEGMENT_BYTES,
    flushDiskType: scenario.flushDiskType,
  };
  const store = track(await MessageStore.open(options, faultyStorageSpec({ failOn: scenario.failOn, syncLog })));
  const sent: Sent[] = [];
  let failureSeen = false;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < scenario.puts) {
      const index = next++;
      const queueId = index % QUEUES;
      const issuedAfterFailure = failureSeen;
      const result = await store.putMessage({ topic: TOPIC, queueId, body: bodyOf(index) });
      if (!result.ok) failureSeen = true;
      sent[index] = { index, queueId, result, issuedAfterFailure };
    }
  };
  await Promise.all(Array.from({ length: scenario.concurrency }, lane));
  return { root, store, sent, log: readSyncLog(syncLog), track, options };
}

function endOf(result: PutMessageResult): number {
  return result.appendMessageResult!.wroteOffset + result.appendMessageResult!.wroteBytes;
}

function assertErrno(error: unknown, code: string, syscallCode: string, what: string): void {
  assert.ok(error instanceof StoreError, `${what}: expected a StoreError, got ${String(error)}`);
  assert.equal(error.code, code, `${what}: error code`);
  assert.equal(error.syscallCode, syscallCode, `${what}: syscallCode`);
}

/**
 * The results of a faulted run: some puts were acknowledged before the fault, none after it;
 * every failed put carries the errno; puts issued after a failure came back are
 * SERVICE_NOT_AVAILABLE. Returns the acknowledged puts.
 */
function checkResults(
  outcome: Outcome,
  code: string,
  syscallCode: string,
  pendingStatus: string = PutMessageStatus.UNKNOWN_ERROR,
): Sent[] {
  const acked = outcome.sent.filter((s) => s.result.putMessageStatus === PutMessageStatus.PUT_OK);
  const failed = outcome.sent.filter((s) => !s.result.ok);
  assert.equal(acked.length + failed.length, outcome.sent.length, 'every put is PUT_OK or failed (no FLUSH_DISK_TIMEOUT here)');
  assert.ok(outcome.log.faultCount >= 1, 'the fault was injected');
  assert.ok(failed.length > 0, 'some puts failed');
  assert.ok(
    failed.some((s) => s.result.putMessageStatus === pendingStatus),
    `the puts pending at the fault resolve ${pendingStatus}`,
  );
  for (const s of failed) {
    assert.ok(FAILED_STATUSES.has(s.result.putMessageStatus), `put ${s.index}: status ${s.result.putMessageStatus}`);
    assert.equal(s.result.appendMessageResult, undefined, `put ${s.index}: a failed put has no append result`);
    assertErrno(s.result.error, code, syscallCode, `put ${s.index}`);
  }
  for (const s of outcome.sent) {
    if (s.issuedAfterFailure) assert.equal(s.result.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE, `put ${s.index} issued after the fence`);
  }
  // Sends are sequenced in index order: once one fails, no later one may be acknowledged.
  const firstFailed = failed.reduce((min, s) => Math.min(min, s.index), Infinity);
  for (const s of acked) assert.ok(s.index < firstFailed, `put ${s.index} acknowledged after put ${firstFailed} failed`);
  return acked;
}

/** The fenced store refuses puts and flushes with the errno, stays fenced, and closes. */
async function checkFenced(store: MessageStore, code: string, syscallCode: string): Promise<void> {
  for (let round = 0; round < 2; round++) {
    const later = await store.putMessage({ topic: TOPIC, queueId: 0, body: 'after the fault' });
    assert.equal(later.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE);
    assert.equal(later.ok, false);
    assertErrno(later.error, code, syscallCode, `put after the fault (round ${round})`);
    await assert.rejects(store.flush(), (error: unknown) => (assertErrno(error, code, syscallCode, 'flush after the fault'), true));
    await sleep(100);
  }
  await store.close();
  const closed = await store.putMessage({ topic: TOPIC, queueId: 0, body: 'after close' });
  assert.equal(closed.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE);
}

/** Every record in the CommitLog files, decoded straight from disk (CRC checked), in log order. */
function decodeSegmentFiles(root: string): Buffer[] {
  const dir = path.join(root, 'commitlog');
  const bodies: Buffer[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => /^\d{20}$/.test(n)).sort()) {
    for (const m of decodeMessages(fs.readFileSync(path.join(dir, name)), true)) bodies.push(m.body);
  }
  return bodies;
}

/**
 * Reopens without faults (abnormal recovery: a fenced store keeps its `abort` file): the log is
 * a prefix of the sends, holds every acknowledged put byte for byte at its acknowledged offset,
 * has no partial record, and queue offsets continue from what was found. Then closes cleanly
 * and reopens once more (normal recovery) to see the same log plus the new puts. Returns the
 * log end and the number of messages found after the fault.
 */
async function checkReopen(outcome: Outcome, acked: Sent[]): Promise<{ end: number; found: number }> {
  const segmentBytes = outcome.options.mappedFileSizeCommitLog!;
  const store = outcome.track(await MessageStore.open(outcome.options));
  assert.equal(store.getRecoveryReport().lastExitOK, false, 'a fenced store does not count as a clean shutdown');
  const end = store.getMaxPhyOffset();
  const messages = await readAllMessages(store, segmentBytes);
  assert.ok(messages.length >= acked.length, `${messages.length} messages found, ${acked.length} acknowledged`);
  assert.deepEqual(decodeSegmentFiles(outcome.root), messages.map((m) => m.body), 'the files decode to the same records');
  const perQueue = new Array<number>(QUEUES).fill(0);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    assert.equal(indexOfBody(m.body), i, 'the log holds a prefix of the sends, in order');
    assert.deepEqual(m.body, bodyOf(i));
    assert.equal(m.topic, TOPIC);
    assert.equal(m.queueId, i % QUEUES);
    assert.equal(m.queueOffset, perQueue[m.queueId], `message ${i}: queue offset`);
    perQueue[m.queueId]!++;
  }
  for (const s of acked) {
    const m = messages[s.index];
    assert.ok(m !== undefined, `acknowledged put ${s.index} is missing after reopen`);
    const append = s.result.appendMessageResult!;
    assert.equal(m.commitLogOffset, append.wroteOffset, `put ${s.index}: offset`);
    assert.equal(m.storeSize, append.wroteBytes, `put ${s.index}: size`);
    assert.equal(m.msgId, append.msgId, `put ${s.index}: msgId`);
    assert.equal(m.queueOffset, append.logicsOffset, `put ${s.index}: queue offset`);
    assert.equal(m.storeTimestamp, append.storeTimestamp, `put ${s.index}: store timestamp`);
  }
  const fresh: string[] = [];
  for (let queueId = 0; queueId < QUEUES; queueId++) {
    const body = `after reopen ${queueId}`;
    const next = await store.putMessage({ topic: TOPIC, queueId, body });
    assert.equal(next.putMessageStatus, PutMessageStatus.PUT_OK);
    assert.equal(next.appendMessageResult!.logicsOffset, perQueue[queueId], `queue ${queueId} continues from the recovered end`);
    fresh.push(body);
  }
  await store.close();

  const again = outcome.track(await MessageStore.open(outcome.options));
  assert.equal(again.getRecoveryReport().lastExitOK, true);
  const all = await readAllMessages(again, segmentBytes);
  assert.equal(all.length, messages.length + fresh.length);
  assert.deepEqual(all.slice(messages.length).map((m) => m.body.toString('utf8')), fresh);
  for (let queueId = 0; queueId < QUEUES; queueId++) {
    const next = await again.putMessage({ topic: TOPIC, queueId, body: 'second reopen' });
    assert.equal(next.appendMessageResult!.logicsOffset, perQueue[queueId]! + 1, `queue ${queueId} after a clean reopen`);
  }
  await again.close();
  return { end, found: messages.length };
}

test('EIO on a CommitLog pwritev is never acknowledged; the store fences with E_STORE_IO and reopens at the failed write', async (t) => {
  const outcome = await runScenario(t, {
    flushDiskType: 'ASYNC_FLUSH',
    failOn: { op: 'pwritev', nth: 6, errno: 'EIO' },
    puts: 400,
    concurrency: 8,
  });
  const acked = checkResults(outcome, 'E_STORE_IO', 'EIO');
  assert.ok(acked.length > 0, 'the writes before the failing one were acknowledged');
  const faultOffset = outcome.log.faultOffset;
  assert.ok(faultOffset >= 0, 'the failing write was recorded');
  for (const s of acked) assert.ok(endOf(s.result) <= faultOffset, `put ${s.index} ends at ${endOf(s.result)}, past the failed write at ${faultOffset}`);
  await checkFenced(outcome.store, 'E_STORE_IO', 'EIO');
  const { end, found } = await checkReopen(outcome, acked);
  assert.equal(end, faultOffset, 'the log ends exactly where the refused write started');
  assert.ok(found < outcome.sent.length, 'the messages of the failed write are not in the log');
});

test('EIO on a CommitLog fdatasync in SYNC_FLUSH acknowledges nothing it covered; later puts are SERVICE_NOT_AVAILABLE with EIO', async (t) => {
  const outcome = await runScenario(t, {
    flushDiskType: 'SYNC_FLUSH',
    failOn: { op: 'fdatasync', nth: 4, errno: 'EIO' },
    puts: 400,
    concurrency: 16,
  });
  const acked = checkResults(outcome, 'E_STORE_IO', 'EIO');
  assert.ok(acked.length > 0, 'puts covered by the fsyncs before the failing one were acknowledged');
  assert.equal(outcome.log.fsyncCount, 3, 'three fsyncs succeeded');
  for (const s of acked) {
    assert.ok(endOf(s.result) <= outcome.log.durableEnd, `put ${s.index} ends at ${endOf(s.result)}, past the durable end ${outcome.log.durableEnd}`);
  }
  await checkFenced(outcome.store, 'E_STORE_IO', 'EIO');
  await checkReopen(outcome, acked);
});

test('ENOSPC on a CommitLog pwritev fails the pending puts with E_STORE_NO_SPACE and syscallCode ENOSPC', async (t) => {
  const outcome = await runScenario(t, {
    flushDiskType: 'ASYNC_FLUSH',
    failOn: { op: 'pwritev', nth: 3, errno: 'ENOSPC' },
    puts: 200,
    concurrency: 8,
  });
  const acked = checkResults(outcome, 'E_STORE_NO_SPACE', 'ENOSPC');
  for (const s of acked) assert.ok(endOf(s.result) <= outcome.log.faultOffset, `put ${s.index} acknowledged past the failed write`);
  await checkFenced(outcome.store, 'E_STORE_NO_SPACE', 'ENOSPC');
  await checkReopen(outcome, acked);
});

test('EROFS on a CommitLog pwritev in SYNC_FLUSH is reported with syscallCode EROFS', async (t) => {
  const outcome = await runScenario(t, {
    flushDiskType: 'SYNC_FLUSH',
    failOn: { op: 'pwritev', nth: 2, errno: 'EROFS', sticky: true },
    puts: 200,
    concurrency: 8,
  });
  const acked = checkResults(outcome, 'E_STORE_IO', 'EROFS');
  for (const s of acked) assert.ok(endOf(s.result) <= outcome.log.faultOffset, `put ${s.index} acknowledged past the failed write`);
  await checkFenced(outcome.store, 'E_STORE_IO', 'EROFS');
  await checkReopen(outcome, acked);
});

for (const failOn of [
  { op: 'open', nth: 3, errno: 'EROFS' },
  { op: 'truncate', nth: 3, errno: 'ENOSPC' },
] as const) {
  const code = failOn.errno === 'ENOSPC' ? 'E_STORE_NO_SPACE' : 'E_STORE_IO';
  test(`${failOn.errno} on ${failOn.op} of the next CommitLog segment at a roll fences the store; nothing past the roll is acknowledged`, async (t) => {
    // Call #1 is segment 0, #2 the preallocated segment 1, #3 segment 2: created when segment 0 closes.
    const segmentBytes = 4096;
    const outcome = await runScenario(t, { flushDiskType: 'ASYNC_FLUSH', failOn, puts: 200, concurrency: 4, segmentBytes });
    // A segment that cannot be created is RocketMQ's CREATE_MAPPED_FILE_FAILED.
    const acked = checkResults(outcome, code, failOn.errno, PutMessageStatus.CREATE_MAPPED_FILE_FAILED);
    assert.equal(outcome.log.faultOffset, 2 * segmentBytes, 'the failing call was for segment 2');
    for (const s of acked) assert.ok(endOf(s.result) <= segmentBytes, `put ${s.index} acknowledged past the roll (ends at ${endOf(s.result)})`);
    await checkFenced(outcome.store, code, failOn.errno);
    const { end, found } = await checkReopen(outcome, acked);
    assert.ok(found >= 1, 'segment 0 holds messages');
    assert.ok(end <= segmentBytes, `the log ends at ${end}, within or at the end of segment 0`);
  });
}

test('a CommitLog segment that cannot be created at open makes open reject with the errno, and a later open succeeds', async (t) => {
  const { root, track } = tempRoot(t);
  const options: MessageStoreOptions = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES };
  await assert.rejects(
    MessageStore.open(options, faultyStorageSpec({ failOn: { op: 'open', nth: 1, errno: 'EROFS' } })),
    (error: unknown) => (assertErrno(error, 'E_STORE_IO', 'EROFS', 'open'), true),
  );
  const store = track(await MessageStore.open(options));
  const result = await store.putMessage({ topic: TOPIC, queueId: 0, body: bodyOf(0) });
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  assert.equal(result.appendMessageResult!.wroteOffset, 0);
});
