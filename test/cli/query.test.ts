// Goal: `mqstore query <storeDir>` finds messages by key (through the index, collisions dropped),
// by offsetMsgId, by unique key, by CommitLog offset and by topic + queue + queue offset, prints
// them in mqadmin's layout (or --json), says "Message not found!" with exit 1, and refuses bad
// usage (2) and a directory that is not a store (1, E_ code); it reads a store open elsewhere.
// Method: a real store per test in a temp dir (tiny segments and index files: 16 slots, 20
// entries, so the index rolls and its layout must be inferred); the bin run as a child process.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, type AppendMessageResult } from '../../src/index.js';
import { indexKeyHash } from '../../src/format/hash_index.js';
import { segmentName } from '../../src/format/segment_name.js';
import { runCli as run, until } from '../support/cli.js';

const TOPIC = 'QueryTopic';
const OTHER_TOPIC = 'OtherTopic';
/** A client-style unique key: 32 hex digits, so it is first tried as an offsetMsgId. */
const UNIQ_KEY = '0A0B0C0D1234ABCDEF0123456789ABCD';
const FILLERS = 24;
const BORN_MS = 1700000000123;
const BORN_HOST = '10.0.0.7:4242';
const STORE_CONFIG = {
  mappedFileSizeCommitLog: 4096,
  mappedFileSizeConsumeQueue: 200,
  maxHashSlotNum: 16,
  maxIndexNum: 20,
};

interface FilledStore {
  root: string;
  /** Appends by name: m0 … m5, then k6 … (fillers, named by their key). */
  put: Map<string, AppendMessageResult>;
}

/**
 *   m0  QueryTopic q0  keys "shared Aa"  tags TagA  born at BORN_MS on BORN_HOST
 *   m1  QueryTopic q1  keys "shared"     tags TagB
 *   m2  QueryTopic q0  keys "BB"         (QueryTopic#BB has QueryTopic#Aa's Java hash)
 *   m3  QueryTopic q1  UNIQ_KEY
 *   m4  OtherTopic q0  keys "shared"
 *   m5  QueryTopic q0  keys "prepared"   sysFlag PREPARED (no consume queue unit)
 *   k6 … k29  QueryTopic q0/q1, 150-byte bodies: the log rolls past its first segment
 */
async function filledStore(t: TestContext): Promise<FilledStore> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-query-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = await MessageStore.open({ storePathRootDir: root, ...STORE_CONFIG });
  const put = new Map<string, AppendMessageResult>();
  const add = async (name: string, message: Parameters<MessageStore['putMessage']>[0]): Promise<void> => {
    const result = await store.putMessage(message);
    assert.ok(result.ok, `put ${name}`);
    put.set(name, result.appendMessageResult!);
  };
  const born = { bornTimestamp: BORN_MS, bornHost: BORN_HOST };
  await add('m0', { topic: TOPIC, queueId: 0, body: 'body-0', keys: ['shared', 'Aa'], tags: 'TagA', ...born });
  await add('m1', { topic: TOPIC, queueId: 1, body: 'body-1', keys: 'shared', tags: 'TagB' });
  await add('m2', { topic: TOPIC, queueId: 0, body: 'body-2', keys: 'BB' });
  await add('m3', { topic: TOPIC, queueId: 1, body: 'body-3', properties: { UNIQ_KEY } });
  await add('m4', { topic: OTHER_TOPIC, queueId: 0, body: 'other-shared', keys: 'shared' });
  await add('m5', { topic: TOPIC, queueId: 0, body: 'body-prepared', keys: 'prepared', sysFlag: 0x4 });
  for (let i = 6; i < 6 + FILLERS; i++) {
    // The last one is stored a few ms after the others: its index entry's time (whole seconds
    // after the file's first entry) is then below its store time.
    if (i === 5 + FILLERS) await new Promise((resolve) => setTimeout(resolve, 5));
    await add(`k${i}`, { topic: TOPIC, queueId: i % 2, body: `filler-${i}`.padEnd(150, '.'), keys: `k${i}` });
  }
  await until(
    () =>
      store.dispatchBehindBytes() === 0 &&
      store.getMaxOffsetInQueue(TOPIC, 0) === 2 + FILLERS / 2 &&
      store.getMaxOffsetInQueue(TOPIC, 1) === 2 + FILLERS / 2,
  );
  await store.close();
  return { root, put };
}

