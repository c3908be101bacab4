// Regressions found by the reliability campaigns (crash_loop.js --power-loss, soak.js),
// each named after what failed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../../src/index.js';
import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from '../../src/format/checkpoint.js';
import { faultyStorageSpec } from '../support/faulty_storage.js';

const SEGMENT_BYTES = 64 * 1024;

test('after a power cut the active segment and the one created ahead both come back empty: recovery drops both and opens', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-power-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, flushDiskType: 'SYNC_FLUSH' as const };
  let store = await MessageStore.open(options);
  const body = Buffer.alloc(1000, 0x61);
  let lastOffset = 0;
  for (let i = 0; i < 100; i++) lastOffset = (await store.putMessage({ topic: 'Pw', queueId: 0, body })).appendMessageResult!.wroteOffset;
  await store.close();
  // Their creation reached the directory, their size (never fsynced: no data yet) did not.
  const commitLogDir = path.join(root, 'commitlog');
  const segments = fs.readdirSync(commitLogDir).sort();
  const lastStart = Number(segments.at(-1));
  for (const start of [lastStart + SEGMENT_BYTES, lastStart + 2 * SEGMENT_BYTES]) {
    fs.writeFileSync(path.join(commitLogDir, String(start).padStart(20, '0')), '');
  }
  fs.writeFileSync(path.join(root, 'abort'), ''); // as after a crash
  store = await MessageStore.open(options);
  try {
    const removed = store.getRecoveryReport().events.filter((e) => e.kind === 'removed' && e.reason === 'zero-length last segment');
    assert.equal(removed.length, 2);
    assert.equal((await store.lookMessageByOffset(lastOffset))?.body.length, 1000, 'the data is all there');
    assert.equal((await store.putMessage({ topic: 'Pw', queueId: 0, body })).putMessageStatus, 'PUT_OK');
  } finally {
    await store.close();
  }
});

test('after a power cut a segment comes back empty while the next one kept records: the log ends at the empty one, the store opens', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-power-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, flushDiskType: 'SYNC_FLUSH' as const };
  let store = await MessageStore.open(options);
  const body = Buffer.alloc(1000, 0x62);
  const offsets: number[] = [];
  for (let i = 0; i < 200; i++) offsets.push((await store.putMessage({ topic: 'Pw', queueId: 0, body })).appendMessageResult!.wroteOffset);
  await store.close();
  const commitLogDir = path.join(root, 'commitlog');
  const withData = fs.readdirSync(commitLogDir).sort().filter((name) => Number(name) <= offsets.at(-1)!);
  assert.ok(withData.length >= 3);
  // The second-to-last segment with data lost its size; the last one kept its records. As in a
  // power cut, the checkpoint's durable end is still below both (they were never fsynced).
  const emptied = withData.at(-2)!;
  fs.truncateSync(path.join(commitLogDir, emptied), 0);
  const checkpointFile = path.join(root, 'checkpoint');
  const decoded = decodeCheckpoint(fs.readFileSync(checkpointFile));
  assert.equal(decoded.kind, 'ok');
  const durable = { ...(decoded as { checkpoint: Checkpoint }).checkpoint, flushedPhyOffset: Number(emptied), dispatchedPhyOffset: Number(emptied) };
  fs.writeFileSync(checkpointFile, encodeCheckpoint(durable));
  fs.writeFileSync(path.join(root, 'abort'), '');
  store = await MessageStore.open(options);
  try {
    const report = store.getRecoveryReport();
    assert.ok(report.events.some((e) => e.kind === 'cut' && e.physicalOffset === Number(emptied)), JSON.stringify(report.events));
    assert.equal(store.getMaxPhyOffset(), Number(emptied), 'the log ends where the empty segment begins');
    const kept = offsets.filter((o) => o < Number(emptied)).at(-1)!;
    assert.equal((await store.lookMessageByOffset(kept))?.body.equals(body), true);
    assert.equal((await store.putMessage({ topic: 'Pw', queueId: 0, body })).putMessageStatus, 'PUT_OK');
  } finally {
    await store.close();
  }
});

