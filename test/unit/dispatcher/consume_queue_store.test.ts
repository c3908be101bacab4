// Goal: ConsumeQueueStore writes, rolls, reloads, truncates and reads RocketMQ consume queue files with bounded handles.
// Method: real files through FsStorage in a fresh temp dir per test; bytes compared with the codec and the .md example.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsumeQueueStore } from '../../../src/dispatcher/consume_queue_store.js';
import {
  CQ_ENTRY_BYTES,
  CQ_FILLER_SIZE_BYTES,
  MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT,
  readConsumeQueueEntry,
  tagsCodeOf,
  writeConsumeQueueEntry,
  type ConsumeQueueEntry,
} from '../../../src/format/consume_queue_entry.js';
import { FsStorage } from '../../../src/io/storage_fs.js';
import type { StorageFile } from '../../../src/io/storage.js';
import { StoreError } from '../../../src/errors.js';

function withTempDir(body: (rootDir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cq-'));
  try {
    body(path.join(dir, 'consumequeue'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function unit(physicalOffset: number, sizeBytes = 100, tagsCode = 7): ConsumeQueueEntry {
  return { physicalOffset, sizeBytes, tagsCode };
}

function open(rootDir: string, fileSizeBytes = 200, openFilesMax = 256, storage = new FsStorage()): ConsumeQueueStore {
  return new ConsumeQueueStore(storage, { rootDir, fileSizeBytes, openFilesMax });
}

test('units written to several topics and queues read back in order', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir);
    let physicalOffset = 0;
    for (let n = 0; n < 25; n++) {
      for (const topic of ['TopicA', 'Topic%B-c_d']) {
        for (const queueId of [0, 3]) {
          assert.equal(store.put(topic, queueId, n, unit(physicalOffset, 100, n)), 'written');
          physicalOffset += 100;
        }
      }
    }
    assert.equal(store.maxQueueOffset('TopicA', 3), 25);
    assert.equal(store.minQueueOffset('TopicA', 3), 0);
    assert.equal(store.maxQueueOffset('nope', 0), 0);
    assert.equal(store.maxPhysicalOffsetOf('nope', 0), -1);
    assert.equal(store.maxPhysicalOffsetOf('Topic%B-c_d', 3), physicalOffset);
    const all = store.read('TopicA', 3, 0, 100);
    assert.equal(all.length, 25);
    assert.deepEqual(all[7], unit((7 * 4 + 1) * 100, 100, 7));
    assert.deepEqual(store.get('Topic%B-c_d', 0, 24), unit((24 * 4 + 2) * 100, 100, 24));
    assert.equal(store.get('TopicA', 0, 25), null);
    assert.equal(store.read('TopicA', 0, 8, 5).length, 5);
    assert.equal(store.read('TopicA', 0, 23, 5).length, 2);
    assert.deepEqual(store.queues().map(([t, q]) => `${t}/${q}`).sort(), ['Topic%B-c_d/0', 'Topic%B-c_d/3', 'TopicA/0', 'TopicA/3']);
    store.close();
  });
});

test('files roll at fileSizeBytes with 20-digit byte-offset names', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    for (let n = 0; n < 25; n++) store.put('T', 0, n, unit(n * 100));
    store.close();
    const names = fs.readdirSync(path.join(rootDir, 'T', '0')).sort();
    assert.deepEqual(names, ['00000000000000000000', '00000000000000000200', '00000000000000000400']);
    for (const name of names) assert.equal(fs.statSync(path.join(rootDir, 'T', '0', name)).size, 200);
    const second = fs.readFileSync(path.join(rootDir, 'T', '0', '00000000000000000200'));
    assert.deepEqual(readConsumeQueueEntry(second, 0), unit(1000));
  });
});

