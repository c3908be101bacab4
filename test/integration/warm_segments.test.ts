// Goal: with warmMapedFileEnable the store zero-fills segments ahead of use and never loses or
// overwrites data, across many rolls, in both flush modes, and across a reopen.
// Method: small segments, many puts of varying sizes, then walk every record and compare.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { MessageStore, PutMessageStatus, type FlushDiskType } from '../../src/index.js';
import { readAllMessages } from '../support/store_walk.js';

const SEGMENT_BYTES = 64 * 1024;

for (const flushDiskType of ['SYNC_FLUSH', 'ASYNC_FLUSH'] as FlushDiskType[]) {
  test(`warmed segments keep every message byte for byte across rolls and a reopen (${flushDiskType})`, async (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-warm-'));
    const options = { storePathRootDir: root, flushDiskType, mappedFileSizeCommitLog: SEGMENT_BYTES, warmMapedFileEnable: true };
    const first = await MessageStore.open(options);
    const bodies: string[] = [];
    const results = await Promise.all(
      Array.from({ length: 600 }, (_, i) => {
        const body = `message ${i} `.padEnd(10 + ((i * 37) % 900), String.fromCharCode(97 + (i % 26)));
        bodies.push(body);
        return first.putMessage({ topic: 'Warm', queueId: i % 3, body });
      }),
    );
    for (const result of results) assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK);
    assert.ok(first.getMaxPhyOffset() > 5 * SEGMENT_BYTES, 'the log rolled over several segments');
    const segments = fs.readdirSync(path.join(root, 'commitlog'));
    for (const name of segments) assert.equal(fs.statSync(path.join(root, 'commitlog', name)).size, SEGMENT_BYTES);
    await first.close();

    const second = await MessageStore.open(options);
    t.after(() => second.close().finally(() => fs.rmSync(root, { recursive: true, force: true })));
    const messages = await readAllMessages(second, SEGMENT_BYTES);
    assert.deepEqual(messages.map((m) => m.body.toString('utf8')), bodies);
    const next = await second.putMessage({ topic: 'Warm', queueId: 0, body: 'after reopen' });
    assert.equal(next.appendMessageResult?.logicsOffset, 200);
  });
}
