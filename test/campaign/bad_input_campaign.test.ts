// Goal: every public method of MessageStore and the exported codecs answers bad input with a documented status or a typed StoreError (stable `code`), never a plain TypeError/RangeError, a hang or a false PUT_OK, and the store stays usable afterwards.
// Method: tables of (method, input, expected outcome) run against one real store per group in a fresh temp dir; every call races a deadline; after each group a good put is read back. test/integration/bad_input.test.ts keeps the hand-picked boundary cases (topic and body sizes, exact property limits); this file is the systematic sweep.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  decodeMessage,
  decodeMessages,
  encodeMessage,
  GetMessageStatus,
  MessageStore,
  PutMessageStatus,
  StoreError,
  type BatchInput,
  type GetMessageRequest,
  type MessageInput,
  type MessageStoreConfig,
  type MessageStoreOptions,
  type PutMessageResult,
  type StoreErrorCode,
} from '../../src/index.js';
import { CONFIG_KEYS, resolveConfig } from '../../src/config.js';

const SEGMENT_BYTES = 1 << 20;
const MAX_MESSAGE_BYTES = 4096;
/** A call that has not settled by then is a hang. */
const CALL_DEADLINE_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Outcomes

/** What a row expects: a typed error, a put status, a get status, or a documented value. */
type Expect =
  | { code: StoreErrorCode }
  | { put: PutMessageStatus }
  | { get: GetMessageStatus }
  | { value: string; check: (value: unknown) => boolean };

interface Row {
  method: string;
  input: string;
  call: (store: MessageStore) => unknown;
  expect: Expect;
  /** Set when the expectation fails today because of a known defect in code this campaign may not change. */
  todo?: string;
}

const code = (c: StoreErrorCode): Expect => ({ code: c });
const put = (s: PutMessageStatus): Expect => ({ put: s });
const get = (s: GetMessageStatus): Expect => ({ get: s });
const value = (what: string, check: (v: unknown) => boolean): Expect => ({ value: what, check });
const INVALID = code('E_INVALID_ARGUMENT');
const CONFIG = code('E_CONFIG_INVALID');

function expectName(expect: Expect): string {
  if ('code' in expect) return expect.code;
  if ('put' in expect) return expect.put;
  if ('get' in expect) return expect.get;
  return expect.value;
}

