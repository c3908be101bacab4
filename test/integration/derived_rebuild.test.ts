// Goal: consume queues and index files that were deleted, cut or overwritten are rebuilt from
// the CommitLog when the store opens: every read is right again, the recovery report says what
// was rebuilt, and a process warning with code MQSTORE_RECOVERY is emitted.
// Method: fill a store, close it (or copy it while open, as a crash would leave it), damage the
// derived files on disk, reopen, and compare every queue and every key with what was put.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { MessageStore, type MessageInput, type PutMessageResult } from '../../src/index.js';
import { Prng } from '../support/prng.js';
import { captureWarnings, fileName20, putAll, readQueue, sleep, TempStore, waitDispatched } from '../support/dispatch_support.js';

const TOPICS = ['RebuildA', 'RebuildB'] as const;
const QUEUES = 3;
const OPTIONS = {
  mappedFileSizeCommitLog: 64 * 1024,
  mappedFileSizeConsumeQueue: 400, // 20 units per file
  maxHashSlotNum: 100,
  maxIndexNum: 120, // 300 keys: three index files
  flushIntervalConsumeQueue: 20,
};

interface Sent {
  input: MessageInput;
  result: PutMessageResult;
}

function inputs(count: number, from = 0): MessageInput[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return { topic: TOPICS[i % 2]!, queueId: Math.floor(i / 2) % QUEUES, body: `rebuild-${i}-${'b'.repeat(i % 97)}`, tags: `t${i % 3}`, keys: [`rk-${i}`] };
  });
}

async function send(store: MessageStore, list: MessageInput[]): Promise<Sent[]> {
  const results = await putAll(store, list, 100);
  return list.map((input, i) => ({ input, result: results[i]! }));
}

/** Every queue holds exactly its messages from offset 0, and every key finds its message. */
async function checkEverything(store: MessageStore, sent: readonly Sent[]): Promise<void> {
  for (const topic of TOPICS) {
    for (let queueId = 0; queueId < QUEUES; queueId++) {
      const want = sent.filter((s) => s.input.topic === topic && s.input.queueId === queueId);
      const where = `${topic}/${queueId}`;
      assert.equal(store.getMinOffsetInQueue(topic, queueId), 0, `${where}: min offset`);
      assert.equal(store.getMaxOffsetInQueue(topic, queueId), want.length, `${where}: max offset`);
      const read = await readQueue(store, topic, queueId);
      assert.deepEqual(
        read.messages.map((m) => [m.queueOffset, m.commitLogOffset, m.body.toString(), m.tags]),
        want.map((s, i) => [i, s.result.appendMessageResult!.wroteOffset, s.input.body, s.input.tags]),
        `${where}: every message at its queue offset`,
      );
    }
  }
  const end = Date.now() + 60_000;
  for (const s of sent) {
    const key = (s.input.keys as string[])[0]!;
    const found = await store.queryMessage(s.input.topic, key, 8, 0, end);
    assert.deepEqual([...new Set(found.messages.map((m) => m.commitLogOffset))], [s.result.appendMessageResult!.wroteOffset], `queryMessage(${key})`);
  }
}

async function filledStore(t: TestContext, prefix: string, count = 300): Promise<{ temp: TempStore; sent: Sent[] }> {
  const temp = await TempStore.open(t, prefix, OPTIONS);
  const sent = await send(temp.store, inputs(count));
  await waitDispatched(temp.store);
  await temp.close();
  return { temp, sent };
}

async function reopenWithWarnings(temp: TempStore): Promise<{ store: MessageStore; warnings: string[] }> {
  const { value: store, warnings } = await captureWarnings('MQSTORE_RECOVERY', () => temp.reopen());
  return { store, warnings };
}

function cqFile(temp: TempStore, topic: string, queueId: number, start: number): string {
  return temp.path('consumequeue', topic, String(queueId), fileName20(start));
}

test("a topic's deleted consumequeue directory is rebuilt", async (t) => {
  const { temp, sent } = await filledStore(t, 'rebuild-topicdir');
  fs.rmSync(temp.path('consumequeue', 'RebuildB'), { recursive: true });
  const { store, warnings } = await reopenWithWarnings(temp);
  const derived = store.getRecoveryReport().derived;
  assert.deepEqual(
    [...derived.consumeQueuesRebuilt].sort(),
    [['RebuildB', 0], ['RebuildB', 1], ['RebuildB', 2]],
    'the three queues of the topic are rebuilt, no other',
  );
  assert.ok(derived.events.some((e) => e.includes('RebuildB')), `events: ${derived.events.join(' | ')}`);
  assert.ok(warnings.length > 0 && warnings.some((w) => w.includes('RebuildB')), `MQSTORE_RECOVERY warnings: ${warnings.join(' | ')}`);
  await checkEverything(store, sent);
  // A rebuilt store reopens quietly.
  const { store: again, warnings: quiet } = await reopenWithWarnings(temp);
  assert.deepEqual(again.getRecoveryReport().derived.events, []);
  assert.deepEqual(quiet, []);
});

