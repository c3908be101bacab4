// Goal: `mqstore verify <storeDir>` checks every CommitLog record and every consume queue unit,
// prints the number of records checked, and names each problem by file, position and physical
// offset with exit code 1.
// Method: a real store in a temp dir (small segments: several are checked in parallel); the bin
// run as a child process on the intact store, then on copies with one damaged byte.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, type AppendMessageResult } from '../../src/index.js';
import { segmentName } from '../../src/format/segment_name.js';
import { runCli as run, until } from '../support/cli.js';

const SEGMENT_BYTES = 4096;
const COUNT = 120;
const SLOTS = 16;
const ENTRIES = 200;

async function filledStore(t: TestContext): Promise<{ root: string; appends: AppendMessageResult[] }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-verify-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = await MessageStore.open({
    storePathRootDir: root,
    mappedFileSizeCommitLog: SEGMENT_BYTES,
    mappedFileSizeConsumeQueue: 400,
    maxHashSlotNum: SLOTS,
    maxIndexNum: ENTRIES,
  });
  const appends: AppendMessageResult[] = [];
  for (let i = 0; i < COUNT; i++) {
    appends.push((await store.putMessage({ topic: 'VerifyTopic', queueId: i % 3, body: `payload-${i}`, keys: `key-${i}` })).appendMessageResult!);
  }
  await until(() => store.dispatchBehindBytes() === 0 && [0, 1, 2].every((q) => store.getMaxOffsetInQueue('VerifyTopic', q) === COUNT / 3));
  await store.close();
  return { root, appends };
}

test('verify of an intact store counts every record and unit and exits 0', async (t) => {
  const { root } = await filledStore(t);
  const out = run('verify', root, '--threads', '2', '--slots', String(SLOTS), '--entries', String(ENTRIES));
  assert.equal(out.status, 0, out.stdout + out.stderr);
  assert.match(
    out.stdout,
    new RegExp(`^checked ${COUNT} records in \\d+ segment\\(s\\), .* GB/s\\); ${COUNT} consume queue units; ${COUNT} index entries; 0 problem\\(s\\)$`, 'm'),
  );
  // Not a terminal: progress comes as plain lines on stderr, the last segment always shown.
  const segments = /in (\d+) segment/.exec(out.stdout)![1];
  assert.match(out.stderr, new RegExp(`^verify: CommitLog ${segments}/${segments} segments, \\d+\\.\\d\\d GB, `, 'm'));
  assert.match(out.stderr, /^verify: consume queues against the CommitLog$/m);
  // Without the layout the index files cannot be read: said, not counted as a problem.
  const defaults = run('verify', root);
  assert.equal(defaults.status, 0);
  assert.match(defaults.stdout, /^NOTE .* pass --slots\/--entries to check it$/m);
});

test('a flipped body byte is named by segment file, position and physical offset; exit 1', async (t) => {
  const { root, appends } = await filledStore(t);
  const victim = appends.find((a) => a.wroteOffset >= SEGMENT_BYTES)!; // in the second segment
  const file = path.join(root, 'commitlog', segmentName(SEGMENT_BYTES));
  const position = victim.wroteOffset - SEGMENT_BYTES;
  const bytes = fs.readFileSync(file);
  bytes[position + 88 + 3] = bytes[position + 88 + 3]! ^ 0x01; // a body byte (IPv4 hosts: body at 88)
  fs.writeFileSync(file, bytes);
  const out = run('verify', root);
  assert.equal(out.status, 1);
  assert.ok(out.stdout.includes(`PROBLEM ${file} position ${position} physicalOffset ${victim.wroteOffset}: body CRC`), out.stdout);
});

test('a consume queue unit pointing at another message is named by its file and position; exit 1', async (t) => {
  const { root, appends } = await filledStore(t);
  const file = path.join(root, 'consumequeue', 'VerifyTopic', '0', '00000000000000000000');
  const bytes = fs.readFileSync(file);
  // Unit 1 of queue 0 now points at message 1 (queue 1): right size, wrong queue.
  bytes.writeBigInt64BE(BigInt(appends[1]!.wroteOffset), 20);
  bytes.writeInt32BE(appends[1]!.wroteBytes, 28);
  fs.writeFileSync(file, bytes);
  const out = run('verify', root);
  assert.equal(out.status, 1);
  assert.ok(out.stdout.includes(`PROBLEM ${file} position 20 physicalOffset ${appends[1]!.wroteOffset}: points at VerifyTopic/1`), out.stdout);
});

test('an index entry whose hash matches no key of its record is named by file and position; exit 1', async (t) => {
  const { root } = await filledStore(t);
  const [name] = fs.readdirSync(path.join(root, 'index'));
  const file = path.join(root, 'index', name!);
  const position = 40 + SLOTS * 4 + 5 * 20; // entry 5
  const bytes = fs.readFileSync(file);
  bytes.writeInt32BE(bytes.readInt32BE(position) ^ 0x1000, position);
  fs.writeFileSync(file, bytes);
  const out = run('verify', root, '--slots', String(SLOTS), '--entries', String(ENTRIES));
  assert.equal(out.status, 1);
  assert.match(out.stdout, new RegExp(`^PROBLEM ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} position ${position} physicalOffset \\d+: entry 5 key hash`, 'm'));
});

test('verify of a directory that is not a store exits 1; bad usage exits 2', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-verify-empty-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = run('verify', dir);
  assert.equal(out.status, 1);
  assert.match(out.stderr, /E_STORE_DIR/);
  assert.equal(run('verify').status, 2);
  assert.equal(run('verify', dir, '--threads', '0').status, 2, 'a bad option value is bad usage');
});