test('retention deleting a segment whose fdatasync is still in flight no longer fences the store with EBADF (found by the soak)', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-soak-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = await MessageStore.open(
    {
      storePathRootDir: root,
      mappedFileSizeCommitLog: SEGMENT_BYTES,
      flushIntervalCommitLog: 10,
      flushCommitLogLeastPages: 0,
      fileReservedTime: 0,
      deleteWhen: Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')).join(';'),
      deleteCommitLogFilesInterval: 0,
    },
    faultyStorageSpec({ fsyncDelayMs: 150 }),
  );
  try {
    const body = Buffer.alloc(1000, 0x63);
    for (let i = 0; i < 400; i++) assert.equal((await store.putMessage({ topic: 'Soak', queueId: 0, body })).putMessageStatus, 'PUT_OK');
    // Flushes take ≥ 150 ms per segment: deletions run while one is syncing old segments.
    const deadline = performance.now() + 1500;
    while (performance.now() < deadline) {
      await store.deleteExpiredFilesManually();
      assert.equal((await store.putMessage({ topic: 'Soak', queueId: 0, body })).putMessageStatus, 'PUT_OK');
    }
    assert.ok(store.getMinPhyOffset() > 0, 'retention deleted segments');
  } finally {
    await store.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Found by the corruption campaign (native-free-bench/corruption.ts): one flipped byte in a
// record that a clean reopen does not rescan (only the newest segment is), met first by reads.

interface FlipStore {
  root: string;
  options: { storePathRootDir: string } & Record<string, unknown>;
  /** CommitLog offset of every message, in put order (topic Cr, queue 0 unless said). */
  offsets: number[];
}

async function storeForFlips(t: { after: (fn: () => void) => void }, extra: Record<string, unknown> = {}): Promise<FlipStore> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-corrupt-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, maxHashSlotNum: 64, maxIndexNum: 512, ...extra };
  const store = await MessageStore.open(options);
  const offsets: number[] = [];
  // 120 messages of ~1 KiB: two full segments and part of a third, so segment 0 is not rescanned.
  for (let i = 0; i < 120; i++) {
    const result = await store.putMessage({ topic: 'Cr', queueId: 0, body: `body-${String(i).padStart(3, '0')}-${'x'.repeat(1000)}`, tags: 'TagA', keys: [`key-${i}`] });
    offsets.push(result.appendMessageResult!.wroteOffset);
  }
  for (let i = 0; i < 400 && store.dispatchBehindBytes() > 0; i++) await new Promise((r) => setTimeout(r, 5));
  await store.close();
  return { root, options, offsets };
}

/** XORs one byte of the CommitLog at physical offset `at`. */
function flipLogByte(root: string, at: number, mask = 0x01): void {
  const start = at - (at % SEGMENT_BYTES);
  const fd = fs.openSync(path.join(root, 'commitlog', String(start).padStart(20, '0')), 'r+');
  try {
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, at - start);
    byte[0]! ^= mask;
    fs.writeSync(fd, byte, 0, 1, at - start);
  } finally {
    fs.closeSync(fd);
  }
}

/** Physical offset of the first occurrence of `text` inside the record at `recordOffset`. */
function offsetOfText(root: string, recordOffset: number, text: string): number {
  const start = recordOffset - (recordOffset % SEGMENT_BYTES);
  const bytes = fs.readFileSync(path.join(root, 'commitlog', String(start).padStart(20, '0')));
  const at = bytes.indexOf(Buffer.from(text, 'latin1'), recordOffset - start);
  assert.ok(at >= 0, `${text} in the record at ${recordOffset}`);
  return start + at;
}

async function queueBodies(store: MessageStore, topic: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let offset = 0, round = 0; round < 100; round++) {
    const got = await store.getMessage({ group: 'g', topic, queueId: 0, offset, maxMsgNums: 32 });
    bodies.push(...got.messages.map((m) => m.body.toString('latin1', 0, 8)));
    if (got.nextBeginOffset <= offset || got.nextBeginOffset >= store.getMaxOffsetInQueue(topic, 0)) break;
    offset = got.nextBeginOffset;
  }
  return bodies;
}

test('a flipped body byte in a record a clean reopen does not rescan is no longer returned as valid by lookMessageByOffset, getMessage or queryMessage', async (t) => {
  const { root, options, offsets } = await storeForFlips(t);
  flipLogByte(root, offsetOfText(root, offsets[5]!, 'xxxx') + 100);
  const store = await MessageStore.open(options);
  try {
    assert.equal(await store.lookMessageByOffset(offsets[5]!), null, 'lookMessageByOffset');
    const bodies = await queueBodies(store, 'Cr');
    assert.ok(!bodies.includes('body-005'), 'getMessage does not hand out the damaged record');
    assert.equal((await store.queryMessage('Cr', 'key-5', 8, 0, Date.now() + 60_000)).messages.length, 0, 'queryMessage');
    assert.equal((await store.lookMessageByOffset(offsets[6]!))?.body.toString('latin1', 0, 8), 'body-006');
  } finally {
    await store.close();
  }
});