/** RocketMQ's timeMillisToHumanString2 (yyyy-MM-dd HH:mm:ss,SSS, local), built another way. */
function javaHumanTime(epochMs: number): string {
  const local = new Date(epochMs - new Date(epochMs).getTimezoneOffset() * 60_000);
  return local.toISOString().replace('T', ' ').replace('.', ',').replace('Z', '');
}

/** The message blocks of a text answer, each as label → value, and its count line. */
function blocks(stdout: string): { messages: Array<Map<string, string>>; countLine: string } {
  const parts = stdout.replace(/\n$/, '').split('\n\n');
  const countLine = parts.pop()!;
  const messages = parts.map((part) => new Map(part.split('\n').map((line) => [line.slice(0, 20).trim(), line.slice(21)])));
  return { messages, countLine };
}

function appendOf(store: FilledStore, name: string): AppendMessageResult {
  const append = store.put.get(name);
  assert.ok(append !== undefined, name);
  return append;
}

test('a key shared by two messages shows both in mqadmin layout, then a count line; other topics are left out', async (t) => {
  const store = await filledStore(t);
  const out = run('query', store.root, '--topic', TOPIC, '--key', 'shared');
  assert.equal(out.status, 0, out.stderr);
  const { messages, countLine } = blocks(out.stdout);
  assert.equal(countLine, '2 message(s) found');
  assert.deepEqual(messages.map((m) => m.get('Message Body:')), ['body-0', 'body-1']);
  const m0 = appendOf(store, 'm0');
  const expected = [
    `OffsetID:            ${m0.msgId}`,
    `Topic:               ${TOPIC}`,
    'Tags:                [TagA]',
    'Keys:                [shared Aa]',
    'Queue ID:            0',
    'Queue Offset:        0',
    `CommitLog Offset:    ${m0.wroteOffset}`,
    'Reconsume Times:     0',
    `Born Timestamp:      ${javaHumanTime(BORN_MS)}`,
    `Store Timestamp:     ${javaHumanTime(m0.storeTimestamp)}`,
    `Born Host:           ${BORN_HOST}`,
    'Store Host:          127.0.0.1:10911',
    'System Flag:         0',
    'Properties:          {TAGS=TagA, KEYS=shared Aa}',
    'Message Body:        body-0',
  ];
  assert.deepEqual(out.stdout.split('\n').slice(0, expected.length), expected);
  assert.equal(messages[1]!.get('Queue ID:'), '1');
  assert.equal(messages[1]!.get('OffsetID:'), appendOf(store, 'm1').msgId);
  assert.ok(!out.stdout.includes('other-shared'), 'the OtherTopic message with the same key is not shown');
});

test('a key whose topic#key has the same Java hash as another (Aa, BB) shows only its own message', async (t) => {
  const store = await filledStore(t);
  assert.equal(indexKeyHash(`${TOPIC}#Aa`), indexKeyHash(`${TOPIC}#BB`), 'the two keys collide');
  const aa = run('query', store.root, '--topic', TOPIC, '--key', 'Aa', '--no-body');
  assert.equal(aa.status, 0, aa.stderr);
  assert.deepEqual(blocks(aa.stdout).messages.map((m) => m.get('OffsetID:')), [appendOf(store, 'm0').msgId]);
  const bb = run('query', store.root, '--topic', TOPIC, '--key', 'BB', '--no-body');
  assert.equal(bb.status, 0, bb.stderr);
  assert.deepEqual(blocks(bb.stdout).messages.map((m) => m.get('OffsetID:')), [appendOf(store, 'm2').msgId]);
});

test('keys in the older and in the newer index file are both found; --max keeps the newest', async (t) => {
  const store = await filledStore(t);
  assert.equal(fs.readdirSync(path.join(store.root, 'index')).length, 2, 'the index rolled to a second file');
  for (const key of ['k6', `k${5 + FILLERS}`]) {
    const out = run('query', store.root, '--topic', TOPIC, '--key', key, '--no-body');
    assert.equal(out.status, 0, `${key}: ${out.stderr}`);
    assert.equal(blocks(out.stdout).messages[0]!.get('OffsetID:'), appendOf(store, key).msgId);
  }
  const one = run('query', store.root, '--topic', TOPIC, '--key', 'shared', '--max', '1');
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(blocks(one.stdout).messages.map((m) => m.get('Message Body:')), ['body-1']);
});

