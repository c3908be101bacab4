// Goal: ConsumeQueueStore batches, writes, rolls, reloads, truncates, expires and reads RocketMQ consume queue files with bounded handles.
// Method: real files through FsStorage (wrapped to count writes, syncs and handles) in a fresh temp dir per test; bytes checked by hand, with the codec and the .md example.

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

/** FsStorage that records pwritev calls, fdatasyncs and open handles, and can fail one pwritev. */
class CountingStorage extends FsStorage {
  readonly pwrites: Array<{ file: string; position: number; lengthBytes: number; iovecs: number }> = [];
  readonly syncs: string[] = [];
  openNow = 0;
  openPeak = 0;
  /** The next pwritev on a path containing this throws EIO (once). */
  failNextPwritevOn: string | null = null;
  private readonly realSync: boolean;

  constructor(options: { realSync: boolean } = { realSync: true }) {
    super();
    this.realSync = options.realSync;
  }

  override open(file: string, create: boolean): StorageFile {
    const handle = super.open(file, create);
    this.openPeak = Math.max(this.openPeak, ++this.openNow);
    return handle;
  }

  override close(file: StorageFile): void {
    this.openNow -= 1;
    super.close(file);
  }

  override pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    if (this.failNextPwritevOn !== null && file.path.includes(this.failNextPwritevOn)) {
      this.failNextPwritevOn = null;
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    }
    const lengthBytes = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
    this.pwrites.push({ file: file.path, position, lengthBytes, iovecs: buffers.length });
    super.pwritev(file, buffers, position);
  }

  override fdatasync(file: StorageFile): void {
    this.syncs.push(file.path);
    if (this.realSync) super.fdatasync(file);
  }
}

function queueFile(rootDir: string, topic: string, queueId: number, fileStart: number): string {
  return path.join(rootDir, topic, String(queueId), String(fileStart).padStart(20, '0'));
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
    assert.deepEqual(summary, { queueCount: 2, fileCount: 4, entryCount: 27, repairedQueueCount: 1, emptyFilesRemoved: [] });
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
    // Counts handles and syncs; fdatasync is skipped so 8000 syncs stay fast on any disk.
    const storage = new CountingStorage({ realSync: false });
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
      store.commit();
    }
    assert.ok(storage.openPeak <= 64, `open handles peaked at ${storage.openPeak}`);
    assert.equal(storage.syncs.length, 0, 'the LRU closes written files without syncing them');
    assert.equal(store.dirtyClosedCount(), 8000 - 64);
    for (let topic = 0; topic < 1000; topic += 37) {
      const entries = store.read(`Topic${topic}`, 5, 0, 10);
      assert.equal(entries.length, 2);
      assert.equal(entries[1]!.tagsCode, topic);
    }
    store.close();
    assert.equal(storage.syncs.length, 8000, 'close syncs every written file exactly once');
    assert.equal(new Set(storage.syncs).size, 8000);
    assert.ok(storage.openPeak <= 64, `open handles peaked at ${storage.openPeak} during flush`);
    assert.equal(storage.openNow, 0);
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

