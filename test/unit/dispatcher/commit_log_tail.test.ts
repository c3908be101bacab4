// Goal: CommitLogTail hands the dispatcher every CommitLog record once, in order, with the right dispatch fields, within the limit.
// Method: a real store writes a small-segment CommitLog (tags, keys, UNIQ_KEY, a batch, a prepared record); decodeMessages is the oracle; copies are corrupted or trimmed per test.

import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore, decodeMessages, type MessageExt } from '../../../src/index.js';
import { CommitLogTail, type DispatchRequest } from '../../../src/dispatcher/commit_log_tail.js';
import { FsStorage } from '../../../src/io/storage_fs.js';
import { StoreError } from '../../../src/errors.js';

const SEGMENT_BYTES = 4096;
const TAG1_TAGS_CODE = 2567159;
const storage = new FsStorage();

let templateRoot = '';
/** Every record of the template CommitLog, decoded with CRC checks. */
let oracle: MessageExt[] = [];
let maxPhysicalOffset = 0;

function segmentPath(commitLogDir: string, startOffset: number): string {
  return path.join(commitLogDir, String(startOffset).padStart(20, '0'));
}

before(async () => {
  templateRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-tail-'));
  const store = await MessageStore.open({ storePathRootDir: templateRoot, mappedFileSizeCommitLog: SEGMENT_BYTES });
  try {
    for (let index = 0; index < 40; index += 1) {
      const result = await store.putMessage({
        topic: index % 3 === 0 ? 'TopicB' : 'TopicA',
        queueId: index % 2,
        body: 'x'.repeat(100 + ((index * 37) % 200)),
        tags: index % 4 === 0 ? undefined : `TAG${(index % 3) + 1}`,
        keys: index % 5 === 0 ? undefined : [`key-${index}`, `k${index}`],
        properties: { UNIQ_KEY: `UNIQ${String(index).padStart(4, '0')}`, color: 'blue' },
      });
      assert.ok(result.ok, `put ${index}`);
      if (index === 10) {
        const batch = await store.putMessages({
          topic: 'TopicA',
          queueId: 1,
          messages: [
            { body: 'batch-0', tags: 'TAG1', keys: 'bk0' },
            { body: 'batch-1', tags: 'TAG2', keys: ['bk1', 'bk1b'] },
            { body: 'batch-2' },
          ],
        });
        assert.ok(batch.ok, 'batch put');
      }
      if (index === 20) {
        const prepared = await store.putMessage({ topic: 'TopicA', queueId: 0, body: 'half', tags: 'TAG1', keys: 'txkey', sysFlag: 0x4 });
        assert.ok(prepared.ok, 'prepared put');
      }
    }
    maxPhysicalOffset = store.getMaxPhyOffset();
  } finally {
    await store.close();
  }
  const commitLogDir = path.join(templateRoot, 'commitlog');
  for (const name of fs.readdirSync(commitLogDir).sort()) {
    oracle.push(...decodeMessages(fs.readFileSync(path.join(commitLogDir, name)), true));
  }
});

after(() => {
  fs.rmSync(templateRoot, { recursive: true, force: true });
});

/** A fresh copy of the template CommitLog directory, removed after the test. */
function copyCommitLog(t: TestContext): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-tail-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const commitLogDir = path.join(root, 'commitlog');
  fs.cpSync(path.join(templateRoot, 'commitlog'), commitLogDir, { recursive: true });
  return commitLogDir;
}

function openTail(t: TestContext, commitLogDir: string, fromPhysicalOffset = 0): CommitLogTail {
  const tail = new CommitLogTail(storage, { commitLogDir, segmentSizeBytes: SEGMENT_BYTES }, fromPhysicalOffset);
  t.after(() => tail.close());
  return tail;
}

function expected(message: MessageExt): DispatchRequest {
  return {
    topic: message.topic,
    queueId: message.queueId,
    queueOffset: message.queueOffset,
    physicalOffset: message.commitLogOffset,
    sizeBytes: message.storeSize,
    tagsCode: message.tags === undefined ? 0 : javaHash(message.tags),
    keys: message.keys,
    uniqKey: message.properties['UNIQ_KEY'],
    storeTimestamp: message.storeTimestamp,
    sysFlag: message.sysFlag,
  };
}

/** Java String.hashCode, independent of the code under test. */
function javaHash(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index += 1) hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  return hash;
}

function ends(message: MessageExt): number {
  return message.commitLogOffset + message.storeSize;
}

