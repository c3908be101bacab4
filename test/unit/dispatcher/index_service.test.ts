// Goal: IndexService builds, rolls over, reloads and truncates index files as RocketMQ's IndexService does.
// Method: real files through FsStorage in a temp dir per test, small layouts (8 slots × 16 entries), a fixed clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsStorage } from '../../../src/io/storage_fs.js';
import { IndexService, type IndexedMessage } from '../../../src/dispatcher/index_service.js';
import { indexFileSizeBytes, readIndexHeader } from '../../../src/format/hash_index.js';

const HASH_SLOT_NUM = 8;
const INDEX_NUM = 16;
const ENTRIES_PER_FILE = INDEX_NUM - 1;
const TIME_BASE_MS = 1_700_000_000_000;
const TIME_MAX_MS = Number.MAX_SAFE_INTEGER;
const TOPIC = 'TopicTest';

function withIndexDir(run: (indexDir: string) => void): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-idx-'));
  try {
    run(path.join(root, 'index'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** A clock that moves one second per call, so every new file has a distinct, known name. */
function fixedClock(): () => Date {
  let calls = 0;
  return () => new Date(2024, 0, 2, 3, 4, 5, 6 + calls++ * 1000);
}

function createService(indexDir: string, now = fixedClock()): IndexService {
  const service = new IndexService(new FsStorage(), { indexDir, hashSlotNum: HASH_SLOT_NUM, indexNum: INDEX_NUM, now });
  service.load();
  return service;
}

function message(physicalOffset: number, keys: string[], extra: Partial<IndexedMessage> = {}): IndexedMessage {
  return { topic: TOPIC, keys, physicalOffset, storeTimestamp: TIME_BASE_MS + physicalOffset, sysFlag: 0, ...extra };
}

function query(service: IndexService, key: string, maxNum = 64): number[] {
  return service.queryOffsets(TOPIC, key, maxNum, 0, TIME_MAX_MS).physicalOffsets;
}

function fileNames(indexDir: string): string[] {
  return fs.readdirSync(indexDir).sort();
}

function headerOf(indexDir: string, name: string): ReturnType<typeof readIndexHeader> {
  return readIndexHeader(fs.readFileSync(path.join(indexDir, name)));
}

test('keys are found after build, with index last-update values', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    service.buildIndex(message(0, ['a', 'b']));
    service.buildIndex(message(100, ['a', '']));
    service.buildIndex(message(200, ['c']));
    assert.deepEqual(query(service, 'a'), [100, 0]);
    assert.deepEqual(query(service, 'b'), [0]);
    assert.deepEqual(query(service, 'c'), [200]);
    assert.deepEqual(query(service, 'missing'), []);
    assert.deepEqual(service.queryOffsets('OtherTopic', 'a', 64, 0, TIME_MAX_MS).physicalOffsets, []);
    const result = service.queryOffsets(TOPIC, 'a', 1, 0, TIME_MAX_MS);
    assert.deepEqual(result, { physicalOffsets: [100], indexLastUpdateTimestamp: TIME_BASE_MS + 200, indexLastUpdatePhyoffset: 200 });
    assert.equal(service.endPhyOffset(), 200);
    assert.deepEqual(fileNames(indexDir), ['20240102030405006']);
    assert.equal(fs.statSync(path.join(indexDir, '20240102030405006')).size, indexFileSizeBytes(HASH_SLOT_NUM, INDEX_NUM));
    service.close();
  });
});

test('uniqKey is indexed under topic#uniqKey', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    service.buildIndex(message(0, ['k'], { uniqKey: 'UNIQ0001' }));
    assert.deepEqual(query(service, 'UNIQ0001'), [0]);
    assert.deepEqual(query(service, 'k'), [0]);
    assert.equal(headerOf(indexDir, fileNames(indexDir)[0] ?? '').indexCount, 3);
    service.close();
  });
});

test('rollback transaction records are not indexed', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    service.buildIndex(message(0, ['k'], { sysFlag: 0xc }));
    service.buildIndex(message(100, ['k'], { sysFlag: 0x8 })); // commit: indexed
    service.buildIndex(message(200, ['k'], { sysFlag: 0x4 })); // prepared: indexed, as in RocketMQ
    assert.deepEqual(query(service, 'k'), [200, 100]);
    service.close();
  });
});

test('re-dispatch of an already-indexed offset is skipped', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    service.buildIndex(message(0, ['k']));
    service.buildIndex(message(100, ['k']));
    service.buildIndex(message(200, ['k']));
    service.buildIndex(message(0, ['k']));
    service.buildIndex(message(100, ['k', 'other']));
    assert.deepEqual(query(service, 'k'), [200, 100, 0]);
    assert.deepEqual(query(service, 'other'), []);
    service.close();
  });
});

