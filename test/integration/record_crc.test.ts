// Goal: enabledAppendPropCRC puts RocketMQ 5's `__CRC32#` at the end of every record (singles
// and batches, with or without properties), filled by the writer so it checks out on disk; a
// record that carries it is held to it; with forceVerifyPropCRC a record without it (a torn
// last record whose tail is zeros) is cut by recovery.
// Method: real stores in temp dirs; record bytes read from the segment files and edited there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../../src/index.js';
import { checkRecordCrc, CRC32_RESERVED_BYTES } from '../../src/format/record_crc.js';

const SEGMENT_BYTES = 64 * 1024;

function tempRoot(t: { after: (fn: () => void) => void }): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-record-crc-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

function segmentBytes(root: string): Buffer {
  return fs.readFileSync(path.join(root, 'commitlog', '00000000000000000000'));
}

test('every record ends with a CRC that checks out; reads return the messages as sent', async (t) => {
  const root = tempRoot(t);
  const store = await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, enabledAppendPropCRC: true, flushDiskType: 'SYNC_FLUSH' });
  const written: Array<{ offset: number; size: number }> = [];
  try {
    for (const input of [
      { topic: 'Crc', queueId: 0, body: 'plain' },
      { topic: 'Crc', queueId: 0, body: 'tagged', tags: 'TagA', keys: ['k1', 'k2'] },
      { topic: 'Crc', queueId: 1, body: 'props', properties: { a: '1', b: 'two' } },
    ]) {
      const r = await store.putMessage(input);
      assert.equal(r.putMessageStatus, 'PUT_OK');
      written.push({ offset: r.appendMessageResult!.wroteOffset, size: r.appendMessageResult!.wroteBytes });
    }
    const batch = await store.putMessages({ topic: 'Crc', queueId: 2, messages: [{ body: 'b0', tags: 'T' }, { body: 'b1' }] });
    assert.equal(batch.putMessageStatus, 'PUT_OK');
    const first = await store.lookMessageByOffset(written[1]!.offset);
    assert.equal(first?.body.toString(), 'tagged');
    assert.equal(first?.tags, 'TagA');
    assert.deepEqual(first?.keys, ['k1', 'k2']);
    assert.match(first!.properties['__CRC32#'] ?? '', /^\d{10}$/);
  } finally {
    await store.close();
  }
  const bytes = segmentBytes(root);
  let at = 0;
  let records = 0;
  while (bytes.readInt32BE(at) > 0 && bytes.readInt32BE(at + 4) !== (0xcbd43194 | 0)) {
    const size = bytes.readInt32BE(at);
    assert.equal(checkRecordCrc(bytes.subarray(at, at + size), size), 'ok', `record at ${at}`);
    at += size;
    records++;
  }
  assert.equal(records, 5);
});

test('recovery cuts a record whose appended CRC fails, and with forceVerifyPropCRC one that lost it', async (t) => {
  for (const damage of ['flip a topic byte', 'zero the tail (torn)'] as const) {
    const root = tempRoot(t);
    const options = { storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT_BYTES, enabledAppendPropCRC: true, forceVerifyPropCRC: true };
    let store = await MessageStore.open(options);
    const offsets: number[] = [];
    for (let i = 0; i < 5; i++) offsets.push((await store.putMessage({ topic: 'CrcTopic', queueId: 0, body: `m${i}`, tags: 'T' })).appendMessageResult!.wroteOffset);
    const end = store.getMaxPhyOffset();
    await store.close();
    const file = path.join(root, 'commitlog', '00000000000000000000');
    const bytes = fs.readFileSync(file);
    const last = offsets[4]!;
    const size = end - last;
    if (damage === 'flip a topic byte') {
      // The body and its CRC are untouched: only the appended CRC can tell.
      const topicAt = last + size - CRC32_RESERVED_BYTES - 2 - 'TAGS\u0001T\u0002'.length - 1 - 2;
      bytes[topicAt] = bytes[topicAt]! ^ 0x20;
    } else {
      bytes.fill(0, last + size - CRC32_RESERVED_BYTES - 6, last + size);
    }
    fs.writeFileSync(file, bytes);
    fs.writeFileSync(path.join(root, 'abort'), ''); // a crash: the last segment is scanned
    store = await MessageStore.open(options);
    try {
      assert.equal(store.getMaxPhyOffset(), last, `${damage}: the damaged last record is cut`);
      assert.equal(await store.lookMessageByOffset(last), null);
      assert.equal((await store.lookMessageByOffset(offsets[3]!))?.body.toString(), 'm3');
    } finally {
      await store.close();
    }
  }
});