test('getMessage no longer skips the rest of a segment after one damaged record in it (it took the record for one removed by retention)', async (t) => {
  const { root, options, offsets } = await storeForFlips(t);
  flipLogByte(root, offsetOfText(root, offsets[5]!, 'xxxx') + 100);
  const store = await MessageStore.open(options);
  try {
    const bodies = await queueBodies(store, 'Cr');
    assert.equal(bodies.length, 119, 'every message but the damaged one');
    assert.deepEqual(bodies.slice(5, 7), ['body-006', 'body-007']);
  } finally {
    await store.close();
  }
});

test('a plain record with a flipped topic byte is no longer returned as valid by lookMessageByOffset (its consume queue unit disagrees)', async (t) => {
  const { root, options, offsets } = await storeForFlips(t);
  // The topic "Cr" follows the body; flip its second letter (Cr → Cs).
  const body = `body-005-${'x'.repeat(1000)}`;
  flipLogByte(root, offsetOfText(root, offsets[5]!, `${body}\u0002Cr`) + body.length + 2, 0x01);
  const store = await MessageStore.open(options);
  try {
    assert.equal(await store.lookMessageByOffset(offsets[5]!), null);
    assert.equal((await store.lookMessageByOffset(offsets[4]!))?.topic, 'Cr', 'its neighbour still reads');
  } finally {
    await store.close();
  }
});

test('a plain record with a flipped TAGS byte is no longer handed out by getMessage or lookMessageByOffset (the unit keeps the tags hash)', async (t) => {
  const { root, options, offsets } = await storeForFlips(t);
  flipLogByte(root, offsetOfText(root, offsets[5]!, 'TagA') + 3, 0x02); // TagA → TagC
  const store = await MessageStore.open(options);
  try {
    assert.equal(await store.lookMessageByOffset(offsets[5]!), null);
    const bodies = await queueBodies(store, 'Cr');
    assert.equal(bodies.length, 119);
    assert.ok(!bodies.includes('body-005'));
  } finally {
    await store.close();
  }
});

test('with forceVerifyPropCRC a flipped header byte (bornTimestamp) or a damaged CRC reserve is no longer returned as valid by reads', async (t) => {
  const { root, options, offsets } = await storeForFlips(t, { enabledAppendPropCRC: true, forceVerifyPropCRC: true });
  flipLogByte(root, offsets[5]! + 40 + 7); // BORNTIMESTAMP's low byte: the body CRC does not cover it
  flipLogByte(root, offsetOfText(root, offsets[7]!, '__CRC32#') + 2); // the reserve no longer reads as one
  const store = await MessageStore.open(options);
  try {
    assert.equal(await store.lookMessageByOffset(offsets[5]!), null, 'bornTimestamp flipped');
    assert.equal(await store.lookMessageByOffset(offsets[7]!), null, 'CRC reserve damaged');
    const bodies = await queueBodies(store, 'Cr');
    assert.equal(bodies.length, 118);
    assert.ok(!bodies.includes('body-005') && !bodies.includes('body-007'));
  } finally {
    await store.close();
  }
  // Verify stops a segment at its first bad record: put record 5 back to see record 7.
  flipLogByte(root, offsets[5]! + 40 + 7);
  const { verifyStore } = await import('../../src/cli/commands/verify.js');
  const result = await verifyStore(root, { threads: 1, slots: 64, entries: 512, requireRecordCrc: true });
  assert.ok(result.problems.some((p) => p.includes(`physicalOffset ${offsets[7]!}: no appended record CRC`)), result.problems.join('\n'));
});

test('verify now reports a flipped consume queue tags code and a flipped index slot, prevIndex or header time, naming file and position', async (t) => {
  const { root, offsets } = await storeForFlips(t);
  assert.ok(offsets.length > 0);
  const { verifyStore } = await import('../../src/cli/commands/verify.js');
  const layout = { threads: 1, slots: 64, entries: 512 };
  assert.deepEqual((await verifyStore(root, layout)).problems, [], 'an undamaged store has no problem');
  const flip = (file: string, position: number): void => {
    const fd = fs.openSync(file, 'r+');
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, position);
    byte[0]! ^= 0x01;
    fs.writeSync(fd, byte, 0, 1, position);
    fs.closeSync(fd);
  };
  const cqFile = path.join(root, 'consumequeue', 'Cr', '0', '0'.repeat(20));
  flip(cqFile, 3 * 20 + 19); // unit 3's tagsCode
  const indexFile = path.join(root, 'index', fs.readdirSync(path.join(root, 'index'))[0]!);
  const slots = fs.readFileSync(indexFile).subarray(40, 40 + 64 * 4);
  let slot = 0;
  while (slots.readInt32BE(slot * 4) === 0) slot++;
  flip(indexFile, 40 + slot * 4 + 3); // a used slot now points at another entry
  flip(indexFile, 7); // beginTimestamp's low byte
  const problems = (await verifyStore(root, layout)).problems;
  assert.ok(problems.some((p) => p.startsWith(`${cqFile} position 60 `) && p.includes('tags code')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith(`${indexFile} position ${40 + slot * 4} `)), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith(`${indexFile} position 0 `) && p.includes('beginTimestamp')), problems.join('\n'));
});