test('--begin and --end bound the store time of a key search', async (t) => {
  const store = await filledStore(t);
  const m0 = appendOf(store, 'm0');
  const m1 = appendOf(store, 'm1');
  const bounds = ['--begin', String(m0.storeTimestamp), '--end', String(m1.storeTimestamp)];
  const within = run('query', store.root, '--topic', TOPIC, '--key', 'shared', ...bounds);
  assert.equal(within.status, 0, within.stderr);
  assert.equal(blocks(within.stdout).countLine, '2 message(s) found');
  const before = run('query', store.root, '--topic', TOPIC, '--key', 'shared', '--end', String(m0.storeTimestamp - 1));
  assert.equal(before.status, 1);
  assert.equal(before.stdout, 'Message not found!\n');
  const last = appendOf(store, `k${5 + FILLERS}`);
  const exact = run('query', store.root, '--topic', TOPIC, '--key', `k${5 + FILLERS}`, '--begin', String(last.storeTimestamp));
  assert.equal(exact.status, 0, 'a begin equal to the store time finds the message although its index time is lower');
});

test('an offsetMsgId returned by putMessage finds its message; one that names no record start does not', async (t) => {
  const store = await filledStore(t);
  const m2 = appendOf(store, 'm2');
  for (const id of [m2.msgId, m2.msgId.toLowerCase()]) {
    const out = run('query', store.root, '--id', id);
    assert.equal(out.status, 0, out.stderr);
    const [message] = blocks(out.stdout).messages;
    assert.equal(message!.get('OffsetID:'), m2.msgId);
    assert.equal(message!.get('Message Body:'), 'body-2');
  }
  const inside = `${m2.msgId.slice(0, 16)}${(m2.wroteOffset + 4).toString(16).toUpperCase().padStart(16, '0')}`;
  const notStart = run('query', store.root, '--id', inside);
  assert.equal(notStart.status, 1);
  assert.equal(notStart.stdout, 'Message not found!\n');
  const otherHost = `0A000001${m2.msgId.slice(8)}`; // right offset, another broker's host
  assert.equal(run('query', store.root, '--id', otherHost).status, 1);
});

test('a unique key is found through the index with --topic; without --topic it is not, and the note says why', async (t) => {
  const store = await filledStore(t);
  const out = run('query', store.root, '--id', UNIQ_KEY, '--topic', TOPIC);
  assert.equal(out.status, 0, out.stderr);
  const [message] = blocks(out.stdout).messages;
  assert.equal(message!.get('OffsetID:'), appendOf(store, 'm3').msgId);
  assert.match(message!.get('Properties:')!, new RegExp(`UNIQ_KEY=${UNIQ_KEY}`));
  const noTopic = run('query', store.root, '--id', UNIQ_KEY);
  assert.equal(noTopic.status, 1);
  assert.equal(noTopic.stdout, 'Message not found!\n');
  assert.match(noTopic.stderr, /give --topic/);
  assert.equal(run('query', store.root, '--id', UNIQ_KEY, '--topic', OTHER_TOPIC).status, 1);
  // The unique-key path matches UNIQ_KEY only, not KEYS.
  assert.equal(run('query', store.root, '--id', 'shared', '--topic', TOPIC).status, 1);
});

test('a CommitLog offset shows the record starting there, a PREPARED one with its sysflag', async (t) => {
  const store = await filledStore(t);
  const m5 = appendOf(store, 'm5');
  const out = run('query', store.root, '--offset', String(m5.wroteOffset));
  assert.equal(out.status, 0, out.stderr);
  const [message] = blocks(out.stdout).messages;
  assert.equal(message!.get('CommitLog Offset:'), String(m5.wroteOffset));
  assert.equal(message!.get('System Flag:'), '4');
  assert.equal(message!.get('Message Body:'), 'body-prepared');
  const inside = run('query', store.root, '--offset', String(m5.wroteOffset + 1));
  assert.equal(inside.status, 1);
  assert.equal(inside.stdout, 'Message not found!\n');
  assert.equal(run('query', store.root, '--offset', String(m5.wroteOffset), '--topic', OTHER_TOPIC).status, 1);
  assert.equal(run('query', store.root, '--offset', '99999999').status, 1);
});

