// Goal: a store survives close and reopen with its offsets and data, and refuses unsafe opens (wrong segment size, locked, bad dir).
// Method: real stores on a fresh temp dir per test; reopen in this process and open from a child `node -e` process; inspect the files.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MessageStore, PutMessageStatus, StoreError, type MessageStoreOptions, type PutMessageResult } from '../../src/index.js';

const SEGMENT_BYTES = 4096;
const execFileAsync = promisify(execFile);
const INDEX_URL = new URL('../../src/index.js', import.meta.url).href;

/** A fresh temp dir removed after the test; stores registered with `track` are closed first. */
function tempRoot(t: TestContext): { root: string; track: (store: MessageStore) => MessageStore } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-reopen-'));
  const stores: MessageStore[] = [];
  t.after(async () => {
    for (const store of stores) await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { root, track: (store) => (stores.push(store), store) };
}

function options(root: string, extra: Partial<MessageStoreOptions> = {}): MessageStoreOptions {
  return { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, ...extra };
}

async function assertStoreError(promise: Promise<unknown>, code: string): Promise<StoreError> {
  let caught: StoreError | null = null;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    caught = error;
    return true;
  });
  return caught!;
}

async function putOk(store: MessageStore, topic: string, queueId: number, body: string): Promise<PutMessageResult> {
  const result = await store.putMessage({ topic, queueId, body });
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  return result;
}

/**
 * Opens the store from a child `node -e` process and returns what it printed: OPENED or the
 * error code. The script is CommonJS with a dynamic import, so the child needs no ESM flags.
 */
async function openFromChild(root: string, nodeArgs: string[] = []): Promise<string> {
  const body = [
    'try {',
    `  const store = await MessageStore.open(${JSON.stringify(options(root))});`,
    "  console.log('OPENED');",
    '  await store.close();',
    '} catch (error) {',
    '  console.log(error.code);',
    '}',
  ];
  const script = nodeArgs.includes('--input-type=module')
    ? [`import { MessageStore } from ${JSON.stringify(INDEX_URL)};`, ...body].join('\n')
    : [`import(${JSON.stringify(INDEX_URL)}).then(async ({ MessageStore }) => {`, ...body, '});'].join('\n');
  const { stdout } = await execFileAsync(process.execPath, [...nodeArgs, '-e', script], { timeout: 30_000 });
  return stdout.trim();
}

test('after close and reopen queue offsets continue, the max offset is kept and every message reads back', async (t) => {
  const { root, track } = tempRoot(t);
  const first = await MessageStore.open(options(root));
  const written: Array<{ offset: number; topic: string; queueId: number; queueOffset: number; body: string }> = [];
  for (let i = 0; i < 40; i++) {
    const topic = i % 3 === 0 ? 'Alpha' : 'Beta';
    const queueId = i % 2;
    const body = `message ${i} `.repeat(1 + (i % 7) * 5);
    const append = (await putOk(first, topic, queueId, body)).appendMessageResult!;
    written.push({ offset: append.wroteOffset, topic, queueId, queueOffset: append.logicsOffset, body });
  }
  const maxBefore = first.getMaxPhyOffset();
  assert.ok(maxBefore > 2 * SEGMENT_BYTES, 'the messages span several segments');
  await first.close();

  const second = track(await MessageStore.open(options(root)));
  const report = second.getRecoveryReport();
  assert.equal(report.mode, 'normal');
  assert.equal(report.fullScan, false);
  assert.equal(report.lastExitOK, true);
  assert.equal(second.getMaxPhyOffset(), maxBefore);
  assert.equal(second.getMinPhyOffset(), 0);
  for (const w of written) {
    const message = await second.lookMessageByOffset(w.offset);
    assert.ok(message !== null, `message at ${w.offset}`);
    assert.equal(message.topic, w.topic);
    assert.equal(message.queueId, w.queueId);
    assert.equal(message.queueOffset, w.queueOffset);
    assert.equal(message.body.toString('utf8'), w.body);
  }
  const nextOf = (topic: string, queueId: number): number =>
    written.filter((w) => w.topic === topic && w.queueId === queueId).length;
  for (const [topic, queueId] of [['Alpha', 0], ['Alpha', 1], ['Beta', 0], ['Beta', 1]] as const) {
    const append = (await putOk(second, topic, queueId, 'after reopen')).appendMessageResult!;
    assert.equal(append.logicsOffset, nextOf(topic, queueId), `${topic}/${queueId} continues`);
  }
  const fresh = (await putOk(second, 'Gamma', 0, 'new topic')).appendMessageResult!;
  assert.equal(fresh.logicsOffset, 0);
  assert.ok(fresh.wroteOffset >= maxBefore);
});