test('put writes nothing; commit writes each queue with one pwritev and max offsets move at put', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage();
    const store = open(rootDir, 2000, 256, storage);
    for (let n = 0; n < 10; n++) {
      for (let queueId = 0; queueId < 5; queueId++) store.put('T', queueId, n, unit((n * 5 + queueId) * 100));
    }
    assert.equal(storage.pwrites.length, 0);
    assert.equal(fs.existsSync(rootDir), false, 'no file or directory before the first commit');
    assert.equal(store.maxQueueOffset('T', 4), 10);
    assert.equal(store.maxPhysicalOffsetOf('T', 4), 5000);
    assert.equal(store.pendingBytes(), 50 * CQ_ENTRY_BYTES);
    assert.equal(store.queueCount(), 5);
    store.commit();
    assert.equal(store.pendingBytes(), 0);
    assert.deepEqual(
      storage.pwrites.map((write) => [path.basename(path.dirname(write.file)), write.position, write.lengthBytes]).sort(),
      [0, 1, 2, 3, 4].map((queueId) => [String(queueId), 0, 200]),
    );
    store.commit();
    assert.equal(storage.pwrites.length, 5, 'a commit with nothing pending writes nothing');
    for (let queueId = 0; queueId < 5; queueId++) store.put('T', queueId, 10, unit((50 + queueId) * 100));
    store.put('T', 2, 11, unit(6000));
    store.commit();
    const second = storage.pwrites.slice(5);
    assert.equal(second.length, 5);
    assert.deepEqual(second.find((write) => write.file === queueFile(rootDir, 'T', 2, 0)), { file: queueFile(rootDir, 'T', 2, 0), position: 200, lengthBytes: 40, iovecs: 1 });
    const bytes = fs.readFileSync(queueFile(rootDir, 'T', 2, 0));
    for (let n = 0; n < 11; n++) assert.deepEqual(readConsumeQueueEntry(bytes, n * CQ_ENTRY_BYTES), unit((n * 5 + 2) * 100));
    assert.deepEqual(readConsumeQueueEntry(bytes, 11 * CQ_ENTRY_BYTES), unit(6000));
    assert.ok(bytes.subarray(12 * CQ_ENTRY_BYTES).every((byte) => byte === 0));
    store.close();
  });
});

test('read, get and lastUnit see pending units on both sides of the committed end', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage();
    const store = open(rootDir, 200, 256, storage);
    for (let n = 0; n < 7; n++) store.put('T', 0, n, unit(n * 100, 100, n));
    store.commit();
    for (let n = 7; n < 15; n++) store.put('T', 0, n, unit(n * 100, 100, n));
    const writes = storage.pwrites.length;
    assert.deepEqual(store.read('T', 0, 0, 100), Array.from({ length: 15 }, (_, n) => unit(n * 100, 100, n)));
    assert.deepEqual(store.read('T', 0, 5, 4), [5, 6, 7, 8].map((n) => unit(n * 100, 100, n)));
    assert.deepEqual(store.get('T', 0, 14), unit(1400, 100, 14));
    assert.equal(store.get('T', 0, 15), null);
    assert.deepEqual(store.lastUnit('T', 0), { queueOffset: 14, entry: unit(1400, 100, 14) });
    assert.equal(storage.pwrites.length, writes, 'reads are served from the pending buffer, not by committing');
    assert.equal(fs.readdirSync(path.join(rootDir, 'T', '0')).length, 1, 'the second file is not created before the commit');
    store.flush();
    assert.deepEqual(store.read('T', 0, 0, 100), Array.from({ length: 15 }, (_, n) => unit(n * 100, 100, n)));
    assert.equal(store.lastUnit('T', 0)!.queueOffset, 14);
    assert.equal(store.lastUnit('nope', 0), null);
    store.close();
  });
});

test('a pending run crossing file ends is split into one pwritev per file and creates each next file sparse', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage();
    const store = open(rootDir, 200, 256, storage);
    for (let n = 0; n < 5; n++) store.put('T', 0, n, unit(n * 100));
    store.commit();
    for (let n = 5; n < 25; n++) store.put('T', 0, n, unit(n * 100));
    store.commit();
    assert.deepEqual(storage.pwrites.slice(1).map(({ file, position, lengthBytes }) => [path.basename(file), position, lengthBytes]), [
      ['00000000000000000000', 100, 100],
      ['00000000000000000200', 0, 200],
      ['00000000000000000400', 0, 100],
    ]);
    for (const start of [0, 200, 400]) assert.equal(fs.statSync(queueFile(rootDir, 'T', 0, start)).size, 200);
    store.close();
    const reopened = open(rootDir, 200);
    reopened.load();
    assert.deepEqual(reopened.read('T', 0, 0, 100), Array.from({ length: 25 }, (_, n) => unit(n * 100)));
    reopened.close();
  });
});

