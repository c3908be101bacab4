// Goal: `mqstore dump commitlog` prints every field of every record of a segment or of a whole
// commitlog directory, shows BLANK records and the zero tail, honours --from/--to/--print-body/
// --hex, and names a bad record by file, position and physical offset with exit code 1.
// Method: a real store in a temp dir (small segments so the log rolls with a BLANK); the bin is
// run as a child process and its output and exit code checked.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, type PutMessageResult } from '../../src/index.js';
import { runCli as run } from '../support/cli.js';

const SEGMENT_BYTES = 4096;


async function filledStore(t: TestContext): Promise<{ root: string; results: PutMessageResult[] }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-dump-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES });
  const results: PutMessageResult[] = [];
  for (let i = 0; i < 40; i++) {
    results.push(await store.putMessage({ topic: 'DumpTopic', queueId: i % 2, body: `body-${i}`, tags: 'TagA', keys: [`k${i}`] }));
  }
  await store.close();
  return { root, results };
}

test('dump commitlog prints every record of a directory in order, with BLANKs, and a summary', async (t) => {
  const { root, results } = await filledStore(t);
  const out = run('dump', 'commitlog', path.join(root, 'commitlog'));
  assert.equal(out.status, 0, out.stderr);
  const lines = out.stdout.trim().split('\n');
  const records = lines.filter((line) => line.startsWith('physicalOffset:') && line.includes(' magic: '));
  assert.equal(records.length, 40);
  for (const [i, result] of results.entries()) {
    const line = records[i]!;
    const append = result.appendMessageResult!;
    assert.ok(line.startsWith(`physicalOffset: ${append.wroteOffset} size: ${append.wroteBytes} magic: V1 `), line);
    assert.ok(line.includes(` queueId: ${i % 2} `), line);
    assert.ok(line.includes(` queueOffset: ${append.logicsOffset} `), line);
    assert.ok(line.includes(` msgId: ${append.msgId} `), line);
    assert.ok(line.includes(' topic: "DumpTopic" '), line);
    assert.ok(line.includes(`"KEYS":"k${i}"`), line);
  }
  assert.ok(lines.some((line) => / BLANK size: \d+$/.test(line)), 'the segment roll shows a BLANK');
  assert.match(lines.at(-1)!, /^records 40, invalid 0, segments \d+$/);
  assert.ok(!out.stdout.includes('body: '), 'bodies only with --print-body');
});

test('dump commitlog of one segment with --from/--to and --print-body [--hex]', async (t) => {
  const { root, results } = await filledStore(t);
  const first = path.join(root, 'commitlog', '00000000000000000000');
  const second = results[1]!.appendMessageResult!;
  const third = results[2]!.appendMessageResult!;
  const out = run('dump', 'commitlog', first, '--from', String(second.wroteOffset), '--to', String(third.wroteOffset + 1), '--print-body');
  assert.equal(out.status, 0, out.stderr);
  const records = out.stdout.split('\n').filter((line) => line.includes(' magic: '));
  assert.deepEqual(
    records.map((line) => /body: (".*")$/.exec(line)![1]),
    ['"body-1"', '"body-2"'],
  );
  const hex = run('dump', 'commitlog', first, '--to', '1', '--print-body', '--hex');
  assert.ok(hex.stdout.includes(`body: ${Buffer.from('body-0').toString('hex')}`), hex.stdout);
});

test('a damaged record is named by file, position and physical offset, and the exit code is 1', async (t) => {
  const { root, results } = await filledStore(t);
  const victim = results[3]!.appendMessageResult!;
  const file = path.join(root, 'commitlog', '00000000000000000000');
  const bytes = fs.readFileSync(file);
  const bodyAt = victim.wroteOffset + 88 + 2; // inside the body (IPv4 hosts: the body starts at 88)
  bytes[bodyAt] = bytes[bodyAt]! ^ 0xff;
  fs.writeFileSync(file, bytes);
  const out = run('dump', 'commitlog', path.join(root, 'commitlog'));
  assert.equal(out.status, 1);
  assert.ok(
    out.stdout.includes(`INVALID file: ${file} position: ${victim.wroteOffset} physicalOffset: ${victim.wroteOffset}: `),
    out.stdout,
  );
  assert.match(out.stdout.trim().split('\n').at(-1)!, /^records 3, invalid 1, /);
});

test('bad usage exits 2; a missing path exits 1 with a StoreError code', () => {
  assert.equal(run('dump', 'nosuchtype').status, 2);
  assert.equal(run('dump', 'commitlog').status, 2, 'the path is required');
  assert.equal(run('dump', 'commitlog', '/tmp', '--from', 'x').status, 2, 'a bad option value is bad usage');
  const missing = run('dump', 'commitlog', path.join(os.tmpdir(), 'mqstore-no-such-dir'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /E_INVALID_ARGUMENT/);
  const help = run('dump', 'commitlog', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--print-body/);
});
