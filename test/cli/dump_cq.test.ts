// Goal: `mqstore dump cq <storeDir> <topic> <queueId>` prints every unit of a consume queue
// (queue offset, file, position, physical offset, size, tags code, filler or not), stops at the
// first zero unit, honours --from/--to, and names a bad unit by file and position with exit 1.
// Method: a real store in a temp dir with 200-byte queue files (10 units each, so the queue spans
// three files); the bin runs as a child process; every line is checked against the put results.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, type AppendMessageResult } from '../../src/index.js';
import { writeConsumeQueueEntry, CQ_FILLER_SIZE_BYTES } from '../../src/format/consume_queue_entry.js';
import { javaStringHashCode } from '../../src/format/java_hash.js';
import { segmentName } from '../../src/format/segment_name.js';
import { topicDirName } from '../../src/format/topic_dir.js';
import { runCli as run, until } from '../support/cli.js';

const CQ_FILE_BYTES = 200;
const TOPIC = 'CqTopic';
const ODD_TOPIC = 'a/b évènement';
const QUEUE0_COUNT = 25;

interface Put {
  append: AppendMessageResult;
  tags: string | undefined;
}

let root = '';
const queue0: Put[] = [];
const oddQueue: Put[] = [];



before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-dump-cq-'));
  const store = await MessageStore.open({
    storePathRootDir: root,
    mappedFileSizeCommitLog: 8192,
    mappedFileSizeConsumeQueue: CQ_FILE_BYTES,
    maxHashSlotNum: 16,
    maxIndexNum: 100,
    messageIndexEnable: false,
  });
  for (let i = 0; i < QUEUE0_COUNT; i++) {
    const tags = i % 3 === 2 ? undefined : `Tag${i % 4}`;
    const result = await store.putMessage({ topic: TOPIC, queueId: 0, body: `body-${i}`, ...(tags === undefined ? {} : { tags }) });
    queue0.push({ append: result.appendMessageResult!, tags });
    if (i % 5 === 0) await store.putMessage({ topic: TOPIC, queueId: 1, body: `other-${i}`, tags: 'TagB' });
    if (i % 8 === 0) {
      const odd = await store.putMessage({ topic: ODD_TOPIC, queueId: 3, body: `odd-${i}`, tags: 'Odd' });
      oddQueue.push({ append: odd.appendMessageResult!, tags: 'Odd' });
    }
  }
  await until(
    () =>
      store.dispatchBehindBytes() === 0 &&
      store.getMaxOffsetInQueue(TOPIC, 0, true) === QUEUE0_COUNT &&
      store.getMaxOffsetInQueue(ODD_TOPIC, 3, true) === oddQueue.length,
  );
  await store.close();
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

function expectedLine(put: Put): string {
  const bytePosition = put.append.logicsOffset * 20;
  const file = segmentName(bytePosition - (bytePosition % CQ_FILE_BYTES));
  const tagsCode = put.tags === undefined ? 0 : javaStringHashCode(put.tags);
  return (
    `queueOffset: ${put.append.logicsOffset} file: ${file} position: ${bytePosition % CQ_FILE_BYTES} ` +
    `physicalOffset: ${put.append.wroteOffset} size: ${put.append.wroteBytes} tagsCode: ${tagsCode} filler: no`
  );
}

function unitLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('queueOffset:') && !line.includes(' end: '));
}

/** A copy of the store whose queue 0 file `name` has `mutate` applied. */
function damagedCopy(name: string, mutate: (bytes: Buffer) => void): { copy: string; file: string } {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-dump-cq-bad-'));
  fs.cpSync(root, copy, { recursive: true });
  const file = path.join(copy, 'consumequeue', TOPIC, '0', name);
  const bytes = fs.readFileSync(file);
  mutate(bytes);
  fs.writeFileSync(file, bytes);
  return { copy, file };
}

test('dump cq prints every unit of a queue across its files, the end, and a summary', () => {
  const out = run('dump', 'cq', root, TOPIC, '0');
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(unitLines(out.stdout), queue0.map(expectedLine));
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines[0], `queue: ${path.join(root, 'consumequeue', TOPIC, '0')} topic: "${TOPIC}" queueId: 0 files: 3`);
  assert.equal(lines.at(-2), `queueOffset: ${QUEUE0_COUNT} file: 00000000000000000400 position: 100 end: zero unit (unwritten tail)`);
  assert.equal(lines.at(-1), `units ${QUEUE0_COUNT}, fillers 0, invalid 0, minQueueOffset 0, maxQueueOffset ${QUEUE0_COUNT - 1}`);
});