test('a first put deep into a large file writes the filler and the unit with one pwritev', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage();
    const store = open(rootDir, MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT, 256, storage);
    const queueOffset = 300000 + 250000;
    store.put('T', 0, queueOffset, unit(77000));
    store.put('T', 0, queueOffset + 1, unit(77100));
    assert.equal(store.minQueueOffset('T', 0), queueOffset);
    store.commit();
    assert.equal(storage.pwrites.length, 1);
    assert.equal(storage.pwrites[0]!.position, 0);
    assert.equal(storage.pwrites[0]!.lengthBytes, (250000 + 2) * CQ_ENTRY_BYTES);
    assert.ok(storage.pwrites[0]!.iovecs > 1, 'the filler is repeated iovecs of one shared buffer');
    assert.equal(path.basename(storage.pwrites[0]!.file), '00000000000006000000');
    store.close();
    const bytes = fs.readFileSync(queueFile(rootDir, 'T', 0, MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT));
    assert.equal(readConsumeQueueEntry(bytes, 0).sizeBytes, CQ_FILLER_SIZE_BYTES);
    assert.equal(readConsumeQueueEntry(bytes, (250000 - 1) * CQ_ENTRY_BYTES).sizeBytes, CQ_FILLER_SIZE_BYTES);
    assert.deepEqual(readConsumeQueueEntry(bytes, 250000 * CQ_ENTRY_BYTES), unit(77000));
    const reopened = open(rootDir, MAPPED_FILE_SIZE_CONSUME_QUEUE_DEFAULT);
    reopened.load();
    assert.equal(reopened.minQueueOffset('T', 0), queueOffset);
    assert.equal(reopened.maxQueueOffset('T', 0), queueOffset + 2);
    reopened.close();
  });
});

test('evicting a written handle does not fsync it; flush syncs every evicted file once within the handle budget', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage();
    const store = open(rootDir, 200, 2, storage);
    for (let queueId = 0; queueId < 10; queueId++) store.put('T', queueId, 0, unit(queueId * 100));
    store.commit();
    assert.equal(storage.syncs.length, 0);
    assert.equal(store.openFileCount(), 2);
    assert.equal(store.dirtyClosedCount(), 8);
    store.flush();
    assert.deepEqual([...storage.syncs].sort(), Array.from({ length: 10 }, (_, queueId) => queueFile(rootDir, 'T', queueId, 0)).sort());
    assert.ok(storage.openPeak <= 2, `open handles peaked at ${storage.openPeak}`);
    assert.equal(store.dirtyClosedCount(), 0);
    store.flush();
    assert.equal(storage.syncs.length, 10, 'nothing written since: nothing to sync');
    // A file evicted dirty and reopened (here by a read) is synced once, through its new handle.
    store.put('T', 0, 1, unit(1000));
    store.commit();
    for (let queueId = 1; queueId < 4; queueId++) store.read('T', queueId, 0, 1);
    assert.equal(store.dirtyClosedCount(), 1);
    store.read('T', 0, 0, 1);
    assert.equal(store.dirtyClosedCount(), 0);
    store.flush();
    assert.deepEqual(storage.syncs.slice(10), [queueFile(rootDir, 'T', 0, 0)]);
    store.close();
  });
});

test('flush skips an evicted dirty file that was deleted since', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage();
    const store = open(rootDir, 200, 1, storage);
    store.put('T', 0, 0, unit(0));
    store.put('T', 1, 0, unit(100));
    store.commit();
    assert.equal(store.dirtyClosedCount(), 1);
    fs.rmSync(queueFile(rootDir, 'T', 0, 0));
    store.flush();
    assert.equal(store.dirtyClosedCount(), 0);
    assert.deepEqual(storage.syncs, [queueFile(rootDir, 'T', 1, 0)]);
    store.close();
  });
});