test('queue offsets survive a reopen that wrote nothing', async (t) => {
  const { root, track } = tempRoot(t);
  const first = await MessageStore.open(options(root));
  for (let i = 0; i < 3; i++) await putOk(first, 'Idle', 5, `m${i}`);
  await first.close();
  const idle = await MessageStore.open(options(root));
  await idle.close();
  const third = track(await MessageStore.open(options(root)));
  assert.equal(third.getRecoveryReport().mode, 'normal');
  assert.equal((await putOk(third, 'Idle', 5, 'm3')).appendMessageResult!.logicsOffset, 3);
});

test('close() flushes puts that were still in flight, and they read back after reopen', async (t) => {
  const { root, track } = tempRoot(t);
  const first = await MessageStore.open(options(root));
  const pending = Array.from({ length: 50 }, (_, i) => first.putMessage({ topic: 'Burst', queueId: 0, body: `burst ${i}` }));
  const closed = first.close();
  const results = await Promise.all(pending);
  await closed;
  for (const result of results) assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  const second = track(await MessageStore.open(options(root)));
  for (let i = 0; i < results.length; i++) {
    const message = await second.lookMessageByOffset(results[i]!.appendMessageResult!.wroteOffset);
    assert.ok(message !== null);
    assert.equal(message.body.toString('utf8'), `burst ${i}`);
    assert.equal(message.queueOffset, i);
  }
});

test('reopening with a different mappedFileSizeCommitLog is refused with E_STORE_CORRUPT and changes nothing', async (t) => {
  const { root, track } = tempRoot(t);
  const first = await MessageStore.open(options(root));
  const append = (await putOk(first, 'Sized', 0, 'hello')).appendMessageResult!;
  const maxBefore = first.getMaxPhyOffset();
  await first.close();
  const error = await assertStoreError(MessageStore.open(options(root, { mappedFileSizeCommitLog: 2 * SEGMENT_BYTES })), 'E_STORE_CORRUPT');
  assert.match(error.message, /4096/);
  const segment = path.join(root, 'commitlog', '00000000000000000000');
  assert.equal(fs.statSync(segment).size, SEGMENT_BYTES, 'the refused open did not resize the segment');

  // The refused open released its lock and left the store as it was.
  const again = track(await MessageStore.open(options(root)));
  assert.equal(again.getRecoveryReport().mode, 'normal');
  assert.equal(again.getMaxPhyOffset(), maxBefore);
  const message = await again.lookMessageByOffset(append.wroteOffset);
  assert.ok(message !== null);
  assert.equal(message.body.toString('utf8'), 'hello');
});

test('opening the same directory twice in one process is refused with E_STORE_LOCKED until the first store closes', async (t) => {
  const { root, track } = tempRoot(t);
  const first = await MessageStore.open(options(root));
  await assertStoreError(MessageStore.open(options(root)), 'E_STORE_LOCKED');
  // The same directory spelled differently is the same store.
  await assertStoreError(MessageStore.open(options(path.join(root, '.', 'commitlog', '..'))), 'E_STORE_LOCKED');
  assert.equal((await putOk(first, 'Locked', 0, 'still works')).putMessageStatus, PutMessageStatus.PUT_OK);
  await first.close();
  const second = track(await MessageStore.open(options(root)));
  assert.equal((await putOk(second, 'Locked', 0, 'again')).appendMessageResult!.logicsOffset, 1);
});

test('opening the directory from a child process while this process holds it is refused with E_STORE_LOCKED', async (t) => {
  const { root } = tempRoot(t);
  const store = await MessageStore.open(options(root));
  try {
    assert.equal(await openFromChild(root), 'E_STORE_LOCKED');
  } finally {
    await store.close();
  }
  assert.equal(await openFromChild(root), 'OPENED', 'the child can open it once this process has closed it');
});