test('topic + queue + queue offset shows the message of that consume queue unit', async (t) => {
  const store = await filledStore(t);
  const out = run('query', store.root, '--topic', TOPIC, '--queue', '1', '--offset', '1');
  assert.equal(out.status, 0, out.stderr);
  const [message] = blocks(out.stdout).messages;
  assert.equal(message!.get('OffsetID:'), appendOf(store, 'm3').msgId);
  assert.equal(message!.get('Queue ID:'), '1');
  assert.equal(message!.get('Queue Offset:'), '1');
  const last = run('query', store.root, '--topic', TOPIC, '--queue', '0', '--offset', String(1 + FILLERS / 2), '--no-body');
  assert.equal(last.status, 0, last.stderr);
  assert.equal(blocks(last.stdout).messages[0]!.get('OffsetID:'), appendOf(store, `k${4 + FILLERS}`).msgId);
  const beyond = run('query', store.root, '--topic', TOPIC, '--queue', '0', '--offset', String(2 + FILLERS / 2));
  assert.equal(beyond.status, 1);
  assert.equal(beyond.stdout, 'Message not found!\n');
  assert.equal(run('query', store.root, '--topic', TOPIC, '--queue', '7', '--offset', '0').status, 1);
});

test('a message whose segment was deleted (retention) is not found by offset, queue offset or key', async (t) => {
  const store = await filledStore(t);
  const later = appendOf(store, `k${5 + FILLERS}`);
  assert.ok(later.wroteOffset >= STORE_CONFIG.mappedFileSizeCommitLog, 'the log rolled');
  fs.rmSync(path.join(store.root, 'commitlog', segmentName(0)));
  const lookups = [['--offset', '0'], ['--topic', TOPIC, '--queue', '0', '--offset', '0'], ['--topic', TOPIC, '--key', 'Aa']];
  for (const args of lookups) {
    const out = run('query', store.root, ...args);
    assert.equal(out.status, 1, args.join(' '));
    assert.equal(out.stdout, 'Message not found!\n');
  }
  assert.equal(run('query', store.root, '--offset', String(later.wroteOffset)).status, 0);
});

test('a record whose PHYSICALOFFSET is not its position, or a unit pointing at another message, is not shown', async (t) => {
  const store = await filledStore(t);
  const m1 = appendOf(store, 'm1');
  const m2 = appendOf(store, 'm2');
  // m2 (queue 0, queue offset 1): its PHYSICALOFFSET field (outside the body CRC) now lies.
  const segment = path.join(store.root, 'commitlog', segmentName(0));
  const bytes = fs.readFileSync(segment);
  bytes.writeBigInt64BE(BigInt(m2.wroteOffset + 1000), m2.wroteOffset + 28);
  fs.writeFileSync(segment, bytes);
  for (const args of [['--offset', String(m2.wroteOffset)], ['--id', m2.msgId]]) {
    const out = run('query', store.root, ...args);
    assert.equal(out.status, 1, args.join(' '));
    assert.match(out.stderr, /states PHYSICALOFFSET|not the offsetMsgId/);
  }
  // Unit 0 of queue 0 (m0) now points at m1, a record of queue 1.
  const queueFile = path.join(store.root, 'consumequeue', TOPIC, '0', segmentName(0));
  const units = fs.readFileSync(queueFile);
  units.writeBigInt64BE(BigInt(m1.wroteOffset), 0);
  units.writeInt32BE(m1.wroteBytes, 8);
  fs.writeFileSync(queueFile, units);
  const unit = run('query', store.root, '--topic', TOPIC, '--queue', '0', '--offset', '0');
  assert.equal(unit.status, 1);
  assert.equal(unit.stdout, 'Message not found!\n');
  assert.match(unit.stderr, /not this unit's message/);
});

test('--json prints one parsable array (body base64, left out with --no-body); --hex prints the body as hex', async (t) => {
  const store = await filledStore(t);
  const out = run('query', store.root, '--topic', TOPIC, '--key', 'shared', '--json');
  assert.equal(out.status, 0, out.stderr);
  const messages = JSON.parse(out.stdout) as Array<Record<string, unknown>>;
  assert.equal(messages.length, 2);
  assert.equal(messages[0]!.msgId, appendOf(store, 'm0').msgId);
  assert.equal(messages[0]!.commitLogOffset, appendOf(store, 'm0').wroteOffset);
  assert.equal(messages[0]!.tags, 'TagA');
  assert.deepEqual(messages[0]!.keys, ['shared', 'Aa']);
  assert.deepEqual(messages[0]!.properties, { TAGS: 'TagA', KEYS: 'shared Aa' });
  assert.equal(Buffer.from(messages[1]!.bodyBase64 as string, 'base64').toString('utf8'), 'body-1');
  const noBodyOut = run('query', store.root, '--offset', '0', '--json', '--no-body');
  const noBody = JSON.parse(noBodyOut.stdout) as Array<Record<string, unknown>>;
  assert.equal(noBody.length, 1);
  assert.ok(!('bodyBase64' in noBody[0]!));
  const hex = run('query', store.root, '--offset', '0', '--hex');
  assert.equal(blocks(hex.stdout).messages[0]!.get('Message Body:'), Buffer.from('body-0').toString('hex'));
});

test('the index layout can be given; a layout that does not fit the files is an error', async (t) => {
  const store = await filledStore(t);
  const given = run('query', store.root, '--topic', TOPIC, '--key', 'Aa', '--slots', '16', '--entries', '20', '--no-body');
  assert.equal(given.status, 0, given.stderr);
  assert.equal(blocks(given.stdout).messages[0]!.get('OffsetID:'), appendOf(store, 'm0').msgId);
  const wrong = run('query', store.root, '--topic', TOPIC, '--key', 'Aa', '--slots', '17', '--entries', '20');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /^mqstore: E_INVALID_ARGUMENT: index file .* --slots 17 --entries 20 do not account for it/);
  // 11 slots and 21 entries also make 504 bytes, but the entries are not where that layout has them.
  const misfit = run('query', store.root, '--topic', TOPIC, '--key', 'Aa', '--entries', '21');
  assert.match(misfit.stderr, /entries do not agree with 11 slots and 21 entries/);
});