test('300 queues with openFilesMax 8: one pwritev per queue per commit, bounded handles, all synced and reloaded', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage({ realSync: false });
    const store = open(rootDir, 200, 8, storage);
    let physicalOffset = 0;
    for (let round = 0; round < 3; round++) {
      const writes = storage.pwrites.length;
      for (let n = round * 4; n < round * 4 + 4; n++) {
        for (let queueId = 0; queueId < 300; queueId++) {
          store.put(`T${queueId % 7}`, queueId, n, unit(physicalOffset, 10, queueId));
          physicalOffset += 10;
        }
      }
      store.commit();
      // Rounds of 4 units in files of 10: round 2 (units 8..11) crosses into a second file.
      assert.equal(storage.pwrites.length - writes, round === 2 ? 600 : 300);
      assert.ok(store.openFileCount() <= 8);
    }
    assert.equal(storage.syncs.length, 0);
    store.flush();
    assert.equal(storage.syncs.length, 600);
    assert.equal(new Set(storage.syncs).size, 600);
    assert.ok(storage.openPeak <= 8, `open handles peaked at ${storage.openPeak}`);
    assert.equal(store.queueCount(), 300);
    store.close();
    assert.equal(storage.openNow, 0);
    const reopened = open(rootDir, 200, 8, storage);
    assert.deepEqual(reopened.load(), { queueCount: 300, fileCount: 600, entryCount: 3600, repairedQueueCount: 0, emptyFilesRemoved: [] });
    const entries = reopened.read('T5', 299, 0, 100);
    assert.equal(entries.length, 12);
    assert.ok(entries.every((entry) => entry.tagsCode === 299));
    reopened.close();
  });
});

test('takeChanged reports each changed queue once with its current min and max, then clears', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    store.put('A', 0, 0, unit(0));
    store.put('A', 0, 1, unit(100));
    store.put('B', 1, 5, unit(200));
    const byName = (changes: ReturnType<ConsumeQueueStore['takeChanged']>): string[] =>
      changes.map((c) => `${c.topic}/${c.queueId} ${c.minQueueOffset}..${c.maxQueueOffset}`).sort();
    assert.deepEqual(byName(store.takeChanged()), ['A/0 0..2', 'B/1 5..6']);
    assert.deepEqual(store.takeChanged(), []);
    assert.equal(store.put('A', 0, 1, unit(100)), 'duplicate');
    store.commit();
    assert.deepEqual(store.takeChanged(), [], 'a duplicate or a commit changes no offset');
    store.put('A', 0, 2, unit(300));
    store.put('C', 0, 0, unit(400));
    assert.deepEqual(byName(store.takeChanged()), ['A/0 0..3', 'C/0 0..1']);
    assert.equal(store.truncateAfter(300), 2);
    assert.deepEqual(byName(store.takeChanged()), ['A/0 0..2', 'C/0 0..0']);
    store.deleteQueue('B', 1);
    assert.deepEqual(byName(store.takeChanged()), ['B/1 0..0']);
    store.put('A', 0, 2, unit(300));
    store.close();
    const reopened = open(rootDir, 200);
    reopened.load();
    assert.deepEqual(byName(reopened.takeChanged()), ['A/0 0..3']);
    assert.deepEqual(reopened.takeChanged(), []);
    reopened.close();
  });
});

test('deleteExpiredFiles deletes expired files from the oldest, keeps the last, and corrects min offsets', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    // A: 35 units at 0, 100, …, 3400 in files 0, 200, 400, 600 (10 units each, the last holds 5).
    for (let n = 0; n < 35; n++) store.put('A', 0, n, unit(n * 100));
    // B: 12 units at 5000.. in files 0 and 200, all below the new CommitLog min.
    for (let n = 0; n < 12; n++) store.put('B', 0, n, unit(5000 + n * 10, 10));
    // C: one file whose units straddle the min: offsets 0, 1000, …, 9000, min lands between.
    for (let n = 0; n < 10; n++) store.put('C', 0, n, unit(n * 1000));
    store.takeChanged();

    assert.equal(store.deleteExpiredFiles(1500), 1, 'A loses file 0 (last unit 900); its file 200 ends at 1900');
    assert.deepEqual(fs.readdirSync(path.join(rootDir, 'A', '0')).sort(), ['00000000000000000200', '00000000000000000400', '00000000000000000600']);
    assert.equal(store.minQueueOffset('A', 0), 15);
    assert.equal(store.maxQueueOffset('A', 0), 35);
    assert.deepEqual(store.read('A', 0, 10, 100), []);
    assert.equal(store.get('A', 0, 14), null);
    assert.deepEqual(store.get('A', 0, 15), unit(1500));
    assert.equal(store.minQueueOffset('C', 0), 2);
    assert.equal(store.fileCountOf('C', 0), 1);
    assert.equal(store.minQueueOffset('B', 0), 0, 'B lies above 1500');

    assert.equal(store.deleteExpiredFiles(100000), 2 + 1, 'A loses files 200 and 400, B its file 0');
    assert.equal(store.fileCountOf('A', 0), 1, 'the last file is never deleted');
    assert.equal(store.fileCountOf('B', 0), 1);
    assert.equal(store.fileCountOf('C', 0), 1);
    for (const topic of ['A', 'B', 'C']) {
      assert.equal(store.minQueueOffset(topic, 0), store.maxQueueOffset(topic, 0), `${topic}: min = max`);
      assert.equal(store.lastUnit(topic, 0), null);
      assert.deepEqual(store.read(topic, 0, 0, 100), []);
    }
    assert.deepEqual(
      store.takeChanged().map((c) => `${c.topic} ${c.minQueueOffset}..${c.maxQueueOffset}`).sort(),
      ['A 35..35', 'B 12..12', 'C 10..10'],
    );
    assert.equal(store.put('B', 0, 12, unit(200000)), 'written');
    assert.equal(store.minQueueOffset('B', 0), 12);
    assert.deepEqual(store.read('B', 0, 12, 100), [unit(200000)]);
    store.close();
  });
});