test('dump cq finds a topic that is not a plain directory name through its encoded directory', () => {
  const out = run('dump', 'cq', root, ODD_TOPIC, '3');
  assert.equal(out.status, 0, out.stderr);
  assert.ok(out.stdout.startsWith(`queue: ${path.join(root, 'consumequeue', topicDirName(ODD_TOPIC), '3')} `), out.stdout);
  assert.ok(topicDirName(ODD_TOPIC).startsWith('%MQST%'));
  assert.deepEqual(unitLines(out.stdout), oddQueue.map(expectedLine));
});

test('dump cq --from/--to prints only that queue-offset range, across a file boundary', () => {
  const out = run('dump', 'cq', root, TOPIC, '0', '--from', '8', '--to', '12');
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(unitLines(out.stdout), queue0.slice(8, 12).map(expectedLine));
  assert.equal(out.stdout.trim().split('\n').at(-1), 'units 4, fillers 0, invalid 0, minQueueOffset 8, maxQueueOffset 11');
});

test('a unit with a negative physical offset is INVALID with file and position, and the exit code is 1', (t) => {
  // Queue offset 13 is unit 3 of file 00000000000000000200: position 60.
  const { copy, file } = damagedCopy('00000000000000000200', (bytes) => {
    bytes.writeBigInt64BE(-1n, 60);
  });
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  const out = run('dump', 'cq', copy, TOPIC, '0');
  assert.equal(out.status, 1);
  assert.match(out.stdout, new RegExp(`^INVALID queueOffset: 13 file: ${escape(file)} position: 60 physicalOffset: -1 .*: physicalOffset -1 < 0$`, 'm'));
  assert.equal(unitLines(out.stdout).length, QUEUE0_COUNT - 1, 'the units after it still line up and are printed');
  assert.match(out.stdout.trim().split('\n').at(-1)!, /^units 24, fillers 0, invalid 1, /);
});

test('a unit pointing below the previous unit\'s end is INVALID', (t) => {
  const victim = queue0[5]!.append;
  const earlier = queue0[3]!.append;
  const { copy, file } = damagedCopy('00000000000000000000', (bytes) => {
    bytes.writeBigInt64BE(BigInt(earlier.wroteOffset), 5 * 20);
  });
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  const out = run('dump', 'cq', copy, TOPIC, '0');
  assert.equal(out.status, 1);
  assert.ok(
    out.stdout.includes(
      `INVALID queueOffset: 5 file: ${file} position: 100 physicalOffset: ${earlier.wroteOffset} size: ${victim.wroteBytes} `,
    ),
    out.stdout,
  );
  assert.match(out.stdout, /is below the previous unit's end \d+$/m);
});

test('filler units at the start of a queue are shown as fillers and not counted as units', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-dump-cq-filler-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const queueDir = path.join(dir, 'consumequeue', 'Late', '0');
  fs.mkdirSync(queueDir, { recursive: true });
  const bytes = Buffer.alloc(CQ_FILE_BYTES);
  writeConsumeQueueEntry(bytes, 0, { physicalOffset: 0, sizeBytes: CQ_FILLER_SIZE_BYTES, tagsCode: 0 });
  writeConsumeQueueEntry(bytes, 20, { physicalOffset: 0, sizeBytes: CQ_FILLER_SIZE_BYTES, tagsCode: 0 });
  writeConsumeQueueEntry(bytes, 40, { physicalOffset: 4096, sizeBytes: 150, tagsCode: -7 });
  fs.writeFileSync(path.join(queueDir, segmentName(0)), bytes);
  const out = run('dump', 'cq', dir, 'Late', '0');
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(unitLines(out.stdout), [
    'queueOffset: 0 file: 00000000000000000000 position: 0 physicalOffset: 0 size: 2147483647 tagsCode: 0 filler: yes',
    'queueOffset: 1 file: 00000000000000000000 position: 20 physicalOffset: 0 size: 2147483647 tagsCode: 0 filler: yes',
    'queueOffset: 2 file: 00000000000000000000 position: 40 physicalOffset: 4096 size: 150 tagsCode: -7 filler: no',
  ]);
  assert.equal(out.stdout.trim().split('\n').at(-1), 'units 1, fillers 2, invalid 0, minQueueOffset 2, maxQueueOffset 2');
});

test('a missing queue exits 1 with a StoreError code; bad usage exits 2; --help exits 0', () => {
  const missing = run('dump', 'cq', root, TOPIC, '7');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^mqstore: E_INVALID_ARGUMENT: no consume queue for topic "CqTopic" queue 7/);
  assert.equal(run('dump', 'cq', root, 'NoSuchTopic', '0').status, 1);
  assert.equal(run('dump', 'cq', root, TOPIC).status, 2, 'the queue id is required');
  assert.equal(run('dump', 'cq', root, TOPIC, '0', '--bogus').status, 2);
  assert.equal(run('dump', 'cq', root, TOPIC, 'x').status, 2, 'a bad queue id is bad usage');
  const help = run('dump', 'cq', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /<storeDir> <topic> <queueId>/);
  assert.match(help.stdout, /--from/);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