test('close() twice is fine, and sends after close resolve SERVICE_NOT_AVAILABLE', async (t) => {
  const { root } = tempRoot(t);
  const store = await MessageStore.open(options(root));
  await putOk(store, 'Closed', 0, 'before');
  const firstClose = store.close();
  const secondClose = store.close();
  await Promise.all([firstClose, secondClose]);
  await store.close();
  const single = await store.putMessage({ topic: 'Closed', queueId: 0, body: 'after' });
  assert.equal(single.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE);
  assert.equal(single.ok, false);
  assert.equal(single.appendMessageResult, undefined);
  assert.equal(single.error?.code, 'E_STORE_CLOSED');
  const batch = await store.putMessages({ topic: 'Closed', queueId: 0, messages: [{ body: 'after' }] });
  assert.equal(batch.putMessageStatus, PutMessageStatus.SERVICE_NOT_AVAILABLE);
  assert.equal(batch.ok, false);
  await assertStoreError(store.flush(), 'E_STORE_CLOSED');
  await assertStoreError(store.lookMessageByOffset(0), 'E_STORE_CLOSED');
});

test('a storePathRootDir that is a regular file, or lies under one, is refused with E_STORE_DIR', async (t) => {
  const { root } = tempRoot(t);
  const file = path.join(root, 'not-a-dir');
  fs.writeFileSync(file, 'x', { mode: 0o644, flag: 'wx' });
  await assertStoreError(MessageStore.open(options(file)), 'E_STORE_DIR');
  await assertStoreError(MessageStore.open(options(path.join(file, 'below'))), 'E_STORE_DIR');
  assert.equal(fs.readFileSync(file, 'utf8'), 'x', 'the file is left alone');
});

test('a missing nested storePathRootDir is created', async (t) => {
  const { root, track } = tempRoot(t);
  const nested = path.join(root, 'a', 'b', 'c');
  const store = track(await MessageStore.open(options(nested)));
  assert.ok(fs.statSync(nested).isDirectory());
  assert.ok(fs.statSync(path.join(nested, 'commitlog')).isDirectory());
  await putOk(store, 'Nested', 0, 'hello');
  assert.ok(fs.existsSync(path.join(nested, 'commitlog', '00000000000000000000')));
});

test('the abort file exists while the store is open and is gone after close; checkpoint and queue offsets are written', async (t) => {
  const { root } = tempRoot(t);
  const abortFile = path.join(root, 'abort');
  const checkpointFile = path.join(root, 'checkpoint');
  const offsetsFile = path.join(root, 'config', 'mqstoreQueueOffsets.json');
  const store = await MessageStore.open(options(root));
  assert.ok(fs.existsSync(abortFile), 'abort exists while open');
  assert.equal(fs.readFileSync(abortFile, 'utf8'), String(process.pid), 'abort holds the pid');
  assert.equal(fs.statSync(checkpointFile).size, 4096);
  assert.equal(fs.readFileSync(path.join(root, 'lock'), 'utf8'), 'lock');
  for (let i = 0; i < 3; i++) await putOk(store, 'Files', 2, `m${i}`);
  const max = store.getMaxPhyOffset();
  await store.close();
  assert.equal(fs.existsSync(abortFile), false, 'abort is removed by a clean close');
  assert.equal(fs.statSync(checkpointFile).size, 4096);
  assert.ok(fs.existsSync(offsetsFile), 'config/mqstoreQueueOffsets.json exists after close');
  const snapshot = JSON.parse(fs.readFileSync(offsetsFile, 'utf8')) as { physicalOffset: number; offsetTable: Record<string, Record<string, number>> };
  assert.equal(snapshot.physicalOffset, max);
  assert.equal(snapshot.offsetTable['Files']?.['2'], 3);
  // RocketMQ StoreCheckpoint: confirmPhyOffset is the big-endian long at byte 32; a clean close covers the whole log.
  const checkpoint = fs.readFileSync(checkpointFile);
  assert.equal(Number(checkpoint.readBigInt64BE(32)), max, 'checkpoint confirmPhyOffset is the end of the log');
  assert.ok(Number(checkpoint.readBigInt64BE(0)) > 0, 'checkpoint physicMsgTimestamp is set');
});

test('a store opens in a process started with node --input-type=module -e', async (t) => {
  const { root } = tempRoot(t);
  assert.equal(await openFromChild(root, ['--input-type=module']), 'OPENED');
});