test('a key nobody has prints "Message not found!" and exits 1', async (t) => {
  const store = await filledStore(t);
  const out = run('query', store.root, '--topic', TOPIC, '--key', 'nobody');
  assert.equal(out.status, 1);
  assert.equal(out.stdout, 'Message not found!\n');
});

test('bad usage exits 2; a directory that is not a store exits 1 with E_STORE_DIR', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-query-empty-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const usages = [
    [dir],
    [dir, '--topic', TOPIC],
    [dir, '--topic', TOPIC, '--key', 'a', '--offset', '0'],
    [dir, '--id', 'x', '--offset', '0'],
    [dir, '--key', 'a'],
    [dir, '--id', 'not-hex'],
    [dir, '--queue', '0', '--offset', '0'],
    [dir, '--offset', 'abc'],
    [dir, '--offset', '0', '--max', '3'],
    [dir, '--topic', TOPIC, '--key', 'a', '--max', '0'],
    [dir, '--topic', TOPIC, '--key', 'a', '--begin', '10', '--end', '5'],
  ];
  for (const args of usages) {
    const out = run('query', ...args);
    assert.equal(out.status, 2, `${args.slice(1).join(' ')}: ${out.stderr}`);
    assert.match(out.stderr, /error/);
  }
  const notStore = run('query', dir, '--offset', '0');
  assert.equal(notStore.status, 1);
  assert.match(notStore.stderr, /^mqstore: E_STORE_DIR: /);
  assert.equal(run('query', path.join(dir, 'missing'), '--topic', TOPIC, '--key', 'a').status, 1);
});

test('a store open in this process (its lock held) can be queried', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-query-open-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = await MessageStore.open({ storePathRootDir: root, ...STORE_CONFIG });
  try {
    const append = (await store.putMessage({ topic: TOPIC, queueId: 0, body: 'live', keys: 'live-key' })).appendMessageResult!;
    const out = run('query', root, '--id', append.msgId);
    assert.equal(out.status, 0, out.stderr);
    assert.equal(blocks(out.stdout).messages[0]!.get('Message Body:'), 'live');
    // The index reaches the disk a little later (the dispatcher commits it in batches).
    const deadline = performance.now() + 10_000;
    let byKey = run('query', root, '--topic', TOPIC, '--key', 'live-key');
    while (byKey.status !== 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      byKey = run('query', root, '--topic', TOPIC, '--key', 'live-key');
    }
    assert.equal(byKey.status, 0, byKey.stdout + byKey.stderr);
    assert.equal(blocks(byKey.stdout).messages[0]!.get('OffsetID:'), append.msgId);
  } finally {
    await store.close();
  }
});