test('consume queue units overwritten with invalid bytes (0xFF) are cut and the queue rebuilt', async (t) => {
  const { temp, sent } = await filledStore(t, 'rebuild-ff');
  // RebuildA/0 holds 50 units: files 0, 400 (full) and 800 (10 units). Spoil units 25..27.
  const file = cqFile(temp, 'RebuildA', 0, 400);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(60, 0xff), 0, 60, 5 * 20);
  fs.closeSync(fd);
  const { store, warnings } = await reopenWithWarnings(temp);
  const derived = store.getRecoveryReport().derived;
  assert.ok(derived.consumeQueuesRebuilt.some(([topic, q]) => topic === 'RebuildA' && q === 0), `rebuilt: ${JSON.stringify(derived.consumeQueuesRebuilt)}`);
  assert.ok(derived.events.length > 0);
  assert.ok(warnings.length > 0, 'MQSTORE_RECOVERY warning');
  await checkEverything(store, sent);
});

// Garbage that looks like units (offsets and sizes in range) passes RocketMQ's recover() scan,
// which stops only at offset < 0 or size ≤ 0. The store must still not lose or misplace a message.
test(
  'consume queue units overwritten with plausible garbage in the middle are found and rebuilt',
  async (t) => {
  const { temp, sent } = await filledStore(t, 'rebuild-plausible');
  const file = cqFile(temp, 'RebuildB', 1, 0);
  const prng = new Prng(7);
  const garbage = Buffer.alloc(5 * 20);
  for (let unit = 0; unit < 5; unit++) {
    garbage.writeBigInt64BE(BigInt(prng.below(60_000)), unit * 20); // an offset inside the log
    garbage.writeInt32BE(100 + prng.below(200), unit * 20 + 8); // a record-like size
    garbage.writeBigInt64BE(BigInt(prng.below(1000)), unit * 20 + 12);
  }
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, garbage, 0, garbage.length, 3 * 20);
  fs.closeSync(fd);
  const { store } = await reopenWithWarnings(temp);
  await checkEverything(store, sent);
  },
);

test('a truncated consume queue file makes every queue rebuild from the CommitLog', async (t) => {
  const { temp, sent } = await filledStore(t, 'rebuild-truncated');
  fs.truncateSync(cqFile(temp, 'RebuildA', 2, 0), 100);
  const { store, warnings } = await reopenWithWarnings(temp);
  const derived = store.getRecoveryReport().derived;
  assert.ok(derived.events.some((e) => e.includes('rebuild')), `events: ${derived.events.join(' | ')}`);
  assert.equal(derived.consumeQueuesRebuilt.length, TOPICS.length * QUEUES, 'every queue is rebuilt');
  assert.ok(warnings.some((w) => w.includes('consume queue')), `warnings: ${warnings.join(' | ')}`);
  await checkEverything(store, sent);
});

test('the deleted index directory is rebuilt and keys are found again', async (t) => {
  const { temp, sent } = await filledStore(t, 'rebuild-index-dir');
  const filesBefore = fs.readdirSync(temp.path('index')).length;
  assert.ok(filesBefore >= 2, 'several index files');
  fs.rmSync(temp.path('index'), { recursive: true });
  const { store, warnings } = await reopenWithWarnings(temp);
  const derived = store.getRecoveryReport().derived;
  assert.equal(derived.indexRebuilt, true);
  assert.equal(fs.readdirSync(temp.path('index')).length, filesBefore, 'as many index files as before');
  assert.deepEqual(derived.consumeQueuesRebuilt, []);
  assert.ok(warnings.some((w) => w.includes('index')), `warnings: ${warnings.join(' | ')}`);
  await checkEverything(store, sent);
});