test('an empty segment below the checkpoint\'s durable end is damage, not a power cut: the store refuses to open (review)', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-power-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, flushDiskType: 'SYNC_FLUSH' as const };
  const store = await MessageStore.open(options);
  const body = Buffer.alloc(1000, 0x64);
  for (let i = 0; i < 200; i++) await store.putMessage({ topic: 'Pw', queueId: 0, body });
  await store.close();
  const commitLogDir = path.join(root, 'commitlog');
  const first = fs.readdirSync(commitLogDir).sort()[0]!;
  fs.truncateSync(path.join(commitLogDir, first), 0);
  await assert.rejects(MessageStore.open(options), { code: 'E_STORE_CORRUPT' });
});

test('forceVerifyPropCRC on a store written without the record CRC refuses to open instead of cutting the log (review)', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-force-regress-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, flushDiskType: 'SYNC_FLUSH' as const };
  let store = await MessageStore.open(options);
  for (let i = 0; i < 20; i++) await store.putMessage({ topic: 'Plain', queueId: 0, body: `m${i}` });
  const end = store.getMaxPhyOffset();
  await store.close();
  await assert.rejects(MessageStore.open({ ...options, forceVerifyPropCRC: true }), { code: 'E_CONFIG_INVALID' });
  store = await MessageStore.open(options);
  try {
    assert.equal(store.getMaxPhyOffset(), end, 'nothing was cut');
  } finally {
    await store.close();
  }
});

test('a consume queue that lost units below the durable dispatch position (a power cut with holes) is rebuilt, not a refused open', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cq-gap-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, mappedFileSizeConsumeQueue: 20 * 1000 };
  let store = await MessageStore.open(options);
  const offsets: number[] = [];
  for (let i = 0; i < 100; i++) offsets.push((await store.putMessage({ topic: 'Gap', queueId: 0, body: `m${i}` })).appendMessageResult!.wroteOffset);
  const deadline = performance.now() + 10_000;
  while (store.dispatchBehindBytes() > 0) {
    assert.ok(performance.now() < deadline);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await store.close();
  // Units 40…49 lost (a page that never reached the disk), later ones kept; the checkpoint says
  // dispatch was durable up to message 60, so the re-dispatch starts past the hole.
  const cqFile = path.join(root, 'consumequeue', 'Gap', '0', '00000000000000000000');
  const cq = fs.readFileSync(cqFile);
  cq.fill(0, 40 * 20, 50 * 20);
  fs.writeFileSync(cqFile, cq);
  const checkpointFile = path.join(root, 'checkpoint');
  const decoded = decodeCheckpoint(fs.readFileSync(checkpointFile));
  assert.equal(decoded.kind, 'ok');
  fs.writeFileSync(checkpointFile, encodeCheckpoint({ ...(decoded as { checkpoint: Checkpoint }).checkpoint, dispatchedPhyOffset: offsets[60]! }));
  fs.writeFileSync(path.join(root, 'abort'), '');
  store = await MessageStore.open(options);
  try {
    assert.ok(store.getRecoveryReport().derived.events.some((e) => e.includes('Gap/0') && e.includes('rebuilding')), JSON.stringify(store.getRecoveryReport().derived.events));
    const pulled = [];
    for (let offset = 0; offset < 100; ) {
      const result = await store.getMessage({ group: 'g', topic: 'Gap', queueId: 0, offset, maxMsgNums: 32 });
      assert.equal(result.status, 'FOUND', `at ${offset}`);
      pulled.push(...result.messages.map((m) => m.body.toString()));
      offset = result.nextBeginOffset;
    }
    assert.deepEqual(pulled, offsets.map((_, i) => `m${i}`));
  } finally {
    await store.close();
  }
});
