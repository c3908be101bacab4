// Goal: `mqstore dump index <indexFile>` prints the header and every entry of an index file,
// checks the layout against the file size, and with --key/--topic walks one key's chain
// (colliding keys Aa/BB share it); bad entries exit 1, bad usage 2.
// Method: a real store in a temp dir with a tiny index (16 slots, 100 entries); the bin runs as
// a child process; the header and every entry are checked against the put results.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, type AppendMessageResult } from '../../src/index.js';
import { entryPosition, ENTRY_POS_PREV_INDEX, indexKeyHash } from '../../src/format/hash_index.js';
import { runCli as run, until } from '../support/cli.js';

const TOPIC = 'IdxTopic';
const SLOTS = 16;
const ENTRIES = 100;
/** One key per message, in put order: k0 … k19, then the colliding pair. */
const KEYS = [...Array.from({ length: 20 }, (_, i) => `k${i}`), 'Aa', 'BB'];

let root = '';
let indexFile = '';
const appends: AppendMessageResult[] = [];



before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-dump-index-'));
  const store = await MessageStore.open({
    storePathRootDir: root,
    mappedFileSizeCommitLog: 8192,
    mappedFileSizeConsumeQueue: 200,
    maxHashSlotNum: SLOTS,
    maxIndexNum: ENTRIES,
  });
  for (const key of KEYS) {
    const result = await store.putMessage({ topic: TOPIC, queueId: 0, body: `body-${key}`, keys: [key] });
    appends.push(result.appendMessageResult!);
  }
  await until(() => store.dispatchBehindBytes() === 0 && store.getMaxOffsetInQueue(TOPIC, 0, true) === KEYS.length);
  await store.close();
  const names = fs.readdirSync(path.join(root, 'index')).filter((name) => /^\d{17}$/.test(name));
  assert.equal(names.length, 1, 'all keys fit one index file');
  indexFile = path.join(root, 'index', names[0]!);
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

/** The entry lines the dump must print: RocketMQ's putKey replayed on the put results. */
function expectedEntries(): string[] {
  const slotNewest = new Map<number, number>();
  const beginTimestamp = appends[0]!.storeTimestamp;
  return KEYS.map((key, i) => {
    const keyHash = indexKeyHash(`${TOPIC}#${key}`);
    const slot = keyHash % SLOTS;
    const prevIndex = slotNewest.get(slot) ?? 0;
    slotNewest.set(slot, i + 1);
    const append = appends[i]!;
    const timeDiff = i === 0 ? 0 : Math.trunc((append.storeTimestamp - beginTimestamp) / 1000);
    return `index: ${i + 1} keyHash: ${keyHash} physicalOffset: ${append.wroteOffset} timeDiff: ${timeDiff} prevIndex: ${prevIndex}`;
  });
}

test('dump index prints the header and every entry 1 … indexCount − 1, then a summary', () => {
  const out = run('dump', 'index', indexFile, '--slots', String(SLOTS), '--entries', String(ENTRIES));
  assert.equal(out.status, 0, out.stderr);
  const lines = out.stdout.trim().split('\n');
  const sizeBytes = 40 + SLOTS * 4 + ENTRIES * 20;
  assert.equal(lines[0], `file: ${indexFile} sizeBytes: ${sizeBytes} hashSlotNum: ${SLOTS} indexNum: ${ENTRIES}`);
  const slotsUsed = new Set(KEYS.map((key) => indexKeyHash(`${TOPIC}#${key}`) % SLOTS)).size;
  assert.equal(
    lines[1],
    `beginTimestamp: ${appends[0]!.storeTimestamp} endTimestamp: ${appends.at(-1)!.storeTimestamp} ` +
      `beginPhyOffset: ${appends[0]!.wroteOffset} endPhyOffset: ${appends.at(-1)!.wroteOffset} ` +
      `hashSlotCount: ${slotsUsed} indexCount: ${KEYS.length + 1}`,
  );
  assert.deepEqual(lines.slice(2, -1), expectedEntries());
  assert.equal(lines.at(-1), `entries ${KEYS.length}, slotsUsed ${slotsUsed}, invalid 0`);
});