test('deleteExpiredFiles stops at the first file that is not expired, and corrects the min again after a reload', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    for (let n = 0; n < 35; n++) store.put('A', 0, n, unit(n * 100));
    store.close();
    // Make file 0's last unit point far ahead: files 200 and 400 are expired but come after it.
    const fd = fs.openSync(queueFile(rootDir, 'A', 0, 0), 'r+');
    const far = Buffer.alloc(CQ_ENTRY_BYTES);
    writeConsumeQueueEntry(far, 0, unit(900000));
    fs.writeSync(fd, far, 0, CQ_ENTRY_BYTES, 180);
    fs.closeSync(fd);

    const reopened = open(rootDir, 200);
    reopened.load();
    assert.equal(reopened.deleteExpiredFiles(2500), 0);
    assert.equal(reopened.fileCountOf('A', 0), 4);
    assert.equal(reopened.minQueueOffset('A', 0), 25, 'the min still moves to the first unit at or past 2500');
    reopened.close();

    const again = open(rootDir, 200);
    again.load();
    assert.equal(again.minQueueOffset('A', 0), 0, 'load alone knows no CommitLog min');
    assert.equal(again.deleteExpiredFiles(2500), 0);
    assert.equal(again.minQueueOffset('A', 0), 25);
    again.close();
  });
});

test('deleteExpiredFiles sees pending units and leaves min alone when nothing expired', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    for (let n = 0; n < 25; n++) store.put('A', 0, n, unit(1000 + n * 100));
    assert.equal(store.deleteExpiredFiles(1000), 0);
    assert.equal(store.minQueueOffset('A', 0), 0);
    assert.equal(store.deleteExpiredFiles(2050), 1);
    assert.equal(store.minQueueOffset('A', 0), 11);
    assert.equal(store.pendingBytes(), 0);
    store.close();
  });
});