test('duplicate puts are ignored and a gap is a typed error', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir);
    assert.equal(store.put('T', 0, 0, unit(0)), 'written');
    assert.equal(store.put('T', 0, 1, unit(100)), 'written');
    assert.equal(store.put('T', 0, 1, unit(100)), 'duplicate');
    assert.equal(store.put('T', 0, 0, unit(0)), 'duplicate');
    assert.equal(store.put('T', 0, 1, unit(500)), 'duplicate');
    assert.throws(
      () => store.put('T', 0, 5, unit(900)),
      (error: unknown) => error instanceof StoreError && error.code === 'E_STORE_CORRUPT' && /T\/0/.test(error.message),
    );
    assert.equal(store.maxQueueOffset('T', 0), 2);
    store.close();
  });
});

test('a queue first written at a non-zero offset is pre-filled with filler units', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    assert.equal(store.put('T', 1, 13, unit(5000)), 'written');
    assert.equal(store.minQueueOffset('T', 1), 13);
    assert.equal(store.maxQueueOffset('T', 1), 14);
    assert.equal(store.get('T', 1, 12), null);
    store.close();
    const bytes = fs.readFileSync(path.join(rootDir, 'T', '1', '00000000000000000200'));
    assert.equal(readConsumeQueueEntry(bytes, 0).sizeBytes, CQ_FILLER_SIZE_BYTES);
    assert.equal(readConsumeQueueEntry(bytes, 40).sizeBytes, CQ_FILLER_SIZE_BYTES);
    assert.deepEqual(readConsumeQueueEntry(bytes, 60), unit(5000));
    const reopened = open(rootDir, 200);
    reopened.load();
    assert.equal(reopened.minQueueOffset('T', 1), 13);
    assert.equal(reopened.maxQueueOffset('T', 1), 14);
    assert.equal(reopened.maxPhysicalOffsetOf('T', 1), 5100);
    reopened.close();
  });
});

test('load after reopen restores max offsets and entries, and cuts an invalid tail', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    for (let n = 0; n < 23; n++) store.put('T', 0, n, unit(n * 100));
    for (let n = 0; n < 4; n++) store.put('U', 2, n, unit(10000 + n * 100));
    store.close();
    // Damage: an invalid unit (size -1) at queue offset 23, followed by a unit that looks valid.
    const last = path.join(rootDir, 'T', '0', '00000000000000000400');
    const fd = fs.openSync(last, 'r+');
    const damage = Buffer.alloc(40);
    damage.writeInt32BE(-1, 8);
    writeConsumeQueueEntry(damage, 20, unit(9999));
    fs.writeSync(fd, damage, 0, 40, 60);
    fs.closeSync(fd);

    const reopened = open(rootDir, 200);
    const summary = reopened.load();
    assert.deepEqual(summary, { queueCount: 2, fileCount: 4, entryCount: 27, repairedQueueCount: 1 });
    assert.equal(reopened.maxQueueOffset('T', 0), 23);
    assert.equal(reopened.maxPhysicalOffsetOf('T', 0), 2300);
    assert.equal(reopened.maxQueueOffset('U', 2), 4);
    assert.deepEqual(reopened.read('T', 0, 0, 100), Array.from({ length: 23 }, (_, n) => unit(n * 100)));
    assert.equal(reopened.put('T', 0, 23, unit(2300)), 'written');
    assert.equal(reopened.read('T', 0, 23, 10).length, 1);
    reopened.close();
  });
});

test('truncateAfter drops exactly the units at or past the physical offset', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    for (let n = 0; n < 25; n++) {
      store.put('A', 0, n, unit(n * 200));
      store.put('B', 0, n, unit(n * 200 + 100));
    }
    store.put('C', 0, 0, unit(4950));
    const dropped = store.truncateAfter(2100);
    // A keeps 0..2000 (11 units), B keeps 100..1900 (10 units), C loses its only unit.
    assert.equal(dropped, 14 + 15 + 1);
    assert.equal(store.maxQueueOffset('A', 0), 11);
    assert.equal(store.maxQueueOffset('B', 0), 10);
    assert.equal(store.maxQueueOffset('C', 0), 0);
    assert.equal(store.maxPhysicalOffsetOf('A', 0), 2100);
    assert.equal(store.maxPhysicalOffsetOf('B', 0), 2000);
    assert.deepEqual(fs.readdirSync(path.join(rootDir, 'A', '0')).sort(), ['00000000000000000000', '00000000000000000200']);
    assert.deepEqual(fs.readdirSync(path.join(rootDir, 'B', '0')).sort(), ['00000000000000000000']);
    assert.deepEqual(fs.readdirSync(path.join(rootDir, 'C', '0')), []);
    assert.equal(store.put('A', 0, 11, unit(2200)), 'written');
    store.close();

    const reopened = open(rootDir, 200);
    reopened.load();
    assert.equal(reopened.maxQueueOffset('A', 0), 12);
    assert.equal(reopened.maxQueueOffset('B', 0), 10);
    assert.deepEqual(reopened.queues().map(([t]) => t).sort(), ['A', 'B']);
    reopened.close();
  });
});