/** Runs `call` (sync or async) against a deadline; never lets a hang pass silently. */
async function settle(call: () => unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: no answer within ${CALL_DEADLINE_MS} ms`)), CALL_DEADLINE_MS);
  });
  try {
    return { ok: true, value: await Promise.race([Promise.resolve().then(call), deadline]) };
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('hang:')) throw error;
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

async function assertOutcome(row: Row, store: MessageStore): Promise<void> {
  const outcome = await settle(() => row.call(store));
  const label = `${row.method}(${row.input})`;
  if ('code' in row.expect) {
    assert.equal(outcome.ok, false, `${label}: expected ${row.expect.code}, got a result`);
    const error = (outcome as { error: unknown }).error;
    assert.ok(error instanceof StoreError, `${label}: expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, row.expect.code, `${label}: ${error.message}`);
    return;
  }
  if (!outcome.ok) assert.fail(`${label}: expected ${expectName(row.expect)}, threw ${String(outcome.error)}`);
  if ('put' in row.expect) {
    const result = outcome.value as PutMessageResult;
    assert.equal(result.putMessageStatus, row.expect.put, label);
    if (row.expect.put !== PutMessageStatus.PUT_OK) {
      assert.equal(result.ok, false, `${label}: a refused put is not ok`);
      assert.equal(result.appendMessageResult, undefined, `${label}: a refused put has no append result`);
    }
  } else if ('get' in row.expect) {
    assert.equal((outcome.value as { status: string }).status, row.expect.get, label);
  } else {
    assert.ok(row.expect.check(outcome.value), `${label}: expected ${row.expect.value}, got ${String(outcome.value)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Stores

function tempRoot(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-badc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: TestContext, extra: Partial<MessageStoreOptions> = {}): Promise<MessageStore> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-badc-'));
  let store: MessageStore | null = null;
  // One hook: the store closes before its directory is removed.
  t.after(async () => {
    await store?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  store = await MessageStore.open({
    storePathRootDir: path.join(root, 'store'),
    mappedFileSizeCommitLog: SEGMENT_BYTES,
    maxMessageSize: MAX_MESSAGE_BYTES,
    ...extra,
  });
  return store;
}

/** The store still takes a good put, and it reads back. */
async function assertUsable(store: MessageStore, note: string): Promise<void> {
  const body = `usable after ${note}`;
  const result = await store.putMessage({ topic: 'Good', queueId: 0, body, keys: 'good-key' });
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK, `${note}: a good put still succeeds`);
  const read = await store.lookMessageByOffset(result.appendMessageResult!.wroteOffset);
  assert.equal(read?.body.toString('utf8'), body, `${note}: the good put reads back`);
}

function refusesPut(row: Row): boolean {
  if (!row.method.startsWith('put')) return false;
  return !('put' in row.expect) || row.expect.put !== PutMessageStatus.PUT_OK;
}

async function runRows(t: TestContext, store: MessageStore, rows: readonly Row[], group: string): Promise<void> {
  for (const row of rows) {
    const name = `${row.method}(${row.input}) → ${expectName(row.expect)}`;
    await t.test(name, row.todo === undefined ? {} : { todo: row.todo }, async () => {
      const endBefore = store.getMaxPhyOffset();
      const queueBefore = store.getMaxOffsetInQueue('T', 0, false);
      await assertOutcome(row, store);
      if (refusesPut(row)) {
        assert.equal(store.getMaxPhyOffset(), endBefore, 'a refused send writes nothing');
        assert.equal(store.getMaxOffsetInQueue('T', 0, false), queueBefore, 'a refused send takes no queue offset');
      }
    });
  }
  await assertUsable(store, group);
}

// ---------------------------------------------------------------------------------------------
// Values

/** Wrong values of every JavaScript kind, plus the number edge cases. */
const ODD_VALUES: ReadonlyArray<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ["'1' (string for number)", '1'],
  ['{}', {}],
  ['[]', []],
  ['Symbol()', Symbol('odd')],
  ['1n (bigint)', 1n],
  ['() => 1', () => 1],
  ['Object.create(null)', Object.create(null)],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-1', -1],
  ['1.5', 1.5],
  ['2**31', 2 ** 31],
  ['2**53', 2 ** 53],
  ['Number.MAX_VALUE', Number.MAX_VALUE],
];

/** What the store documents for each kind of argument, by value. */
type Domain =
  | 'queueId'
  | 'int32'
  | 'int32>=0'
  | 'safeInt'
  | 'optionalSize'
  | 'count'
  | 'string'
  | 'optionalString'
  | 'stringArray'
  | 'keys'
  | 'properties';

function isPlainObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v));
}

function isSafeIntegerIn(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

/** True when `v` is a valid value of the domain (the call then answers a status or a value). */
function accepts(domain: Domain, v: unknown): boolean {
  switch (domain) {
    case 'queueId':
    case 'int32>=0':
      return isSafeIntegerIn(v, 0, 2 ** 31 - 1);
    case 'int32':
      return isSafeIntegerIn(v, -(2 ** 31), 2 ** 31 - 1);
    case 'safeInt':
      return isSafeIntegerIn(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case 'count':
      return isSafeIntegerIn(v, 1, 2 ** 31 - 1);
    case 'string':
      return typeof v === 'string' && v.length > 0;
    case 'optionalString':
      return v === undefined || typeof v === 'string';
    case 'optionalSize':
      return v === undefined || isSafeIntegerIn(v, 1, Number.MAX_SAFE_INTEGER);
    case 'stringArray':
      return Array.isArray(v) && v.every((item) => typeof item === 'string');
    case 'keys':
      return v === undefined || typeof v === 'string' || (Array.isArray(v) && v.every((item) => typeof item === 'string'));
    case 'properties':
      // Plain objects with string values (an empty one is fine).
      return v === undefined || (isPlainObject(v) && Object.values(v as object).every((item) => typeof item === 'string' && item.length > 0));
  }
}

/**
 * One row per odd value for one argument: E_INVALID_ARGUMENT unless the value is in the
 * argument's domain, then `whenValid` (the documented answer for that edge value).
 */
function argumentRows(
  method: string,
  argument: string,
  domain: Domain,
  call: (store: MessageStore, v: unknown) => unknown,
  whenValid: (v: unknown) => Expect,
  refused: Expect = INVALID,
): Row[] {
  return ODD_VALUES.map(([name, v]) => ({
    method,
    input: `${argument} = ${name}`,
    call: (store: MessageStore) => call(store, v),
    expect: accepts(domain, v) ? whenValid(v) : refused,
  }));
}

const isNull = value('null', (v) => v === null);
const isMinusOne = value('-1', (v) => v === -1);
const isNumber = value('a number', (v) => typeof v === 'number' && Number.isFinite(v));
const isQueryResult = value('a QueryMessageResult', (v) => Array.isArray((v as { messages?: unknown })?.messages));

// Reads are asked of queue Data/0, which holds DATA_COUNT messages once dispatched.
const DATA_COUNT = 4;

function getRequest(overrides: Partial<Record<keyof GetMessageRequest, unknown>>): GetMessageRequest {
  return { group: 'g', topic: 'Data', queueId: 0, offset: 0, maxMsgNums: 4, ...overrides } as GetMessageRequest;
}

/** The documented getMessage status for a valid offset of queue Data/0 (min 0, max DATA_COUNT). */
function getStatusAt(offset: unknown): Expect {
  const o = offset as number;
  if (o < 0) return get(GetMessageStatus.OFFSET_TOO_SMALL);
  if (o === DATA_COUNT) return get(GetMessageStatus.OFFSET_OVERFLOW_ONE);
  return get(o > DATA_COUNT ? GetMessageStatus.OFFSET_OVERFLOW_BADLY : GetMessageStatus.FOUND);
}

function readRows(): Row[] {
  const now = Date.now() + 60_000;
  return [
    ...argumentRows('lookMessageByOffset', 'commitLogOffset', 'safeInt', (s, v) => s.lookMessageByOffset(v as number), () => isNull),
    ...argumentRows('lookMessageByOffset', 'size', 'optionalSize', (s, v) => s.lookMessageByOffset(0, v as number), (v) =>
      v === undefined ? value('the message at 0', (m) => (m as { topic?: string } | null)?.topic === 'Data') : isNull),
    ...argumentRows('getMessage', 'request', 'string', (s, v) => s.getMessage(v as GetMessageRequest), () => INVALID),
    ...argumentRows('getMessage', 'group', 'optionalString', (s, v) => s.getMessage(getRequest({ group: v })), (v) =>
      v === undefined ? INVALID : get(GetMessageStatus.FOUND)),
    ...argumentRows('getMessage', 'topic', 'string', (s, v) => s.getMessage(getRequest({ topic: v })), () =>
      get(GetMessageStatus.NO_MESSAGE_IN_QUEUE)),
    ...argumentRows('getMessage', 'queueId', 'queueId', (s, v) => s.getMessage(getRequest({ queueId: v })), () =>
      get(GetMessageStatus.NO_MESSAGE_IN_QUEUE)),
    ...argumentRows('getMessage', 'offset', 'safeInt', (s, v) => s.getMessage(getRequest({ offset: v })), getStatusAt),
    ...argumentRows('getMessage', 'maxMsgNums', 'count', (s, v) => s.getMessage(getRequest({ maxMsgNums: v })), () =>
      get(GetMessageStatus.FOUND)),
    ...argumentRows('getMessage', 'subscription', 'optionalString', (s, v) => s.getMessage(getRequest({ subscription: v })), (v) =>
      v === undefined ? get(GetMessageStatus.FOUND) : INVALID),
    ...argumentRows('getMessage', 'subscription.tags', 'stringArray', (s, v) => s.getMessage(getRequest({ subscription: { tags: v } })), () =>
      get(GetMessageStatus.FOUND)),
    ...argumentRows('getMaxOffsetInQueue', 'topic', 'string', (s, v) => s.getMaxOffsetInQueue(v as string, 0), () => isNumber),
    ...argumentRows('getMaxOffsetInQueue', 'queueId', 'queueId', (s, v) => s.getMaxOffsetInQueue('Data', v as number), () => isNumber),
    ...argumentRows('getMaxOffsetInQueue', 'committed', 'optionalString', (s, v) => s.getMaxOffsetInQueue('Data', 0, v as boolean), (v) =>
      v === undefined ? isNumber : INVALID),
    ...argumentRows('getMinOffsetInQueue', 'topic', 'string', (s, v) => s.getMinOffsetInQueue(v as string, 0), () => isNumber),
    ...argumentRows('getMinOffsetInQueue', 'queueId', 'queueId', (s, v) => s.getMinOffsetInQueue('Data', v as number), () => isNumber),
    ...argumentRows('getOffsetInQueueByTime', 'topic', 'string', (s, v) => s.getOffsetInQueueByTime(v as string, 0, now), () => isNumber),
    ...argumentRows('getOffsetInQueueByTime', 'queueId', 'queueId', (s, v) => s.getOffsetInQueueByTime('Data', v as number, now), () =>
      isNumber),
    ...argumentRows('getOffsetInQueueByTime', 'timestamp', 'safeInt', (s, v) => s.getOffsetInQueueByTime('Data', 0, v as number), () =>
      isNumber),
    ...argumentRows('getOffsetInQueueByTime', 'boundary', 'optionalString', (s, v) =>
      s.getOffsetInQueueByTime('Data', 0, now, v as 'LOWER'), (v) => (v === undefined ? isNumber : INVALID)),
    ...argumentRows('getMessageStoreTimeStamp', 'topic', 'string', (s, v) => s.getMessageStoreTimeStamp(v as string, 0, 0), () =>
      isMinusOne),
    ...argumentRows('getMessageStoreTimeStamp', 'queueId', 'queueId', (s, v) => s.getMessageStoreTimeStamp('Data', v as number, 0), (v) =>
      v === 0 ? isNumber : isMinusOne),
    ...argumentRows('getMessageStoreTimeStamp', 'queueOffset', 'safeInt', (s, v) => s.getMessageStoreTimeStamp('Data', 0, v as number), () =>
      isMinusOne),
    ...argumentRows('getEarliestMessageTime', 'topic', 'string', (s, v) => s.getEarliestMessageTime(v as string, 0), (v) =>
      v === undefined ? INVALID : isMinusOne),
    ...argumentRows('getEarliestMessageTime', 'queueId', 'queueId', (s, v) => s.getEarliestMessageTime('Data', v as number), () =>
      isMinusOne),
    ...argumentRows('queryMessage', 'topic', 'string', (s, v) => s.queryMessage(v as string, 'k0', 4, 0, now), () => isQueryResult),
    ...argumentRows('queryMessage', 'key', 'string', (s, v) => s.queryMessage('Data', v as string, 4, 0, now), () => isQueryResult),
    ...argumentRows('queryMessage', 'maxNum', 'count', (s, v) => s.queryMessage('Data', 'k0', v as number, 0, now), () => isQueryResult),
    ...argumentRows('queryMessage', 'begin', 'safeInt', (s, v) => s.queryMessage('Data', 'k0', 4, v as number, now), () => isQueryResult),
    ...argumentRows('queryMessage', 'end', 'safeInt', (s, v) => s.queryMessage('Data', 'k0', 4, 0, v as number), () => isQueryResult),
  ];
}

/** Reads with strings that are legal JavaScript but name nothing the store could hold. */
const STRANGE_STRINGS: ReadonlyArray<[string, string]> = [
  ['a lone surrogate', 'a\uD800'],
  ['100 000 characters', 'x'.repeat(100_000)],
  ["a path '../../etc'", '../../etc'],
  ['a NUL', 'a\u0000b'],
];

function strangeStringRows(): Row[] {
  const now = Date.now() + 60_000;
  return STRANGE_STRINGS.flatMap(([name, text]): Row[] => [
    { method: 'getMessage', input: `topic = ${name}`, call: (s) => s.getMessage(getRequest({ topic: text })), expect: get(GetMessageStatus.NO_MESSAGE_IN_QUEUE) },
    { method: 'getMessage', input: `group = ${name}`, call: (s) => s.getMessage(getRequest({ group: text })), expect: get(GetMessageStatus.FOUND) },
    {
      method: 'getMessage',
      input: `subscription.tags = [${name}]`,
      call: (s) => s.getMessage(getRequest({ subscription: { tags: [text] } })),
      expect: get(GetMessageStatus.NO_MATCHED_MESSAGE),
    },
    { method: 'getMaxOffsetInQueue', input: `topic = ${name}`, call: (s) => s.getMaxOffsetInQueue(text, 0), expect: value('0', (v) => v === 0) },
    { method: 'getOffsetInQueueByTime', input: `topic = ${name}`, call: (s) => s.getOffsetInQueueByTime(text, 0, now), expect: value('0', (v) => v === 0) },
    {
      method: 'queryMessage',
      input: `key = ${name}`,
      call: (s) => s.queryMessage('Data', text, 4, 0, now),
      expect: value('no messages', (v) => (v as { messages: unknown[] }).messages.length === 0),
    },
  ]);
}

async function fillDataQueue(store: MessageStore): Promise<void> {
  for (let i = 0; i < DATA_COUNT; i++) {
    const result = await store.putMessage({ topic: 'Data', queueId: 0, body: `data-${i}`, tags: 'TagA', keys: `k${i}` });
    assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
  }
  await store.flush();
  const deadline = Date.now() + CALL_DEADLINE_MS;
  while (store.getMaxOffsetInQueue('Data', 0) < DATA_COUNT) {
    assert.ok(Date.now() < deadline, 'the data queue is dispatched in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ---------------------------------------------------------------------------------------------
// Sends

const good = { topic: 'T', queueId: 0, body: 'body' };

/** The message fields, their domains, and the documented answer for valid edge values. */
function putRows(): Row[] {
  // An optional field left undefined is a valid send (its default applies).
  const OPTIONAL = new Set(['flag', 'sysFlag', 'reconsumeTimes', 'bornTimestamp', 'bornHost', 'tags', 'keys', 'properties']);
  const withDefaults = (field: string, rows: Row[]): Row[] =>
    rows.map((row) => (OPTIONAL.has(field) && row.input.endsWith('= undefined') ? { ...row, expect: put(PutMessageStatus.PUT_OK) } : row));
  const single = (field: string, domain: Domain, whenValid: (v: unknown) => Expect = () => put(PutMessageStatus.PUT_OK)): Row[] =>
    withDefaults(field, argumentRows('putMessage', field, domain, (s, v) => s.putMessage({ ...good, [field]: v } as MessageInput), whenValid));
  const batch = (field: string, domain: Domain, whenValid: (v: unknown) => Expect = () => put(PutMessageStatus.PUT_OK)): Row[] =>
    withDefaults(field, argumentRows('putMessages', `messages[1].${field}`, domain, (s, v) =>
      s.putMessages({ topic: 'T', queueId: 0, messages: [{ body: 'ok' }, { body: 'b', [field]: v }] } as BatchInput), whenValid));
  return [
    ...argumentRows('putMessage', 'message', 'string', (s, v) => s.putMessage(v as MessageInput), () => INVALID),
    ...single('topic', 'string'),
    ...single('queueId', 'queueId'),
    ...single('body', 'string'),
    ...single('flag', 'int32'),
    // Any int32 is stored as given (RocketMQ's store does not check it either).
    ...single('sysFlag', 'int32'),
    ...single('reconsumeTimes', 'int32>=0'),
    ...single('bornTimestamp', 'safeInt'),
    ...single('bornHost', 'optionalString', (v) => (v === undefined ? put(PutMessageStatus.PUT_OK) : INVALID)),
    ...single('tags', 'optionalString'),
    ...single('keys', 'keys'),
    ...single('properties', 'properties'),
    ...argumentRows('putMessages', 'batch', 'string', (s, v) => s.putMessages(v as BatchInput), () => INVALID),
    ...argumentRows('putMessages', 'messages', 'string', (s, v) => s.putMessages({ topic: 'T', queueId: 0, messages: v } as BatchInput), () =>
      INVALID),
    ...argumentRows('putMessages', 'queueId', 'queueId', (s, v) =>
      s.putMessages({ topic: 'T', queueId: v, messages: [{ body: 'b' }] } as BatchInput), () => put(PutMessageStatus.PUT_OK)),
    ...withDefaults('bornTimestamp', argumentRows('putMessages', 'bornTimestamp', 'safeInt', (s, v) =>
      s.putMessages({ topic: 'T', queueId: 0, bornTimestamp: v, messages: [{ body: 'b' }] } as BatchInput), () => put(PutMessageStatus.PUT_OK))),
    ...batch('body', 'string'),
    ...batch('flag', 'int32'),
    ...batch('tags', 'optionalString'),
    ...batch('properties', 'properties'),
  ];
}

/** Strings UTF-8 cannot carry, reserved and oversize properties, odd batches. */
function contentRows(): Row[] {
  const props = (properties: Record<string, string>) => (s: MessageStore) => s.putMessage({ ...good, properties });
  const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`p${i}`, 'vvvv']));
  const batchOf = (messages: unknown) => (s: MessageStore) => s.putMessages({ topic: 'T', queueId: 0, messages } as BatchInput);
  return [
    { method: 'putMessage', input: 'body = a string with a lone surrogate', call: (s) => s.putMessage({ ...good, body: 'a\uD800' }), expect: INVALID },
    { method: 'putMessage', input: 'property name with a lone surrogate', call: props({ 'n\uDC00': 'v' }), expect: INVALID },
    { method: 'putMessage', input: 'property name with \\u0002', call: props({ 'n\u0002': 'v' }), expect: INVALID },
    { method: 'putMessage', input: "property name ''", call: props({ '': 'v' }), expect: INVALID },
    { method: 'putMessage', input: 'a property name of 40 000 bytes', call: props({ ['n'.repeat(40_000)]: 'v' }), expect: put(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED) },
    { method: 'putMessage', input: '5000 properties (≈ 50 KB together)', call: props(many), expect: put(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED) },
    { method: 'putMessage', input: 'properties = new Map([[a, b]])', call: (s) => s.putMessage({ ...good, properties: new Map([['a', 'b']]) as never }), expect: INVALID },
    { method: 'putMessage', input: "keys = [, 'a'] (a hole)", call: (s) => s.putMessage({ ...good, keys: [, 'a'] as string[] }), expect: INVALID },
    { method: 'putMessage', input: "bornHost = '1.2.3.4:99999'", call: (s) => s.putMessage({ ...good, bornHost: '1.2.3.4:99999' }), expect: INVALID },
    { method: 'putMessage', input: `body of maxMessageSize + 1 as a string (${MAX_MESSAGE_BYTES + 1} × 'x')`, call: (s) => s.putMessage({ ...good, body: 'x'.repeat(MAX_MESSAGE_BYTES + 1) }), expect: put(PutMessageStatus.MESSAGE_ILLEGAL) },
    { method: 'putMessage', input: 'body of 64 MiB', call: (s) => s.putMessage({ ...good, body: Buffer.alloc(64 << 20) }), expect: put(PutMessageStatus.MESSAGE_ILLEGAL) },
    { method: 'putMessage', input: 'body = Uint16Array', call: (s) => s.putMessage({ ...good, body: new Uint16Array(2) as never }), expect: INVALID },
    { method: 'putMessage', input: 'body = ArrayBuffer', call: (s) => s.putMessage({ ...good, body: new ArrayBuffer(2) as never }), expect: INVALID },
    { method: 'putMessages', input: 'messages = [, msg] (a hole)', call: batchOf([, { body: 'a' }]), expect: INVALID },
    { method: 'putMessages', input: 'messages = new Array(3)', call: batchOf(new Array(3)), expect: INVALID },
    { method: 'putMessages', input: "messages = 'abc'", call: batchOf('abc'), expect: INVALID },
    { method: 'putMessages', input: 'messages = [msg, null]', call: batchOf([{ body: 'a' }, null]), expect: INVALID },
    { method: 'putMessages', input: '1000 messages of 50 bytes (over maxMessageSize together)', call: batchOf(Array.from({ length: 1000 }, () => ({ body: 'x'.repeat(50) }))), expect: put(PutMessageStatus.MESSAGE_ILLEGAL) },
    { method: 'putMessages', input: 'mixed: [good, DELAY=3]', call: batchOf([{ body: 'a' }, { body: 'b', properties: { DELAY: '3' } }]), expect: put(PutMessageStatus.MESSAGE_ILLEGAL) },
    { method: 'putMessages', input: 'mixed: [good, body over maxMessageSize]', call: batchOf([{ body: 'a' }, { body: Buffer.alloc(MAX_MESSAGE_BYTES + 1) }]), expect: put(PutMessageStatus.MESSAGE_ILLEGAL) },
    { method: 'putMessages', input: 'mixed: [good, tags with a lone surrogate]', call: batchOf([{ body: 'a' }, { body: 'b', tags: 'x\uD800' }]), expect: INVALID },
    { method: 'putMessages', input: 'mixed: [good, properties = Map]', call: batchOf([{ body: 'a' }, { body: 'b', properties: new Map() }]), expect: INVALID },
    { method: 'putMessages', input: "topic = 'a\\uD800'", call: (s) => s.putMessages({ topic: 'a\uD800', queueId: 0, messages: [{ body: 'a' }] }), expect: put(PutMessageStatus.MESSAGE_ILLEGAL) },
  ];
}

/** Reserved property names are stored the way RocketMQ reads them back. */
const RESERVED_PROPERTIES: ReadonlyArray<[string, string, (m: { tags: string | undefined; keys: string[]; properties: Record<string, string> }) => boolean]> = [
  ['TAGS', 'becomes the tag', (m) => m.tags === 'v'],
  ['KEYS', 'becomes the keys', (m) => m.keys.length === 1 && m.keys[0] === 'v'],
  ['WAIT', 'is not stored', (m) => !('WAIT' in m.properties)],
  ['UNIQ_KEY', 'is stored', (m) => m.properties['UNIQ_KEY'] === 'v'],
  ['DELAY', 'is stored as a plain property (no schedule topic)', (m) => m.properties['DELAY'] === 'v'],
  ['__proto__', 'is an own property', (m) => Object.hasOwn(m.properties, '__proto__') && m.properties['__proto__'] === 'v'],
  ['constructor', 'is an own property', (m) => m.properties['constructor'] === 'v'],
];

// ---------------------------------------------------------------------------------------------
// Configuration

type ConfigKind = 'int' | 'bool' | 'string' | 'enum';

/** A key's kind, from the type of its default (so keys added later are swept too). */
function configKind(defaults: MessageStoreConfig, key: keyof MessageStoreConfig): ConfigKind {
  if (key === 'flushDiskType' || key === 'storeHost' || key === 'deleteWhen') return 'enum';
  const kind = typeof defaults[key];
  if (kind === 'boolean') return 'bool';
  return kind === 'number' ? 'int' : 'string';
}

const cyclic: Record<string, unknown> = {};
cyclic['self'] = cyclic;

/** Values of the wrong type for a key of this kind (as an options object, not text). */
function badConfigValues(kind: ConfigKind): ReadonlyArray<[string, unknown]> {
  const common: Array<[string, unknown]> = [
    ['null', null],
    ['Symbol()', Symbol('config')],
    ['1n', 1n],
    ['a cyclic object', cyclic],
    ['Object.create(null)', Object.create(null)],
  ];
  switch (kind) {
    case 'int':
      return [...common, ["'1'", '1'], ['NaN', Number.NaN], ['Infinity', Number.POSITIVE_INFINITY], ['1.5', 1.5], ['2**53', 2 ** 53], ['true', true]];
    case 'bool':
      return [...common, ["'true'", 'true'], ['1', 1]];
    case 'string':
      return [...common, ["''", ''], ['5', 5]];
    case 'enum':
      return [...common, ["'nonsense'", 'nonsense'], ['4', 4]];
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

test('bad-input campaign: reads with wrong types, edge numbers and strange strings answer a status, a value or E_INVALID_ARGUMENT', async (t) => {
  const store = await openStore(t);
  await fillDataQueue(store);
  await runRows(t, store, readRows(), 'bad reads');
  await runRows(t, store, strangeStringRows(), 'strange strings in reads');
});

test('bad-input campaign: sends with wrong types and edge numbers in every field answer a status or E_INVALID_ARGUMENT and take no queue offset', async (t) => {
  const store = await openStore(t);
  await runRows(t, store, putRows(), 'bad sends');
});

test('bad-input campaign: content UTF-8 cannot carry, oversize properties and odd batches are refused and write nothing', async (t) => {
  const store = await openStore(t);
  const before = store.getMaxPhyOffset();
  await runRows(t, store, contentRows(), 'bad content');
  assert.equal(store.getMaxOffsetInQueue('T', 0, false), 0, 'no refused send took a queue offset');
  const usablePutBytes = (await store.lookMessageByOffset(before))!.storeSize;
  assert.equal(store.getMaxPhyOffset(), before + usablePutBytes, 'only the good put of the usability check was written');
});

test('bad-input campaign: reserved property names are stored as RocketMQ reads them back', async (t) => {
  const store = await openStore(t);
  for (const [name, meaning, check] of RESERVED_PROPERTIES) {
    await t.test(`putMessage(properties = { ${name}: 'v' }) → PUT_OK; ${name} ${meaning}`, async () => {
      const result = await store.putMessage({ ...good, properties: JSON.parse(`{"${name}":"v"}`) as Record<string, string> });
      assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
      const read = await store.lookMessageByOffset(result.appendMessageResult!.wroteOffset);
      assert.ok(read !== null && check(read), `${name}: ${JSON.stringify(read?.properties)}`);
    });
  }
  await assertUsable(store, 'reserved properties');
});

test('bad-input campaign: updateConfig with wrong types, unknown or inherited keys is E_CONFIG_INVALID and keeps the config', async (t) => {
  const store = await openStore(t);
  const rows: Row[] = [
    // An empty object is a no-op; anything that is not a plain object is refused.
    ...argumentRows('updateConfig', 'partial', 'properties', (s, v) => s.updateConfig(v as Partial<MessageStoreConfig>), (v) =>
      v === undefined ? CONFIG : value('a no-op', (r) => r === undefined), CONFIG),
    ...badConfigValues('int').map(([name, v]): Row => ({
      method: 'updateConfig', input: `maxMessageSize = ${name}`, call: (s) => s.updateConfig({ maxMessageSize: v as number }), expect: CONFIG,
    })),
    ...badConfigValues('enum').map(([name, v]): Row => ({
      method: 'updateConfig', input: `deleteWhen = ${name}`, call: (s) => s.updateConfig({ deleteWhen: v as string }), expect: CONFIG,
    })),
    ...['toString', 'constructor', '__proto__', 'hasOwnProperty', 'bogusKey'].map((key): Row => ({
      method: 'updateConfig', input: `{ ${key}: 1 } (unknown key)`, call: (s) => s.updateConfig(JSON.parse(`{"${key}":1}`) as never), expect: CONFIG,
    })),
    { method: 'updateConfig', input: 'maxMessageSize = 2**31', call: (s) => s.updateConfig({ maxMessageSize: 2 ** 31 }), expect: CONFIG },
    { method: 'updateConfig', input: 'maxMessageSize = 100 MiB (needs a larger ring)', call: (s) => s.updateConfig({ maxMessageSize: 100 << 20 }), expect: CONFIG },
    { method: 'updateConfig', input: "flushDiskType = 'SYNC_FLUSH' (fixed at open)", call: (s) => s.updateConfig({ flushDiskType: 'SYNC_FLUSH' }), expect: CONFIG },
  ];
  await runRows(t, store, rows, 'bad updateConfig');
  assert.equal(store.getConfig().maxMessageSize, MAX_MESSAGE_BYTES, 'the refused updates changed nothing');
});

test('bad-input campaign: open() with a wrong type for every configuration key is E_CONFIG_INVALID and creates nothing', async (t) => {
  const dir = tempRoot(t);
  const defaults = await resolveConfig({ storePathRootDir: dir });
  let n = 0;
  for (const key of CONFIG_KEYS) {
    for (const [name, v] of badConfigValues(configKind(defaults, key))) {
      const root = path.join(dir, `s${n++}`);
      const options = { storePathRootDir: root, [key]: v } as MessageStoreOptions;
      if (key === 'storePathRootDir') options.storePathRootDir = v as string;
      const outcome = await settle(() => MessageStore.open(options));
      const label = `open({ ${key}: ${name} })`;
      if (outcome.ok) {
        await (outcome.value as MessageStore).close();
        assert.fail(`${label}: opened`);
      }
      assert.ok(outcome.error instanceof StoreError, `${label}: expected a StoreError, got ${String(outcome.error)}`);
      assert.equal(outcome.error.code, 'E_CONFIG_INVALID', `${label}: ${outcome.error.message}`);
      assert.equal(fs.existsSync(root), false, `${label}: nothing was created`);
    }
  }
  assert.ok(n >= CONFIG_KEYS.length * 7, `every key was tried (${n} cases)`);
});

test('bad-input campaign: open() with bad options, directories and config files answers a typed error, never a hang', async (t) => {
  const dir = tempRoot(t);
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x', { mode: 0o644, flag: 'wx' });
  const conf = (name: string, text: string | Buffer): string => {
    const at = path.join(dir, `${name}.conf`);
    fs.writeFileSync(at, text, { mode: 0o644, flag: 'wx' });
    return at;
  };
  const at = (name: string): string => path.join(dir, name);
  const small = { mappedFileSizeCommitLog: SEGMENT_BYTES };
  const cases: ReadonlyArray<[string, () => unknown, StoreErrorCode | 'opens', string?]> = [
    ['options = undefined', () => undefined, 'E_CONFIG_INVALID'],
    ['options = []', () => [], 'E_CONFIG_INVALID'],
    ["options = 'dir'", () => 'dir', 'E_CONFIG_INVALID'],
    ['{} (no storePathRootDir)', () => ({}), 'E_CONFIG_INVALID'],
    ['an unknown key', () => ({ storePathRootDir: at('u1'), bogusKey: 1 }), 'E_CONFIG_INVALID'],
    ['key toString', () => ({ storePathRootDir: at('u2'), toString: 1 }), 'E_CONFIG_INVALID'],
    ['key constructor', () => ({ storePathRootDir: at('u3'), constructor: 'x' }), 'E_CONFIG_INVALID'],
    ['key __proto__', () => JSON.parse(`{"storePathRootDir":${JSON.stringify(at('u4'))},"__proto__":1}`), 'E_CONFIG_INVALID'],
    ['storePathRootDir is a file', () => ({ storePathRootDir: file, ...small }), 'E_STORE_DIR'],
    ['storePathRootDir under a file', () => ({ storePathRootDir: path.join(file, 'sub'), ...small }), 'E_STORE_DIR'],
    ['storePathRootDir with a NUL', () => ({ storePathRootDir: at('n\u0000ul'), ...small }), 'E_STORE_DIR'],
    ['storePathRootDir of 300 bytes in one name', () => ({ storePathRootDir: at('y'.repeat(300)), ...small }), 'E_STORE_DIR'],
    ['storePathRootDir with missing parents', () => ({ storePathRootDir: at('p/q/r'), ...small }), 'opens'],
    ['storePathRootDir in an unreadable directory', () => {
      fs.mkdirSync(at('locked-out'), { mode: 0o000 });
      return { storePathRootDir: path.join(at('locked-out'), 'store'), ...small };
    }, 'E_STORE_DIR', process.getuid?.() === 0 ? 'root ignores directory permissions' : undefined],
    ['storePathRootDir under /proc/self (mkdir keeps failing ENOENT)', () => ({ storePathRootDir: '/proc/self/mqstore', ...small }), 'E_STORE_DIR',
      fs.existsSync('/proc/self') ? undefined : 'no /proc'],
    ['storePathCommitLog is a file', () => ({ storePathRootDir: at('c1'), storePathCommitLog: file, ...small }), 'E_STORE_DIR'],
    ['storePathCommitLog under a file', () => ({ storePathRootDir: at('c2'), storePathCommitLog: path.join(file, 'cl'), ...small }), 'E_STORE_DIR'],
    ['storePathCommitLog with a NUL', () => ({ storePathRootDir: at('c3'), storePathCommitLog: at('c\u0000l'), ...small }), 'E_STORE_DIR'],
    ['configFile missing', () => ({ storePathRootDir: at('f1'), configFile: at('none.conf') }), 'E_CONFIG_INVALID'],
    ['configFile is a directory', () => ({ storePathRootDir: at('f2'), configFile: dir }), 'E_CONFIG_INVALID'],
    ['configFile of binary garbage', () => ({ storePathRootDir: at('f3'), configFile: conf('binary', Buffer.from([0xff, 0xfe, 0, 1, 0x3d, 0x0a, 0x80])) }), 'E_CONFIG_INVALID'],
    ['configFile: maxMessageSize=abc', () => ({ storePathRootDir: at('f4'), configFile: conf('abc', 'maxMessageSize=abc\n') }), 'E_CONFIG_INVALID'],
    ['configFile: maxMessageSize=1.5', () => ({ storePathRootDir: at('f5'), configFile: conf('frac', 'maxMessageSize=1.5\n') }), 'E_CONFIG_INVALID'],
    ['configFile: a key without a value', () => ({ storePathRootDir: at('f6'), configFile: conf('novalue', 'maxMessageSize\n') }), 'E_CONFIG_INVALID'],
    ['configFile: messageIndexEnable=yes', () => ({ storePathRootDir: at('f7'), configFile: conf('yes', 'messageIndexEnable=yes\n') }), 'E_CONFIG_INVALID'],
    ['configFile: toString=1', () => ({ storePathRootDir: at('f8'), configFile: conf('tostring', 'toString=1\n') }), 'E_CONFIG_INVALID'],
    ['configFile: __proto__=1', () => ({ storePathRootDir: at('f9'), configFile: conf('proto', '__proto__=1\n') }), 'E_CONFIG_INVALID'],
  ];
  for (const [name, make, expected, skip] of cases) {
    await t.test(`open(${name}) → ${expected}`, skip === undefined ? {} : { skip }, async () => {
      const outcome = await settle(() => MessageStore.open(make() as MessageStoreOptions));
      if (outcome.ok) {
        await (outcome.value as MessageStore).close();
        assert.equal(expected, 'opens', `${name}: opened`);
        return;
      }
      assert.ok(outcome.error instanceof StoreError, `${name}: expected a StoreError, got ${String(outcome.error)}`);
      assert.equal(outcome.error.code, expected, `${name}: ${outcome.error.message}`);
    });
  }
  if (fs.existsSync(at('locked-out'))) fs.chmodSync(at('locked-out'), 0o755);

  await t.test('open() of a directory already open (also through a symlink, and twice at once) → E_STORE_LOCKED', async () => {
    const root = at('shared');
    const first = await MessageStore.open({ storePathRootDir: root, ...small });
    try {
      fs.symlinkSync(root, at('shared-link'));
      for (const again of [root, at('shared-link')]) {
        const outcome = await settle(() => MessageStore.open({ storePathRootDir: again, ...small }));
        assert.ok(!outcome.ok && outcome.error instanceof StoreError && outcome.error.code === 'E_STORE_LOCKED', again);
      }
    } finally {
      await first.close();
    }
    const both = await Promise.allSettled([0, 1].map(() => MessageStore.open({ storePathRootDir: at('race'), ...small })));
    for (const r of both) if (r.status === 'fulfilled') await r.value.close();
    assert.deepEqual(both.map((r) => (r.status === 'fulfilled' ? 'open' : (r.reason as StoreError).code)).sort(), ['E_STORE_LOCKED', 'open']);
  });
});

test('bad-input campaign: every method of a closed store answers SERVICE_NOT_AVAILABLE, E_STORE_CLOSED or its last value', async (t) => {
  const root = tempRoot(t);
  const options = { storePathRootDir: path.join(root, 'store'), mappedFileSizeCommitLog: SEGMENT_BYTES };
  const store = await MessageStore.open(options);
  const stored = await store.putMessage({ ...good, keys: 'k' });
  await store.close();
  const closedPut = (s: PutMessageResult): boolean => s.putMessageStatus === PutMessageStatus.SERVICE_NOT_AVAILABLE && s.error?.code === 'E_STORE_CLOSED';
  const CLOSED = code('E_STORE_CLOSED');
  const rows: Row[] = [
    { method: 'putMessage', input: 'a good message', call: (s) => s.putMessage(good), expect: value('SERVICE_NOT_AVAILABLE, error E_STORE_CLOSED', (v) => closedPut(v as PutMessageResult)) },
    { method: 'putMessage', input: 'topic = 5 (state is checked first)', call: (s) => s.putMessage({ ...good, topic: 5 as never }), expect: put(PutMessageStatus.SERVICE_NOT_AVAILABLE) },
    { method: 'putMessages', input: 'a good batch', call: (s) => s.putMessages({ topic: 'T', queueId: 0, messages: [{ body: 'b' }] }), expect: value('SERVICE_NOT_AVAILABLE, error E_STORE_CLOSED', (v) => closedPut(v as PutMessageResult)) },
    { method: 'getMessage', input: 'a good request', call: (s) => s.getMessage(getRequest({ topic: 'T' })), expect: CLOSED },
    { method: 'getMessage', input: 'null (arguments are checked first)', call: (s) => s.getMessage(null as never), expect: INVALID },
    { method: 'lookMessageByOffset', input: '0', call: (s) => s.lookMessageByOffset(0), expect: CLOSED },
    { method: 'queryMessage', input: "'T', 'k'", call: (s) => s.queryMessage('T', 'k', 4, 0, Date.now()), expect: CLOSED },
    { method: 'getMaxOffsetInQueue', input: "'T', 0", call: (s) => s.getMaxOffsetInQueue('T', 0), expect: CLOSED },
    { method: 'getMinOffsetInQueue', input: "'T', 0", call: (s) => s.getMinOffsetInQueue('T', 0), expect: CLOSED },
    { method: 'getOffsetInQueueByTime', input: "'T', 0, now", call: (s) => s.getOffsetInQueueByTime('T', 0, Date.now()), expect: CLOSED },
    { method: 'getMessageStoreTimeStamp', input: "'T', 0, 0", call: (s) => s.getMessageStoreTimeStamp('T', 0, 0), expect: CLOSED },
    { method: 'getEarliestMessageTime', input: '()', call: (s) => s.getEarliestMessageTime(), expect: CLOSED },
    { method: 'flush', input: '()', call: (s) => s.flush(), expect: CLOSED },
    { method: 'updateConfig', input: '{ flushIntervalCommitLog: 100 }', call: (s) => s.updateConfig({ flushIntervalCommitLog: 100 }), expect: CLOSED },
    { method: 'deleteExpiredFilesManually', input: '()', call: (s) => s.deleteExpiredFilesManually(), expect: CLOSED },
    { method: 'close', input: '() again', call: (s) => s.close(), expect: value('resolves', (v) => v === undefined) },
    { method: 'dispatchBehindBytes', input: '()', call: (s) => s.dispatchBehindBytes(), expect: value('0', (v) => v === 0) },
    { method: 'getMinPhyOffset', input: '()', call: (s) => s.getMinPhyOffset(), expect: value('the last value (0)', (v) => v === 0) },
    { method: 'getMaxPhyOffset', input: '()', call: (s) => s.getMaxPhyOffset(), expect: value('the last value', (v) => v === stored.appendMessageResult!.wroteBytes) },
    { method: 'getFlushedWhere', input: '()', call: (s) => s.getFlushedWhere(), expect: value('the last value', (v) => v === stored.appendMessageResult!.wroteBytes) },
    { method: 'getRuntimeInfo', input: '()', call: (s) => s.getRuntimeInfo(), expect: value('the last counters', (v) => (v as { putMessageTimesTotal: number }).putMessageTimesTotal === 1) },
    { method: 'getRecoveryReport', input: '()', call: (s) => s.getRecoveryReport(), expect: value('the report of the open', (v) => typeof (v as { lastExitOK: unknown }).lastExitOK === 'boolean') },
    { method: 'getConfig', input: '()', call: (s) => s.getConfig(), expect: value('the config', (v) => (v as MessageStoreConfig).mappedFileSizeCommitLog === SEGMENT_BYTES) },
  ];
  for (const row of rows) {
    await t.test(`closed store: ${row.method}(${row.input}) → ${expectName(row.expect)}`, () => assertOutcome(row, store));
  }
  // Usable again: a closed store is reopened, and what it acknowledged is there.
  const reopened = await MessageStore.open(options);
  try {
    assert.equal((await reopened.lookMessageByOffset(0))?.body.toString('utf8'), 'body');
    await assertUsable(reopened, 'reopen after close');
  } finally {
    await reopened.close();
  }
});

test('bad-input campaign: puts, reads and flushes racing close() (called twice) all settle with documented outcomes; every PUT_OK survives reopen', async (t) => {
  const root = tempRoot(t);
  for (const flushDiskType of ['ASYNC_FLUSH', 'SYNC_FLUSH'] as const) {
    for (const closeAfterMs of [0, 15]) {
      const options = { storePathRootDir: path.join(root, `${flushDiskType}-${closeAfterMs}`), mappedFileSizeCommitLog: 64 * 1024, flushDiskType };
      const store = await MessageStore.open(options);
      for (let i = 0; i < 20; i++) await store.putMessage({ topic: 'T', queueId: 0, body: `pre-${i}`, keys: `k${i}` });
      const acknowledged: number[] = [];
      const outcomes = new Map<string, number>();
      const count = (key: string): void => void outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      const track = async (name: string, call: () => unknown): Promise<void> => {
        const outcome = await settle(call);
        if (!outcome.ok) {
          assert.ok(outcome.error instanceof StoreError, `${name} racing close: expected a StoreError, got ${String(outcome.error)}`);
          assert.equal(outcome.error.code, 'E_STORE_CLOSED', `${name} racing close: ${outcome.error.message}`);
          return count(`${name}:${outcome.error.code}`);
        }
        const result = outcome.value as PutMessageResult | undefined;
        if (result?.putMessageStatus === undefined) return count(`${name}:ok`);
        assert.ok(
          [PutMessageStatus.PUT_OK, PutMessageStatus.SERVICE_NOT_AVAILABLE, PutMessageStatus.FLUSH_DISK_TIMEOUT].includes(result.putMessageStatus as never),
          `${name} racing close: ${result.putMessageStatus}`,
        );
        if (result.ok) acknowledged.push(result.appendMessageResult!.wroteOffset);
        count(`${name}:${result.putMessageStatus}`);
      };
      let closing: Promise<unknown> | null = null;
      const workers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; closing === null || i < 400; i++) {
          if (i > 2000) break;
          const round = [
            track('putMessage', () => store.putMessage({ topic: 'T', queueId: w, body: `m-${w}-${i}`, keys: `r${i}` })),
            track('putMessages', () => store.putMessages({ topic: 'B', queueId: w, messages: [{ body: 'a' }, { body: 'b' }] })),
            track('getMessage', () => store.getMessage(getRequest({ topic: 'T', offset: i % 20 }))),
            track('lookMessageByOffset', () => store.lookMessageByOffset(0)),
            track('queryMessage', () => store.queryMessage('T', `k${i % 20}`, 2, 0, Date.now() + 1000)),
            track('getMessageStoreTimeStamp', () => store.getMessageStoreTimeStamp('T', 0, i % 20)),
            track('flush', () => store.flush()),
          ];
          await Promise.all(round);
          if (closing !== null && (outcomes.get('lookMessageByOffset:E_STORE_CLOSED') ?? 0) > 8) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      await new Promise((resolve) => setTimeout(resolve, closeAfterMs));
      closing = Promise.all([store.close(), store.close()]);
      const closed = await settle(() => closing);
      assert.ok(closed.ok, `close() twice resolves (${flushDiskType}, after ${closeAfterMs} ms)`);
      await Promise.all(workers);
      assert.ok((outcomes.get('putMessage:SERVICE_NOT_AVAILABLE') ?? 0) > 0, 'some puts met the closing store');
      const reopened = await MessageStore.open(options);
      try {
        for (const offset of acknowledged) {
          assert.ok((await reopened.lookMessageByOffset(offset)) !== null, `acknowledged put at ${offset} survives reopen (${flushDiskType})`);
        }
        await assertUsable(reopened, `racing close (${flushDiskType})`);
      } finally {
        await reopened.close();
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Codecs

function encodeInput(overrides: Record<string, unknown>): Parameters<typeof encodeMessage>[0] {
  return { topic: 'T', queueId: 0, body: 'x', queueOffset: 0, commitLogOffset: 0, storeTimestamp: 0, storeHost: '10.0.0.1:10911', ...overrides } as Parameters<typeof encodeMessage>[0];
}

test('bad-input campaign: the codecs answer wrong types with E_INVALID_ARGUMENT and bad bytes with E_RECORD_INVALID', async (t) => {
  const record = encodeMessage(encodeInput({}));
  const codecRows: Row[] = [
    ...ODD_VALUES.map(([name, v]): Row => ({
      method: 'encodeMessage', input: `message = ${name}`, call: () => encodeMessage(v as never), expect: INVALID,
    })),
    ...(['topic', 'body', 'storeHost'] as const).flatMap((field) => ODD_VALUES.filter(([, v]) => typeof v !== 'string').map(([name, v]): Row => ({
      method: 'encodeMessage', input: `${field} = ${name}`, call: () => encodeMessage(encodeInput({ [field]: v })), expect: INVALID,
    }))),
    ...(['queueId', 'queueOffset', 'commitLogOffset', 'storeTimestamp'] as const).flatMap((field) =>
      ODD_VALUES.filter(([, v]) => !accepts(field === 'queueId' ? 'queueId' : 'safeInt', v)).map(([name, v]): Row => ({
        method: 'encodeMessage', input: `${field} = ${name}`, call: () => encodeMessage(encodeInput({ [field]: v })), expect: INVALID,
      }))),
    { method: 'encodeMessage', input: "topic = ''", call: () => encodeMessage(encodeInput({ topic: '' })), expect: INVALID },
    { method: 'encodeMessage', input: 'properties over 32767 bytes', call: () => encodeMessage(encodeInput({ properties: { p: 'v'.repeat(40_000) } })), expect: INVALID },
    ...ODD_VALUES.map(([name, v]): Row => ({
      method: 'decodeMessage', input: `buf = ${name}`, call: () => decodeMessage(v as never), expect: INVALID,
    })),
    ...ODD_VALUES.map(([name, v]): Row => ({
      method: 'decodeMessages', input: `buf = ${name}`, call: () => decodeMessages(v as never), expect: INVALID,
    })),
    ...ODD_VALUES.filter(([, v]) => v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v === 0)).map(([name, v]): Row => ({
      method: 'decodeMessage', input: `offset = ${name}`, call: () => decodeMessage(record, v as number),
      expect: typeof v === 'number' ? code('E_RECORD_INVALID') : INVALID,
    })),
    { method: 'decodeMessage', input: 'an empty buffer', call: () => decodeMessage(Buffer.alloc(0)), expect: code('E_RECORD_INVALID') },
    { method: 'decodeMessage', input: 'a record cut by one byte', call: () => decodeMessage(record.subarray(0, record.length - 1)), expect: code('E_RECORD_INVALID') },
    { method: 'decodeMessage', input: '200 bytes of 0xff', call: () => decodeMessage(Buffer.alloc(200, 0xff)), expect: code('E_RECORD_INVALID') },
    { method: 'decodeMessages', input: 'an empty Uint8Array', call: () => decodeMessages(new Uint8Array(0)), expect: value('[]', (v) => Array.isArray(v) && v.length === 0) },
    { method: 'decodeMessages', input: 'a record then garbage', call: () => decodeMessages(Buffer.concat([record, Buffer.alloc(100, 0x7f)])), expect: code('E_RECORD_INVALID') },
  ];
  for (const row of codecRows) {
    await t.test(`${row.method}(${row.input}) → ${expectName(row.expect)}`, row.todo === undefined ? {} : { todo: row.todo }, () =>
      assertOutcome(row, undefined as never));
  }
});

// ---------------------------------------------------------------------------------------------
// Regressions: one test per defect this campaign found, named after what failed.

test('regression: a batch with holes (sparse messages array) is E_INVALID_ARGUMENT, not a TypeError', async (t) => {
  const store = await openStore(t);
  for (const messages of [[, { body: 'a' }], new Array(2)]) {
    await assert.rejects(store.putMessages({ topic: 'T', queueId: 0, messages } as BatchInput), { code: 'E_INVALID_ARGUMENT' });
  }
  await assert.rejects(store.putMessage({ ...good, keys: [, 'a'] as string[] }), { code: 'E_INVALID_ARGUMENT' });
  await assert.rejects(store.getMessage(getRequest({ topic: 'T', subscription: { tags: [, 'a'] } })), { code: 'E_INVALID_ARGUMENT' });
  await assertUsable(store, 'sparse arrays');
});

test('regression: arguments without a prototype or with a throwing toString get E_INVALID_ARGUMENT, not a TypeError from String()', async (t) => {
  const store = await openStore(t);
  const bare = Object.create(null) as never;
  const hostile = { toString: () => { throw new Error('toString called'); } } as never;
  for (const odd of [bare, hostile]) {
    await assert.rejects(store.putMessage({ ...good, queueId: odd }), { code: 'E_INVALID_ARGUMENT' });
    await assert.rejects(store.putMessage({ ...good, bornTimestamp: odd }), { code: 'E_INVALID_ARGUMENT' });
    await assert.rejects(store.lookMessageByOffset(odd), { code: 'E_INVALID_ARGUMENT' });
    await assert.rejects(store.getMessage(getRequest({ offset: odd })), { code: 'E_INVALID_ARGUMENT' });
    await assert.rejects(store.queryMessage('T', odd, 1, 0, 1), { code: 'E_INVALID_ARGUMENT' });
    assert.throws(() => store.getMaxOffsetInQueue('T', odd), { code: 'E_INVALID_ARGUMENT' });
  }
  await assertUsable(store, 'prototype-less arguments');
});

test('regression: a bigint or a cyclic object in the configuration is E_CONFIG_INVALID, not a TypeError from JSON.stringify', async (t) => {
  const store = await openStore(t);
  const root = tempRoot(t);
  for (const odd of [10n, cyclic]) {
    await assert.rejects(store.updateConfig({ maxMessageSize: odd as never }), { code: 'E_CONFIG_INVALID' });
    await assert.rejects(MessageStore.open({ storePathRootDir: path.join(root, 'x'), maxMessageSize: odd as never }), { code: 'E_CONFIG_INVALID' });
  }
  await assertUsable(store, 'bigint configuration');
});

test('regression: configuration keys inherited from Object.prototype (toString, constructor, __proto__) are refused as unknown keys', async (t) => {
  const store = await openStore(t);
  const root = tempRoot(t);
  for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    await assert.rejects(MessageStore.open(JSON.parse(`{"storePathRootDir":${JSON.stringify(path.join(root, 'o'))},"${key}":1}`)), { code: 'E_CONFIG_INVALID' }, key);
    const file = path.join(root, `${key}.conf`);
    fs.writeFileSync(file, `${key}=1\n`, { mode: 0o644, flag: 'wx' });
    await assert.rejects(MessageStore.open({ storePathRootDir: path.join(root, 'f'), configFile: file }), { code: 'E_CONFIG_INVALID' }, `${key} in configFile`);
    await assert.rejects(store.updateConfig(JSON.parse(`{"${key}":1}`)), { code: 'E_CONFIG_INVALID' }, `updateConfig ${key}`);
  }
  assert.equal(fs.existsSync(path.join(root, 'o')), false);
  await assert.rejects(store.updateConfig([] as never), { code: 'E_CONFIG_INVALID' });
  await assertUsable(store, 'inherited keys');
});

test('regression: properties given as a Map are refused instead of silently dropped', async (t) => {
  const store = await openStore(t);
  await assert.rejects(store.putMessage({ ...good, properties: new Map([['a', 'b']]) as never }), { code: 'E_INVALID_ARGUMENT' });
  const bare = Object.assign(Object.create(null) as Record<string, string>, { a: 'b' });
  const result = await store.putMessage({ ...good, properties: bare });
  assert.equal((await store.lookMessageByOffset(result.appendMessageResult!.wroteOffset))?.properties['a'], 'b', 'a prototype-less object is a plain object');
});

test('regression: a string body with a lone surrogate is E_INVALID_ARGUMENT instead of being stored as U+FFFD', async (t) => {
  const store = await openStore(t);
  await assert.rejects(store.putMessage({ ...good, body: 'a\uD800' }), { code: 'E_INVALID_ARGUMENT' });
  await assert.rejects(store.putMessages({ topic: 'T', queueId: 0, messages: [{ body: 'ok' }, { body: '\uDFFFz' }] }), { code: 'E_INVALID_ARGUMENT' });
  const ok = await store.putMessage({ ...good, body: 'emoji \u{1F600}' });
  assert.equal((await store.lookMessageByOffset(ok.appendMessageResult!.wroteOffset))?.body.toString('utf8'), 'emoji \u{1F600}');
});

test('regression: storePathRootDir under /proc/self fails with E_STORE_DIR instead of hanging in mkdir', { skip: fs.existsSync('/proc/self') ? false : 'no /proc' }, async () => {
  const outcome = await settle(() => MessageStore.open({ storePathRootDir: '/proc/self/mqstore/store' }));
  assert.ok(!outcome.ok && outcome.error instanceof StoreError, 'refused with a StoreError');
  assert.equal(outcome.error.code, 'E_STORE_DIR');
});

test('regression: a storePathCommitLog that is a file or under a file is E_STORE_DIR, not E_WORKER_FAILED', async (t) => {
  const root = tempRoot(t);
  const file = path.join(root, 'a-file');
  fs.writeFileSync(file, 'x', { mode: 0o644, flag: 'wx' });
  for (const commitLog of [file, path.join(file, 'commitlog')]) {
    await assert.rejects(MessageStore.open({ storePathRootDir: path.join(root, 'store'), storePathCommitLog: commitLog }), { code: 'E_STORE_DIR' }, commitLog);
  }
  // The lock was released: the same root opens with a good CommitLog directory.
  const store = await MessageStore.open({ storePathRootDir: path.join(root, 'store'), storePathCommitLog: path.join(root, 'cl'), mappedFileSizeCommitLog: SEGMENT_BYTES });
  try {
    await assertUsable(store, 'a good storePathCommitLog');
  } finally {
    await store.close();
  }
});