test('lastUnit is the unit at max − 1; deleteQueue removes every file and a later put starts the queue afresh', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    for (let n = 0; n < 23; n++) store.put('T', 3, n, unit(n * 100, 100, n));
    store.put('Pending', 0, 4, unit(9000));
    store.put('Other', 0, 0, unit(9900));
    store.commit();
    for (let n = 23; n < 26; n++) store.put('T', 3, n, unit(n * 100, 100, n));
    assert.deepEqual(store.lastUnit('T', 3), { queueOffset: 25, entry: unit(2500, 100, 25) });
    store.commit();
    assert.deepEqual(store.lastUnit('T', 3), { queueOffset: 25, entry: unit(2500, 100, 25) });

    store.put('T', 3, 26, unit(2600));
    store.deleteQueue('T', 3);
    assert.equal(fs.existsSync(path.join(rootDir, 'T', '3')), false, 'files and directory gone');
    assert.equal(store.maxQueueOffset('T', 3), 0);
    assert.equal(store.maxPhysicalOffsetOf('T', 3), -1);
    assert.equal(store.lastUnit('T', 3), null);
    assert.deepEqual(store.read('T', 3, 0, 10), []);
    assert.equal(store.queueCount(), 2);
    store.deleteQueue('nope', 0);

    assert.equal(store.put('T', 3, 40, unit(100)), 'written', 'a rebuilt queue may restart below the old max physical offset');
    assert.equal(store.minQueueOffset('T', 3), 40);
    store.flush();
    assert.deepEqual(fs.readdirSync(path.join(rootDir, 'T', '3')), ['00000000000000000800']);
    store.put('Pending', 0, 5, unit(9100));
    store.deleteQueue('Pending', 0);
    assert.equal(store.pendingBytes(), 0);
    store.close();
    assert.equal(fs.existsSync(path.join(rootDir, 'Pending', '0')), false);
    const fresh = open(rootDir, 200);
    fresh.put('Fresh', 0, 0, unit(0));
    fresh.deleteQueue('Fresh', 0);
    fresh.close();
    assert.equal(fs.existsSync(path.join(rootDir, 'Fresh')), false, 'a queue deleted before its first commit never reaches the disk');

    const reopened = open(rootDir, 200);
    assert.equal(reopened.load().queueCount, 2);
    assert.equal(reopened.minQueueOffset('T', 3), 40);
    assert.deepEqual(reopened.lastUnit('T', 3), { queueOffset: 40, entry: unit(100) });
    reopened.close();
  });
});

test('units on disk are 20-byte big-endian int64 offset, int32 size, int64 tags code, in queue order', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    const entries = [unit(2 ** 40 + 3, 4096, -123456), unit(2 ** 40 + 4099, 17, 2 ** 33 + 5), unit(2 ** 40 + 4116, 2147483647 - 1, 0)];
    for (const [n, entry] of entries.entries()) store.put('T', 0, n, entry);
    store.commit();
    store.put('T', 0, 3, unit(2 ** 41, 1, -1));
    store.close();
    const bytes = fs.readFileSync(queueFile(rootDir, 'T', 0, 0));
    assert.equal(bytes.length, 200);
    for (const [n, entry] of [...entries, unit(2 ** 41, 1, -1)].entries()) {
      const at = n * 20;
      assert.equal(bytes.readBigInt64BE(at), BigInt(entry.physicalOffset));
      assert.equal(bytes.readInt32BE(at + 8), entry.sizeBytes);
      assert.equal(bytes.readBigInt64BE(at + 12), BigInt(entry.tagsCode));
    }
    assert.equal(bytes.subarray(0, 20).toString('hex'), '0000010000000003' + '00001000' + 'fffffffffffe1dc0');
    assert.ok(bytes.subarray(80).every((byte) => byte === 0));
  });
});

test('a failed commit throws a typed error, keeps the units pending, and the next commit writes them', () => {
  withTempDir((rootDir) => {
    const storage = new CountingStorage();
    const store = open(rootDir, 200, 256, storage);
    for (let n = 0; n < 5; n++) store.put('A', 0, n, unit(n * 100));
    store.commit();
    for (let n = 5; n < 15; n++) store.put('A', 0, n, unit(n * 100));
    for (let n = 0; n < 3; n++) store.put('B', 0, n, unit(5000 + n * 100));
    storage.failNextPwritevOn = `${path.sep}00000000000000000200`;
    assert.throws(
      () => store.commit(),
      (error: unknown) => error instanceof StoreError && error.code === 'E_STORE_IO' && /00000000000000000200/.test(error.message),
    );
    assert.ok(store.pendingBytes() >= 10 * CQ_ENTRY_BYTES, 'A keeps its units pending');
    assert.equal(store.maxQueueOffset('A', 0), 15);
    assert.deepEqual(store.read('A', 0, 0, 100), Array.from({ length: 15 }, (_, n) => unit(n * 100)));
    store.commit();
    assert.equal(store.pendingBytes(), 0);
    store.close();
    const reopened = open(rootDir, 200);
    reopened.load();
    assert.deepEqual(reopened.read('A', 0, 0, 100), Array.from({ length: 15 }, (_, n) => unit(n * 100)));
    assert.deepEqual(reopened.read('B', 0, 0, 100), [0, 1, 2].map((n) => unit(5000 + n * 100)));
    reopened.close();
  });
});