test('the template log rolls several segments and holds every kind of record', () => {
  assert.ok(maxPhysicalOffset > 3 * SEGMENT_BYTES, `log of ${maxPhysicalOffset} bytes spans at least four segments`);
  assert.equal(oracle.length, 40 + 3 + 1);
  assert.ok(oracle.some((message) => (message.sysFlag & 0xc) === 0x4), 'a prepared record');
  assert.ok(oracle.some((message) => message.body.toString() === 'batch-1'), 'batch records');
});

test('every record comes back in order with its dispatch fields', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'));
  const requests = tail.readUpTo(maxPhysicalOffset, 1_000_000);
  assert.deepEqual(requests, oracle.map(expected));
  assert.equal(tail.position(), maxPhysicalOffset);
  assert.equal(tail.skippedTo, undefined);
  assert.deepEqual(tail.readUpTo(maxPhysicalOffset, 1_000_000), [], 'nothing is read twice');

  const tag1 = requests.find((request) => request.uniqKey === 'UNIQ0003'); // Put 3 carries TAG1.
  assert.ok(tag1 !== undefined);
  assert.equal(tag1.tagsCode, TAG1_TAGS_CODE, 'TAG1 hashes to 2567159');
  assert.deepEqual(tag1.keys, ['key-3', 'k3']);
  const untagged = requests.find((request) => request.uniqKey === 'UNIQ0000');
  assert.ok(untagged !== undefined);
  assert.equal(untagged.tagsCode, 0, 'no tags, tags code 0');
  assert.deepEqual(untagged.keys, [], 'no keys, no keys');
  const prepared = requests.find((request) => request.keys.includes('txkey'));
  assert.ok(prepared !== undefined);
  assert.equal(prepared.sysFlag & 0xc, 0x4, 'the prepared transaction flag is kept');
  const batch = requests.find((request) => request.keys.includes('bk1b'));
  assert.ok(batch !== undefined);
  assert.deepEqual(batch.keys, ['bk1', 'bk1b']);
});

test('a zero header before the limit returns what was read', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'));
  const requests = tail.readUpTo(maxPhysicalOffset + 2 * SEGMENT_BYTES, 1_000_000);
  assert.equal(requests.length, oracle.length);
  assert.equal(tail.position(), maxPhysicalOffset, 'the tail waits at the end of the written data');
});

test('a mid-log limit returns only records ending at or before it and a later call returns the rest once', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'));
  const middle = oracle[Math.floor(oracle.length / 2)];
  assert.ok(middle !== undefined);
  for (const limit of [middle.commitLogOffset, middle.commitLogOffset + 10, ends(middle)]) {
    tail.seek(0);
    const requests = tail.readUpTo(limit, 1_000_000);
    assert.deepEqual(requests, oracle.filter((message) => ends(message) <= limit).map(expected), `limit ${limit}`);
    for (const request of requests) assert.ok(request.physicalOffset + request.sizeBytes <= limit);
    const rest = tail.readUpTo(maxPhysicalOffset, 1_000_000);
    assert.deepEqual([...requests, ...rest], oracle.map(expected), `limit ${limit} then the rest`);
  }
});

test('a BLANK moves the tail to the next segment start only once the whole BLANK is below the limit', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'));
  const firstSegment = oracle.filter((message) => message.commitLogOffset < SEGMENT_BYTES);
  const lastEnd = ends(firstSegment[firstSegment.length - 1]!);
  assert.ok(lastEnd < SEGMENT_BYTES, 'segment 0 ends with a BLANK');
  assert.equal(tail.readUpTo(SEGMENT_BYTES - 1, 1_000_000).length, firstSegment.length);
  assert.equal(tail.position(), lastEnd, 'the BLANK is not crossed while its end is past the limit');
  assert.deepEqual(tail.readUpTo(SEGMENT_BYTES, 1_000_000), []);
  assert.equal(tail.position(), SEGMENT_BYTES, 'the BLANK moves the tail to the next segment start');
  const next = tail.readUpTo(maxPhysicalOffset, 1);
  assert.equal(next[0]?.physicalOffset, SEGMENT_BYTES, 'the next record is the first of segment 1');
});

test('maxRecords caps each call and the calls together return every record once', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'));
  const all: DispatchRequest[] = [];
  for (let calls = 0; calls < 1000; calls += 1) {
    const requests = tail.readUpTo(maxPhysicalOffset, 3);
    assert.ok(requests.length <= 3);
    if (requests.length === 0) break;
    all.push(...requests);
  }
  assert.deepEqual(all, oracle.map(expected));
  assert.deepEqual(tail.readUpTo(maxPhysicalOffset, 0), [], 'maxRecords 0 reads nothing');
});

test('seek moves the tail to a record start', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'));
  const target = oracle[17];
  assert.ok(target !== undefined);
  tail.seek(target.commitLogOffset);
  assert.deepEqual(tail.readUpTo(maxPhysicalOffset, 1_000_000), oracle.slice(17).map(expected));
});