test('--key/--topic walks the chain of topic#key; the colliding keys Aa and BB both match', () => {
  const aa = appends[KEYS.indexOf('Aa')]!;
  const bb = appends[KEYS.indexOf('BB')]!;
  const keyHash = indexKeyHash(`${TOPIC}#Aa`);
  assert.equal(keyHash, indexKeyHash(`${TOPIC}#BB`), 'Aa and BB collide');
  const out = run('dump', 'index', indexFile, '--slots', String(SLOTS), '--entries', String(ENTRIES), '--key', 'Aa', '--topic', TOPIC);
  assert.equal(out.status, 0, out.stderr);
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines[2], `key: "${TOPIC}#Aa" keyHash: ${keyHash} slot: ${keyHash % SLOTS} position: ${40 + (keyHash % SLOTS) * 4} slotValue: ${KEYS.length}`);
  const chain = lines.slice(3, -1);
  // The chain runs newest first: BB (entry 22), Aa (entry 21), then older keys of the same slot.
  const expected = expectedEntries();
  assert.equal(chain[0], `${expected[21]} match: yes`);
  assert.equal(chain[1], `${expected[20]} match: yes`);
  const older = KEYS.slice(0, 20).flatMap((key, i) => (indexKeyHash(`${TOPIC}#${key}`) % SLOTS === keyHash % SLOTS ? [i] : []));
  assert.deepEqual(chain.slice(2), older.reverse().map((i) => `${expected[i]} match: no`));
  assert.equal(lines.at(-1), `matches 2: ${bb.wroteOffset} ${aa.wroteOffset}`);

  const single = run('dump', 'index', indexFile, '--slots', String(SLOTS), '--key', 'k7', '--topic', TOPIC);
  assert.equal(single.status, 0, single.stderr);
  assert.equal(single.stdout.trim().split('\n').at(-1), `matches 1: ${appends[7]!.wroteOffset}`);
  const none = run('dump', 'index', indexFile, '--slots', String(SLOTS), '--key', 'k7', '--topic', 'OtherTopic');
  assert.equal(none.stdout.trim().split('\n').at(-1), 'matches 0:');
});

test('the layout must match the file size: defaults or --slots/--entries, else exit 1', () => {
  const defaults = run('dump', 'index', indexFile);
  assert.equal(defaults.status, 1);
  assert.match(defaults.stderr, /^mqstore: E_INVALID_ARGUMENT: .* is 2104 bytes, but the default layout needs .* = 420000040 bytes/);
  assert.match(defaults.stderr, /--slots and --entries/);
  const wrong = run('dump', 'index', indexFile, '--slots', String(SLOTS), '--entries', '99');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /E_INVALID_ARGUMENT: .* is 2104 bytes, but --slots 16 --entries 99 needs .* = 2084 bytes/);
  const derived = run('dump', 'index', indexFile, '--entries', String(ENTRIES));
  assert.equal(derived.status, 0, derived.stderr);
  assert.match(derived.stdout, /^file: .* hashSlotNum: 16 indexNum: 100$/m);
});

test('an entry whose prevIndex is not below its own number is INVALID, and the exit code is 1', (t) => {
  const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-dump-index-bad-')), 'index');
  t.after(() => fs.rmSync(path.dirname(copy), { recursive: true, force: true }));
  const bytes = fs.readFileSync(indexFile);
  const at = entryPosition(SLOTS, 5);
  bytes.writeInt32BE(9, at + ENTRY_POS_PREV_INDEX);
  fs.writeFileSync(copy, bytes);
  const out = run('dump', 'index', copy, '--slots', String(SLOTS), '--entries', String(ENTRIES));
  assert.equal(out.status, 1);
  assert.match(out.stdout, new RegExp(`^INVALID index: 5 .* prevIndex: 9 position: ${at}: prevIndex 9 is not in \\[0, 5\\)$`, 'm'));
  assert.equal(out.stdout.trim().split('\n').at(-1)!.endsWith('invalid 1'), true);
});

test('bad usage exits 2, a missing file exits 1, --help exits 0', () => {
  assert.equal(run('dump', 'index').status, 2, 'the file is required');
  const keyOnly = run('dump', 'index', indexFile, '--slots', String(SLOTS), '--key', 'Aa');
  assert.equal(keyOnly.status, 2);
  assert.match(keyOnly.stderr, /--key and --topic go together/);
  assert.equal(run('dump', 'index', indexFile, '--bogus').status, 2);
  assert.equal(run('dump', 'index', indexFile, '--slots', 'x').status, 2, 'a bad option value is bad usage');
  const missing = run('dump', 'index', path.join(os.tmpdir(), 'mqstore-no-such-index'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /E_INVALID_ARGUMENT/);
  const help = run('dump', 'index', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--key <key>/);
  assert.match(help.stdout, /--slots <count>/);
});