test('index files with a bad size or header are rebuilt', async (t) => {
  const { temp, sent } = await filledStore(t, 'rebuild-index-bad');
  const names = fs.readdirSync(temp.path('index')).sort();
  fs.truncateSync(temp.path('index', names[0]!), 1000);
  const { store, warnings } = await reopenWithWarnings(temp);
  assert.equal(store.getRecoveryReport().derived.indexRebuilt, true, 'short file');
  assert.ok(warnings.length > 0);
  await checkEverything(store, sent);
  await temp.close();

  // indexCount beyond maxIndexNum in the newest file's header.
  const newest = fs.readdirSync(temp.path('index')).sort().pop()!;
  const fd = fs.openSync(temp.path('index', newest), 'r+');
  const count = Buffer.alloc(4);
  count.writeInt32BE(0x7fff0000, 0);
  fs.writeSync(fd, count, 0, 4, 36);
  fs.closeSync(fd);
  const { store: again, warnings: more } = await reopenWithWarnings(temp);
  assert.equal(again.getRecoveryReport().derived.indexRebuilt, true, 'bad indexCount');
  assert.ok(more.length > 0);
  await checkEverything(again, sent);
});

// A process killed while the dispatcher creates a consume queue file can leave it at length 0
// (open(O_CREAT) done, ftruncate not yet). The store is copied while open and idle: the copy is
// what a kill leaves (abort file present, checkpoint behind the last puts).
test(
  'after a crash, a zero-length consume queue file does not lose the messages below the checkpoint',
  async (t) => {
  const temp = await TempStore.open(t, 'rebuild-crash', OPTIONS);
  const store = temp.store;
  const sent = await send(store, inputs(240));
  await waitDispatched(store);
  await sleep(1300); // a checkpoint records the dispatch position (written every second)
  // More messages in the same queues, copied before the next checkpoint.
  let attempt = 0;
  for (; attempt < 3; attempt++) {
    sent.push(...(await send(store, inputs(20, sent.length))));
    await waitDispatched(store);
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-rebuild-copy-'));
    t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
    fs.cpSync(temp.root, copy, { recursive: true });
    // RebuildA/0 got 4 more units (40..43: file 800 holds them); it is its last file.
    fs.truncateSync(path.join(copy, 'consumequeue', 'RebuildA', '0', fileName20(800)), 0);
    const crashed = await MessageStore.open({ storePathRootDir: copy, ...OPTIONS });
    try {
      const report = crashed.getRecoveryReport();
      assert.equal(report.lastExitOK, false, 'the copy looks like a crash');
      if (report.derived.redispatchFromPhysicalOffset === report.endPhysicalOffset) continue; // a checkpoint came in between
      assert.ok(report.derived.events.length > 0, 'the damaged file is reported');
      await checkEverything(crashed, sent);
      break;
    } finally {
      await crashed.close();
    }
  }
  assert.ok(attempt < 3, 'a copy with the checkpoint behind the log end was taken');
  },
);

// A queue directory deleted by hand, found after a crash: re-dispatch starts at the checkpoint,
// which would re-create the queue from there on with a filler head. The queue must come back
// whole, from offset 0.
test(
  'after a crash, a deleted queue directory comes back whole, not from the checkpoint on',
  async (t) => {
    const temp = await TempStore.open(t, 'rebuild-crash-dir', OPTIONS);
    const store = temp.store;
    const sent = await send(store, inputs(240));
    await waitDispatched(store);
    await sleep(1300); // a checkpoint records the dispatch position
    let attempt = 0;
    for (; attempt < 3; attempt++) {
      sent.push(...(await send(store, inputs(20, sent.length))));
      await waitDispatched(store);
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-rebuild-dir-copy-'));
      t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
      fs.cpSync(temp.root, copy, { recursive: true });
      fs.rmSync(path.join(copy, 'consumequeue', 'RebuildA', '0'), { recursive: true });
      const crashed = await MessageStore.open({ storePathRootDir: copy, ...OPTIONS });
      try {
        const report = crashed.getRecoveryReport();
        assert.equal(report.lastExitOK, false, 'the copy looks like a crash');
        if (report.derived.redispatchFromPhysicalOffset === report.endPhysicalOffset) continue; // a checkpoint came in between
        assert.ok(report.derived.consumeQueuesRebuilt.some(([topic, q]) => topic === 'RebuildA' && q === 0), JSON.stringify(report.derived));
        assert.equal(crashed.getMinOffsetInQueue('RebuildA', 0), 0);
        await checkEverything(crashed, sent);
        break;
      } finally {
        await crashed.close();
      }
    }
    assert.ok(attempt < 3, 'a copy with the checkpoint behind the log end was taken');
  },
);