test('a fresh queue file is sparse: allocated blocks far below its size', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT);
    store.put('T', 0, 0, unit(0));
    store.flush();
    const stat = fs.statSync(path.join(rootDir, 'T', '0', '00000000000000000000'));
    assert.equal(stat.size, MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT);
    assert.ok(stat.blocks * 512 < stat.size / 10, `allocated ${stat.blocks * 512} bytes`);
    store.close();
  });
});

test('1000 topics × 8 queues with 64 open files write and read back without EMFILE', () => {
  withTempDir((rootDir) => {
    // Counts handles and syncs; fdatasync is skipped so 8000 LRU closes stay fast on any disk.
    let openNow = 0;
    let openMax = 0;
    let syncCount = 0;
    const storage = new FsStorage();
    const openReal = storage.open.bind(storage);
    const closeReal = storage.close.bind(storage);
    storage.open = (file: string, create: boolean): StorageFile => {
      const handle = openReal(file, create);
      openMax = Math.max(openMax, ++openNow);
      return handle;
    };
    storage.close = (file: StorageFile): void => {
      openNow -= 1;
      closeReal(file);
    };
    storage.fdatasync = (): void => {
      syncCount += 1;
    };
    storage.fsyncDir = (): void => {};
    const store = open(rootDir, 200, 64, storage);
    let physicalOffset = 0;
    for (let round = 0; round < 2; round++) {
      for (let topic = 0; topic < 1000; topic++) {
        for (let queueId = 0; queueId < 8; queueId++) {
          store.put(`Topic${topic}`, queueId, round, unit(physicalOffset, 50, topic));
          physicalOffset += 50;
        }
      }
    }
    assert.ok(openMax <= 64, `open handles peaked at ${openMax}`);
    assert.ok(syncCount >= 8000 - 64, 'a written file is synced before the LRU closes it');
    for (let topic = 0; topic < 1000; topic += 37) {
      const entries = store.read(`Topic${topic}`, 5, 0, 10);
      assert.equal(entries.length, 2);
      assert.equal(entries[1]!.tagsCode, topic);
    }
    store.close();
    assert.equal(openNow, 0);
    const reopened = open(rootDir, 200, 64, storage);
    assert.equal(reopened.load().queueCount, 8000);
    assert.equal(reopened.maxQueueOffset('Topic999', 7), 2);
    reopened.close();
  });
});

test('the first 60 bytes of a 3-unit file equal the worked example in consume_queue_entry.md', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT);
    const tagsCode = tagsCodeOf('TAG1');
    for (const [n, physicalOffset] of [0, 158, 316].entries()) store.put('FooBar', 0, n, unit(physicalOffset, 158, tagsCode));
    store.close();
    const doc = fs.readFileSync(new URL('../../../../src/format/consume_queue_entry.md', import.meta.url), 'utf8');
    const dump = doc.slice(doc.indexOf('## Worked example'));
    const hex = [...dump.matchAll(/^[0-9a-f]{8} {2}((?:[0-9a-f]{2} ?)+)$/gm)].map((m) => m[1]!.replace(/ /g, '')).join('');
    assert.equal(hex.length, 3 * CQ_ENTRY_BYTES * 2);
    const file = fs.readFileSync(path.join(rootDir, 'FooBar', '0', '00000000000000000000'));
    assert.equal(file.subarray(0, 60).toString('hex'), hex);
    assert.ok(file.subarray(60).every((byte) => byte === 0));
  });
});