test('full file rolls over to a new file that continues its header and queries span both newest first', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    // 7 messages × 2 keys = 14 entries; message 8's second key is the 16th entry and rolls over.
    for (let i = 0; i < 10; i++) service.buildIndex(message(i * 100, ['k', `k${i}`]));
    const names = fileNames(indexDir);
    assert.deepEqual(names, ['20240102030405006', '20240102030406006']);
    const first = headerOf(indexDir, names[0] ?? '');
    const second = headerOf(indexDir, names[1] ?? '');
    assert.equal(first.indexCount, INDEX_NUM);
    assert.equal(first.endPhyOffset, 700);
    assert.equal(second.beginPhyOffset, first.endPhyOffset);
    assert.equal(second.beginTimestamp, first.endTimestamp);
    assert.equal(second.endPhyOffset, 900);
    assert.equal(second.indexCount, 1 + 1 + 2 * 2);
    assert.deepEqual(query(service, 'k'), [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    assert.deepEqual(query(service, 'k', 3), [900, 800, 700]);
    assert.deepEqual(query(service, 'k7'), [700]);
    assert.deepEqual(query(service, 'k1'), [100]);
    assert.equal(service.fileCount(), 2);
    service.close();
  });
});

test('queries return at most 64 offsets across many files', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    for (let i = 0; i < 70; i++) service.buildIndex(message(i * 10, ['k']));
    assert.equal(service.fileCount(), Math.ceil(70 / ENTRIES_PER_FILE));
    const offsets = query(service, 'k', 1000);
    assert.equal(offsets.length, 64);
    assert.equal(offsets[0], 690);
    assert.equal(offsets[63], 60);
    service.close();
  });
});

test('colliding keys Aa and BB are both returned by hash for the caller to filter', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    service.buildIndex(message(0, ['Aa']));
    service.buildIndex(message(100, ['BB']));
    assert.deepEqual(query(service, 'Aa'), [100, 0]);
    assert.deepEqual(query(service, 'BB'), [100, 0]);
    service.close();
  });
});

test('time window keeps only entries stored inside it, across files', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    const at = (i: number): IndexedMessage => message(i * 100, ['k'], { storeTimestamp: TIME_BASE_MS + i * 10_000 });
    for (let i = 0; i < 20; i++) service.buildIndex(at(i));
    assert.equal(service.fileCount(), 2);
    const window = (beginMs: number, endMs: number): number[] =>
      service.queryOffsets(TOPIC, 'k', 64, TIME_BASE_MS + beginMs, TIME_BASE_MS + endMs).physicalOffsets;
    assert.deepEqual(window(5_000, 25_000), [200, 100]);
    assert.deepEqual(window(140_000, 160_000), [1600, 1500, 1400]);
    assert.deepEqual(window(185_000, 1_000_000), [1900]);
    assert.deepEqual(window(-1_000_000, -1), []);
    service.close();
  });
});

test('load after close finds everything and keeps indexing in the last file', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    for (let i = 0; i < 20; i++) service.buildIndex(message(i * 100, ['k', `k${i}`]));
    service.close();

    const reloaded = createService(indexDir);
    assert.equal(reloaded.fileCount(), 3);
    assert.equal(reloaded.endPhyOffset(), 1900);
    assert.equal(query(reloaded, 'k').length, 20);
    assert.deepEqual(query(reloaded, 'k3'), [300]);
    reloaded.buildIndex(message(1500, ['late'])); // already indexed: skipped
    reloaded.buildIndex(message(2000, ['k']));
    assert.deepEqual(query(reloaded, 'late'), []);
    assert.deepEqual(query(reloaded, 'k', 2), [2000, 1900]);
    reloaded.close();
    assert.equal(fileNames(indexDir).length, 3);
  });
});

test('truncateAfter deletes newer files and reports the newest remaining endPhyOffset', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    for (let i = 0; i < 40; i++) service.buildIndex(message(i * 100, ['k']));
    const names = fileNames(indexDir);
    assert.equal(names.length, 3);
    const third = headerOf(indexDir, names[2] ?? '');
    assert.equal(third.beginPhyOffset, 3000);
    assert.equal(service.truncateAfter(5000), 3900); // nothing to delete
    assert.equal(service.truncateAfter(3000), 2900);
    assert.deepEqual(fileNames(indexDir), names.slice(0, 2));
    assert.equal(service.endPhyOffset(), 2900);
    assert.deepEqual(query(service, 'k', 2), [2900, 2800]);
    service.buildIndex(message(3000, ['k'])); // re-dispatch continues in a new file
    assert.deepEqual(query(service, 'k', 2), [3000, 2900]);
    assert.equal(service.truncateAfter(0), 0);
    assert.deepEqual(fileNames(indexDir), []);
    assert.deepEqual(query(service, 'k'), []);
    service.close();
  });
});