test('close commits pending units and a closed store refuses commit', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    store.put('T', 0, 0, unit(0));
    store.close();
    assert.deepEqual(readConsumeQueueEntry(fs.readFileSync(queueFile(rootDir, 'T', 0, 0)), 0), unit(0));
    assert.throws(() => store.commit(), (error: unknown) => error instanceof StoreError && error.code === 'E_STORE_CLOSED');
  });
});

test('a topic that is not a safe directory name gets an encoded directory with its name inside, and loads back', () => {
  withTempDir((rootDir) => {
    const topics = ['t'.repeat(300), '\u00e9'.repeat(128), 'a/b', '..', '%MQST%plain', 'Plain_Topic-1%RETRY%|x'];
    const store = open(rootDir, 200);
    topics.forEach((topic, i) => assert.equal(store.put(topic, 0, 0, unit(i * 100)), 'written'));
    store.close();
    const names = fs.readdirSync(rootDir).sort();
    // Only the RocketMQ-style topic keeps its own name; '..' and 'a/b' never escape rootDir.
    assert.deepEqual(names.filter((n) => !n.startsWith('%MQST%')), ['Plain_Topic-1%RETRY%|x']);
    for (const name of names.filter((n) => n.startsWith('%MQST%'))) {
      assert.match(name, /^%MQST%[0-9a-f]{64}$/);
      const topic = fs.readFileSync(path.join(rootDir, name, 'topic'), 'utf8');
      assert.ok(topics.includes(topic), `${name} names one of the topics`);
    }
    const reopened = open(rootDir, 200);
    reopened.load();
    for (const [i, topic] of topics.entries()) {
      assert.equal(reopened.maxQueueOffset(topic, 0), 1, topic);
      assert.equal(reopened.get(topic, 0, 0)?.physicalOffset, i * 100, topic);
    }
    reopened.close();
  });
});

test('an encoded topic directory without a matching name file is removed at load', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    store.put('a/b', 0, 0, unit(0));
    store.close();
    const [name] = fs.readdirSync(rootDir);
    fs.writeFileSync(path.join(rootDir, name!, 'topic'), 'another topic');
    const reopened = open(rootDir, 200);
    reopened.load();
    assert.equal(reopened.queueCount(), 0);
    assert.deepEqual(fs.readdirSync(rootDir), []);
    reopened.close();
  });
});

test('a zero-length last file (a crash while creating it) is deleted at load and reported; other wrong sizes are corrupt', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 200);
    for (let i = 0; i < 12; i++) store.put('Zero', 0, i, unit(i * 100));
    store.close();
    const dir = path.join(rootDir, 'Zero', '0');
    const files = fs.readdirSync(dir).sort();
    assert.equal(files.length, 2);
    fs.truncateSync(path.join(dir, files[1]!), 0);
    const reopened = open(rootDir, 200);
    const summary = reopened.load();
    assert.deepEqual(summary.emptyFilesRemoved, [path.join(dir, files[1]!)]);
    assert.equal(reopened.maxQueueOffset('Zero', 0), 10, 'the units of the first file remain');
    assert.deepEqual(fs.readdirSync(dir), [files[0]]);
    reopened.close();
    fs.truncateSync(path.join(dir, files[0]!), 100);
    assert.throws(() => open(rootDir, 200).load(), { code: 'E_STORE_CORRUPT' });
  });
});

test('recovery ends a queue at a unit that starts before the previous one ended (damage)', () => {
  withTempDir((rootDir) => {
    const store = open(rootDir, 2000);
    for (let i = 0; i < 20; i++) store.put('Order', 0, i, unit(i * 100));
    store.close();
    const file = path.join(rootDir, 'Order', '0', '00000000000000000000');
    const bytes = fs.readFileSync(file);
    bytes.writeBigInt64BE(50n, 7 * 20); // unit 7 now points inside unit 0's record
    fs.writeFileSync(file, bytes);
    const reopened = open(rootDir, 2000);
    assert.equal(reopened.load().repairedQueueCount, 1);
    assert.equal(reopened.maxQueueOffset('Order', 0), 7, 'the queue ends before the damaged unit');
    reopened.close();
  });
});