test('a corrupted record before the limit throws E_STORE_CORRUPT naming the file and offset, on every call', (t) => {
  const commitLogDir = copyCommitLog(t);
  const victim = oracle.find((message) => message.commitLogOffset > SEGMENT_BYTES + 500);
  assert.ok(victim !== undefined);
  const segmentStart = victim.commitLogOffset - (victim.commitLogOffset % SEGMENT_BYTES);
  const file = segmentPath(commitLogDir, segmentStart);
  const bytes = fs.readFileSync(file);
  bytes.writeUInt32BE(0x12345678, victim.commitLogOffset - segmentStart + 4); // Bad magic.
  fs.writeFileSync(file, bytes);

  const tail = openTail(t, commitLogDir);
  assert.deepEqual(tail.readUpTo(victim.commitLogOffset, 1_000_000), oracle.slice(0, oracle.indexOf(victim)).map(expected));
  const isCorrupt = (error: unknown): boolean => {
    assert.ok(error instanceof StoreError);
    assert.equal(error.code, 'E_STORE_CORRUPT');
    assert.match(error.message, new RegExp(String(segmentStart).padStart(20, '0')), 'names the file');
    assert.match(error.message, new RegExp(`physical offset ${victim.commitLogOffset}\\b`), 'names the offset');
    return true;
  };
  assert.throws(() => tail.readUpTo(maxPhysicalOffset, 1_000_000), isCorrupt);
  assert.throws(() => tail.readUpTo(maxPhysicalOffset, 1_000_000), isCorrupt, 'the position stays at the bad record');
  assert.equal(tail.position(), victim.commitLogOffset);
});

test('records read before a corrupted record in the same call are returned first', (t) => {
  const commitLogDir = copyCommitLog(t);
  const victim = oracle.find((message) => message.commitLogOffset > SEGMENT_BYTES + 500);
  assert.ok(victim !== undefined);
  const segmentStart = victim.commitLogOffset - (victim.commitLogOffset % SEGMENT_BYTES);
  const file = segmentPath(commitLogDir, segmentStart);
  const bytes = fs.readFileSync(file);
  bytes.writeUInt32BE(0, victim.commitLogOffset - segmentStart); // TOTALSIZE 0 with a valid magic.
  fs.writeFileSync(file, bytes);

  const tail = openTail(t, commitLogDir);
  assert.deepEqual(tail.readUpTo(maxPhysicalOffset, 1_000_000), oracle.slice(0, oracle.indexOf(victim)).map(expected));
  assert.throws(() => tail.readUpTo(maxPhysicalOffset, 1_000_000), { code: 'E_STORE_CORRUPT' });
});

test('a deleted first segment makes the tail jump to the first existing segment', (t) => {
  const commitLogDir = copyCommitLog(t);
  fs.rmSync(segmentPath(commitLogDir, 0));
  const fromSegment1 = oracle.filter((message) => message.commitLogOffset >= SEGMENT_BYTES).map(expected);

  const fresh = openTail(t, commitLogDir, 0);
  assert.deepEqual(fresh.readUpTo(maxPhysicalOffset, 1_000_000), fromSegment1);
  assert.equal(fresh.skippedTo, SEGMENT_BYTES, 'the jump is reported');
  assert.deepEqual(fresh.readUpTo(maxPhysicalOffset, 1_000_000), []);
  assert.equal(fresh.skippedTo, undefined, 'a call without a jump clears the report');

  const middle = oracle.find((message) => message.commitLogOffset > 0 && message.commitLogOffset < SEGMENT_BYTES);
  assert.ok(middle !== undefined);
  const inside = openTail(t, commitLogDir, middle.commitLogOffset);
  assert.deepEqual(inside.readUpTo(maxPhysicalOffset, 2), fromSegment1.slice(0, 2));
  assert.equal(inside.skippedTo, SEGMENT_BYTES);
});

test('a position at a segment not created yet reads nothing', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'), 100 * SEGMENT_BYTES);
  assert.deepEqual(tail.readUpTo(200 * SEGMENT_BYTES, 10), []);
  assert.equal(tail.position(), 100 * SEGMENT_BYTES);
  assert.equal(tail.skippedTo, undefined);
});

test('close releases the segment file and the tail reopens on the next read', (t) => {
  const tail = openTail(t, path.join(templateRoot, 'commitlog'));
  assert.equal(tail.readUpTo(maxPhysicalOffset, 2).length, 2);
  tail.close();
  tail.close();
  assert.deepEqual(tail.readUpTo(maxPhysicalOffset, 1_000_000), oracle.slice(2).map(expected));
});
