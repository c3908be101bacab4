// Goal: bad sends and bad configuration are refused the RocketMQ way (E_INVALID_ARGUMENT / E_CONFIG_INVALID / a status), write nothing, and leave the store usable.
// Method: real store per test in a fresh temp dir; after each refused call check getMaxPhyOffset is unchanged and a good put still succeeds.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MessageStore,
  PutMessageStatus,
  StoreError,
  type BatchInput,
  type MessageInput,
  type MessageStoreOptions,
  type PutMessageResult,
} from '../../src/index.js';

const SEGMENT_BYTES = 1 << 20;

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-bad-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: TestContext, extra: Partial<MessageStoreOptions> = {}): Promise<MessageStore> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-bad-'));
  let store: MessageStore | null = null;
  t.after(async () => {
    if (store !== null) await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  store = await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, ...extra });
  return store;
}

async function assertStoreError(promise: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** After a refused call: nothing was written, and the store still takes a good put right after the old end. */
async function assertNothingWrittenAndUsable(store: MessageStore, maxBefore: number): Promise<void> {
  assert.equal(store.getMaxPhyOffset(), maxBefore, 'a refused put writes nothing');
  const good = await store.putMessage({ topic: 'Good', queueId: 0, body: 'still works' });
  assert.equal(good.putMessageStatus, PutMessageStatus.PUT_OK);
  assert.equal(good.appendMessageResult!.wroteOffset, maxBefore, 'the good put lands where the log ended');
  const read = await store.lookMessageByOffset(maxBefore);
  assert.ok(read !== null);
  assert.equal(read.body.toString('utf8'), 'still works');
}

function assertRefused(result: PutMessageResult, status: PutMessageStatus): void {
  assert.equal(result.putMessageStatus, status);
  assert.equal(result.ok, false);
  assert.equal(result.appendMessageResult, undefined);
}

const base = { topic: 'T', queueId: 0, body: 'body' };

const WRONG_TYPES: Array<[string, () => { single?: unknown; batch?: unknown }]> = [
  ['topic is a number', () => ({ single: { ...base, topic: 1 } })],
  ['queueId is -1', () => ({ single: { ...base, queueId: -1 } })],
  ['queueId is 1.5', () => ({ single: { ...base, queueId: 1.5 } })],
  ['queueId is NaN', () => ({ single: { ...base, queueId: Number.NaN } })],
  ["queueId is the string '0'", () => ({ single: { ...base, queueId: '0' } })],
  ['body is a number', () => ({ single: { ...base, body: 42 } })],
  ['body is null', () => ({ single: { ...base, body: null } })],
  ['body is a plain object', () => ({ single: { ...base, body: { data: 'x' } } })],
  ['tags is a number', () => ({ single: { ...base, tags: 7 } })],
  ['keys is [1]', () => ({ single: { ...base, keys: [1] } })],
  ['properties has a number value', () => ({ single: { ...base, properties: { a: 1 } } })],
  ['a property value contains \\u0001', () => ({ single: { ...base, properties: { a: 'x\u0001y' } } })],
  ['flag is 2**40', () => ({ single: { ...base, flag: 2 ** 40 } })],
  ["bornHost is 'nohost'", () => ({ single: { ...base, bornHost: 'nohost' } })],
  ['the message is null', () => ({ single: null })],
  ['a batch has an empty messages array', () => ({ batch: { topic: 'T', queueId: 0, messages: [] } })],
  ['a batch message body is a number', () => ({ batch: { topic: 'T', queueId: 0, messages: [{ body: 'ok' }, { body: 3 }] } })],
  ['a batch topic is a number', () => ({ batch: { topic: 9, queueId: 0, messages: [{ body: 'ok' }] } })],
];

test('sends with arguments of the wrong type reject with E_INVALID_ARGUMENT, write nothing and leave the store usable', async (t) => {
  const store = await openStore(t);
  await store.putMessage({ topic: 'Good', queueId: 0, body: 'first' });
  for (const [name, make] of WRONG_TYPES) {
    await t.test(`${name} is E_INVALID_ARGUMENT`, async () => {
      const maxBefore = store.getMaxPhyOffset();
      const { single, batch } = make();
      if (batch !== undefined) {
        await assertStoreError(() => store.putMessages(batch as BatchInput), 'E_INVALID_ARGUMENT');
      } else {
        await assertStoreError(() => store.putMessage(single as MessageInput), 'E_INVALID_ARGUMENT');
      }
      await assertNothingWrittenAndUsable(store, maxBefore);
    });
  }
  // The refused sends took no queue offsets: one good put per case, plus the first one.
  const last = await store.putMessage({ topic: 'Good', queueId: 0, body: 'last' });
  assert.equal(last.appendMessageResult!.logicsOffset, WRONG_TYPES.length + 1);
  const refusedTopic = await store.putMessage({ topic: 'T', queueId: 0, body: 'x' });
  assert.equal(refusedTopic.appendMessageResult!.logicsOffset, 0, 'no refused send advanced queue T/0');
});

test('an empty topic and a topic of 32768 UTF-8 bytes are MESSAGE_ILLEGAL; 32767 bytes is accepted', async (t) => {
  const store = await openStore(t);
  for (const topic of ['', 'x'.repeat(32768), '\u00e9'.repeat(16384)]) {
    const maxBefore = store.getMaxPhyOffset();
    assertRefused(await store.putMessage({ topic, queueId: 0, body: 'b' }), PutMessageStatus.MESSAGE_ILLEGAL);
    assertRefused(await store.putMessages({ topic, queueId: 0, messages: [{ body: 'b' }] }), PutMessageStatus.MESSAGE_ILLEGAL);
    await assertNothingWrittenAndUsable(store, maxBefore);
  }
  const longest = 'y'.repeat(32767);
  const ok = await store.putMessage({ topic: longest, queueId: 0, body: 'b' });
  assert.equal(ok.putMessageStatus, PutMessageStatus.PUT_OK);
  const read = await store.lookMessageByOffset(ok.appendMessageResult!.wroteOffset);
  assert.equal(read?.topic, longest);
});

test('a body over maxMessageSize is MESSAGE_ILLEGAL and a body of exactly maxMessageSize is PUT_OK', async (t) => {
  const store = await openStore(t, { maxMessageSize: 1024 });
  const maxBefore = store.getMaxPhyOffset();
  assertRefused(await store.putMessage({ topic: 'Big', queueId: 0, body: Buffer.alloc(1025, 1) }), PutMessageStatus.MESSAGE_ILLEGAL);
  assertRefused(await store.putMessage({ topic: 'Big', queueId: 0, body: 'é'.repeat(513) }), PutMessageStatus.MESSAGE_ILLEGAL);
  await assertNothingWrittenAndUsable(store, maxBefore);
  const exact = await store.putMessage({ topic: 'Big', queueId: 0, body: Buffer.alloc(1024, 2) });
  assert.equal(exact.putMessageStatus, PutMessageStatus.PUT_OK);
  assert.equal(exact.appendMessageResult!.logicsOffset, 0, 'the refused puts took no queue offset');
  assert.equal(exact.appendMessageResult!.wroteBytes, 91 + 1024 + 3);
});

test('properties over 32767 bytes are PROPERTIES_SIZE_EXCEEDED; exactly 32767 bytes is accepted', async (t) => {
  const store = await openStore(t);
  const maxBefore = store.getMaxPhyOffset();
  // Stored as "p\u0001<value>\u0002": 3 bytes plus the value.
  assertRefused(await store.putMessage({ ...base, properties: { p: 'v'.repeat(32765) } }), PutMessageStatus.PROPERTIES_SIZE_EXCEEDED);
  assertRefused(await store.putMessage({ ...base, tags: 't'.repeat(20000), keys: 'k'.repeat(20000) }), PutMessageStatus.PROPERTIES_SIZE_EXCEEDED);
  assertRefused(
    await store.putMessages({ topic: 'T', queueId: 0, messages: [{ body: 'a' }, { body: 'b', properties: { p: 'v'.repeat(40000) } }] }),
    PutMessageStatus.PROPERTIES_SIZE_EXCEEDED,
  );
  await assertNothingWrittenAndUsable(store, maxBefore);
  const exact = await store.putMessage({ ...base, properties: { p: 'v'.repeat(32764) } });
  assert.equal(exact.putMessageStatus, PutMessageStatus.PUT_OK);
  assert.equal(exact.appendMessageResult!.wroteBytes, 91 + 4 + 1 + 32767);
});

test('a batch whose encoded size exceeds maxMessageSize resolves MESSAGE_ILLEGAL instead of throwing', async (t) => {
  const store = await openStore(t, { maxMessageSize: 1024 });
  const maxBefore = store.getMaxPhyOffset();
  const body = Buffer.alloc(400, 3);
  const messages = [{ body }, { body }, { body }];
  const result = await store.putMessages({ topic: 'Batch', queueId: 0, messages });
  assertRefused(result, PutMessageStatus.MESSAGE_ILLEGAL);
  await assertNothingWrittenAndUsable(store, maxBefore);
  const small = await store.putMessages({ topic: 'Batch', queueId: 0, messages: [{ body }, { body: 'x' }] });
  assert.equal(small.putMessageStatus, PutMessageStatus.PUT_OK);
  assert.equal(small.appendMessageResult!.logicsOffset, 0, 'the refused batch took no queue offsets');
  assert.equal(small.appendMessageResult!.msgNum, 2);
});

test('invalid configuration is refused with E_CONFIG_INVALID before anything is created', async (t) => {
  const dir = tempDir(t);
  const cases: Array<[string, Record<string, unknown>]> = [
    ['an unknown key', { bogusKey: 1 }],
    ['mappedFileSizeCommitLog 100', { mappedFileSizeCommitLog: 100 }],
    ["flushDiskType 'X'", { flushDiskType: 'X' }],
    ['maxMessageSize 0', { maxMessageSize: 0 }],
    ["storeHost 'bad'", { storeHost: 'bad' }],
  ];
  for (const [name, extra] of cases) {
    const root = path.join(dir, name.replace(/\W+/g, '_'));
    await assertStoreError(() => MessageStore.open({ storePathRootDir: root, ...extra } as MessageStoreOptions), 'E_CONFIG_INVALID');
    assert.equal(fs.existsSync(root), false, `${name}: the store directory was not created`);
  }
  const conf = path.join(dir, 'broker.conf');
  fs.writeFileSync(conf, 'flushDiskType=ASYNC_FLUSH\nnoSuchSetting=1\n', { mode: 0o644, flag: 'wx' });
  const root = path.join(dir, 'with-conf');
  await assertStoreError(() => MessageStore.open({ storePathRootDir: root, configFile: conf }), 'E_CONFIG_INVALID');
  assert.equal(fs.existsSync(root), false, 'configFile: the store directory was not created');

  // A valid configuration in the same places opens: the refusals were about the values.
  const store = await MessageStore.open({ storePathRootDir: path.join(dir, 'valid'), mappedFileSizeCommitLog: 4096 });
  try {
    assert.equal((await store.putMessage(base)).putMessageStatus, PutMessageStatus.PUT_OK);
  } finally {
    await store.close();
  }
});

test('updateConfig({ maxMessageSize }) takes effect for the very next put', async (t) => {
  const store = await openStore(t, { maxMessageSize: 1024 });
  const body = Buffer.alloc(1500, 4);
  assertRefused(await store.putMessage({ ...base, body }), PutMessageStatus.MESSAGE_ILLEGAL);
  await store.updateConfig({ maxMessageSize: 2048 });
  assert.equal(store.getConfig().maxMessageSize, 2048);
  const ok = await store.putMessage({ ...base, body });
  assert.equal(ok.putMessageStatus, PutMessageStatus.PUT_OK);
  assert.equal((await store.lookMessageByOffset(ok.appendMessageResult!.wroteOffset))?.body.length, 1500);
  await store.updateConfig({ maxMessageSize: 1024 });
  assertRefused(await store.putMessage({ ...base, body }), PutMessageStatus.MESSAGE_ILLEGAL);
});

test('updateConfig refuses unknown keys, keys fixed at open and bad values, and keeps the old config', async (t) => {
  const store = await openStore(t, { maxMessageSize: 1024 });
  await assertStoreError(() => store.updateConfig({ bogusKey: 1 } as never), 'E_CONFIG_INVALID');
  await assertStoreError(() => store.updateConfig({ mappedFileSizeCommitLog: 8192 }), 'E_CONFIG_INVALID');
  await assertStoreError(() => store.updateConfig({ maxMessageSize: 0 }), 'E_CONFIG_INVALID');
  await assertStoreError(() => store.updateConfig({ maxMessageSize: 'big' as never }), 'E_CONFIG_INVALID');
  assert.equal(store.getConfig().maxMessageSize, 1024);
  assert.equal(store.getConfig().mappedFileSizeCommitLog, SEGMENT_BYTES);
  assertRefused(await store.putMessage({ ...base, body: Buffer.alloc(1025) }), PutMessageStatus.MESSAGE_ILLEGAL);
  await assertNothingWrittenAndUsable(store, store.getMaxPhyOffset());
});

test('strings UTF-8 cannot carry (a lone surrogate) are refused: topic MESSAGE_ILLEGAL, tags/keys/properties E_INVALID_ARGUMENT', async (t) => {
  const store = await openStore(t);
  const maxBefore = store.getMaxPhyOffset();
  // 'a\uD800' and 'a\uDBFF' would both be stored as 'a\uFFFD': two topics sharing one on disk.
  assertRefused(await store.putMessage({ topic: 'a\uD800', queueId: 0, body: 'b' }), PutMessageStatus.MESSAGE_ILLEGAL);
  await assertStoreError(() => store.putMessage({ ...base, tags: 'x\uDC00' }), 'E_INVALID_ARGUMENT');
  await assertStoreError(() => store.putMessage({ ...base, keys: ['ok', '\uD83D'] }), 'E_INVALID_ARGUMENT');
  await assertStoreError(() => store.putMessage({ ...base, properties: { p: 'v\uD800' } }), 'E_INVALID_ARGUMENT');
  await assertNothingWrittenAndUsable(store, maxBefore);
  // A well-formed astral character is fine.
  const ok = await store.putMessage({ topic: 'emoji\u{1F600}', queueId: 0, body: 'b', tags: '\u{1F600}' });
  assert.equal(ok.putMessageStatus, PutMessageStatus.PUT_OK);
});
