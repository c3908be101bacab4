// Goal: IndexService builds, rolls over, reloads, commits, repairs and truncates index files as
// RocketMQ's IndexService does, writing each change once and in crash-safe order.
// Method: real files in a temp dir per test through FsStorage or a counting wrapper around it;
// small layouts (8 slots × 16 entries, 64 × 400), one default-size sparse file; a fixed clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsStorage } from '../../../src/io/storage_fs.js';
import type { StorageFile } from '../../../src/io/storage.js';
import { INDEX_QUERY_CANDIDATES_MAX, IndexService, type IndexedMessage } from '../../../src/dispatcher/index_service.js';
import {
  entryPosition,
  HashIndexImage,
  type HashIndexLayout,
  INDEX_HEADER_BYTES,
  INDEX_SLOT_BYTES,
  INDEX_SLOT_PAGE_BYTES,
  indexFileSizeBytes,
  indexKey,
  indexKeyHash,
  MAX_HASH_SLOT_NUM_DEFAULT,
  MAX_INDEX_NUM_DEFAULT,
  readIndexHeader,
  slotPosition,
} from '../../../src/format/hash_index.js';
import { Prng } from '../../support/prng.js';

const HASH_SLOT_NUM = 8;
const INDEX_NUM = 16;
const ENTRIES_PER_FILE = INDEX_NUM - 1;
const SMALL: HashIndexLayout = { hashSlotNum: HASH_SLOT_NUM, indexNum: INDEX_NUM };
const MEDIUM: HashIndexLayout = { hashSlotNum: 64, indexNum: 400 };
/** A slot table of 16 KiB: five 4 KiB pages, for page-coalescing tests. */
const PAGED: HashIndexLayout = { hashSlotNum: 4096, indexNum: 400 };
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

interface WriteCall {
  name: string;
  position: number;
  lengthBytes: number;
}

/** FsStorage that records every pwritev, fdatasync and file creation, and counts bytes read. */
class CountingStorage extends FsStorage {
  writes: WriteCall[] = [];
  /** 'write <name>', 'fdatasync <name>', 'create <name>' in call order. */
  events: string[] = [];
  bytesRead = 0;

  override open(file: string, create: boolean): StorageFile {
    if (create) this.events.push(`create ${path.basename(file)}`);
    return super.open(file, create);
  }

  override pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    const lengthBytes = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
    this.writes.push({ name: path.basename(file.path), position, lengthBytes });
    this.events.push(`write ${path.basename(file.path)}`);
    super.pwritev(file, buffers, position);
  }

  override pread(file: StorageFile, target: Uint8Array, start: number, length: number, position: number): number {
    const bytesRead = super.pread(file, target, start, length, position);
    this.bytesRead += bytesRead;
    return bytesRead;
  }

  override fdatasync(file: StorageFile): void {
    this.events.push(`fdatasync ${path.basename(file.path)}`);
    super.fdatasync(file);
  }
}

interface ServiceOptions {
  layout?: HashIndexLayout;
  storage?: FsStorage;
  now?: () => Date;
  afterCrash?: boolean;
}

function createService(indexDir: string, options: ServiceOptions = {}): IndexService {
  const layout = options.layout ?? SMALL;
  const storage = options.storage ?? new FsStorage();
  const service = new IndexService(storage, { indexDir, ...layout, now: options.now ?? fixedClock() });
  service.load({ afterCrash: options.afterCrash ?? false });
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

/** Slot values of a file's bytes. */
function slotValues(bytes: Buffer, layout: HashIndexLayout): number[] {
  const values: number[] = [];
  for (let slot = 0; slot < layout.hashSlotNum; slot++) {
    values.push(bytes.readInt32BE(INDEX_HEADER_BYTES + slot * INDEX_SLOT_BYTES));
  }
  return values;
}

/** A key (`p<n>`) of TOPIC whose slot lies in file page `page`, other than those in `taken`. */
function keyInPage(page: number, layout: HashIndexLayout, taken: string[] = []): string {
  for (let n = 0; n < 1_000_000; n++) {
    const key = `p${n}`;
    const slotAt = slotPosition(indexKeyHash(indexKey(TOPIC, key)), layout.hashSlotNum);
    if (Math.floor(slotAt / INDEX_SLOT_PAGE_BYTES) === page && !taken.includes(key)) return key;
  }
  throw new Error(`no key in page ${page}`);
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
    service.commit();
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
    service.commit(); // the full file is on disk already; the active one needs a commit
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

test('queries walk every file newest first and return at most maxNum offsets (capped at INDEX_QUERY_CANDIDATES_MAX)', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    for (let i = 0; i < 70; i++) service.buildIndex(message(i * 10, ['k']));
    assert.equal(service.fileCount(), Math.ceil(70 / ENTRIES_PER_FILE));
    const all = query(service, 'k', 1000);
    assert.equal(all.length, 70, 'every match: the store checks each on its record');
    assert.equal(all[0], 690);
    assert.equal(all[69], 0);
    const some = query(service, 'k', 64);
    assert.equal(some.length, 64, "RocketMQ's maxMsgsNumBatch, when the caller asks for it");
    assert.equal(some[63], 60);
    assert.ok(INDEX_QUERY_CANDIDATES_MAX >= 64);
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
    const reloaded = createService(indexDir);
    assert.deepEqual(query(reloaded, 'Aa'), [100, 0]);
    assert.deepEqual(query(reloaded, 'BB'), [100, 0]);
    assert.equal(headerOf(indexDir, fileNames(indexDir)[0] ?? '').hashSlotCount, 1);
    reloaded.close();
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
    service.commit();
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

test('buildIndex writes nothing until commit, yet its keys are queryable at once', () => {
  withIndexDir((indexDir) => {
    const storage = new CountingStorage();
    const service = createService(indexDir, { layout: MEDIUM, storage });
    service.buildIndex(message(0, ['a']));
    const name = fileNames(indexDir)[0] ?? '';
    assert.deepEqual(storage.writes, [{ name, position: 0, lengthBytes: INDEX_HEADER_BYTES }]); // file creation
    for (let i = 1; i < 50; i++) service.buildIndex(message(i * 100, ['a', `b${i}`]));
    assert.equal(storage.writes.length, 1);
    assert.equal(query(service, 'a').length, 50);
    assert.deepEqual(query(service, 'b49'), [4900]);
    assert.equal(headerOf(indexDir, name).indexCount, 1); // still the header written at creation
    service.flush();
    assert.equal(headerOf(indexDir, name).indexCount, 1 + 50 + 49);
    service.close();
  });
});

test('commit writes new entries once, then dirty slot pages coalesced into runs, then the header', () => {
  withIndexDir((indexDir) => {
    const storage = new CountingStorage();
    const service = createService(indexDir, { layout: PAGED, storage });
    const keyPage0 = keyInPage(0, PAGED);
    const keyPage1 = keyInPage(1, PAGED);
    const keyPage3 = keyInPage(3, PAGED);
    const keyPage3b = keyInPage(3, PAGED, [keyPage3]);
    service.buildIndex(message(0, [keyPage0]));
    service.buildIndex(message(100, [keyPage1]));
    service.buildIndex(message(200, [keyPage3]));
    const name = fileNames(indexDir)[0] ?? '';
    const slotEnd = entryPosition(PAGED.hashSlotNum, 0);
    assert.equal(Math.ceil(slotEnd / INDEX_SLOT_PAGE_BYTES), 5);
    storage.writes = [];
    service.commit();
    assert.deepEqual(storage.writes, [
      { name, position: entryPosition(PAGED.hashSlotNum, 1), lengthBytes: 3 * 20 },
      { name, position: INDEX_HEADER_BYTES, lengthBytes: 2 * INDEX_SLOT_PAGE_BYTES - INDEX_HEADER_BYTES },
      { name, position: 3 * INDEX_SLOT_PAGE_BYTES, lengthBytes: INDEX_SLOT_PAGE_BYTES },
      { name, position: 0, lengthBytes: INDEX_HEADER_BYTES },
    ]);

    storage.writes = [];
    service.commit();
    assert.deepEqual(storage.writes, [], 'nothing changed, nothing written');

    service.buildIndex(message(300, [keyPage3b]));
    service.buildIndex(message(400, [keyPage3]));
    service.commit();
    assert.deepEqual(storage.writes, [
      { name, position: entryPosition(PAGED.hashSlotNum, 4), lengthBytes: 2 * 20 },
      { name, position: 3 * INDEX_SLOT_PAGE_BYTES, lengthBytes: INDEX_SLOT_PAGE_BYTES },
      { name, position: 0, lengthBytes: INDEX_HEADER_BYTES },
    ]);
    service.close();
    assert.deepEqual(query(createService(indexDir, { layout: PAGED }), keyPage3), [400, 200]);
  });
});

test('bytes on disk after each commit equal an image built by the codec from the same puts', () => {
  withIndexDir((indexDir) => {
    const random = new Prng(20240607);
    const service = createService(indexDir, { layout: MEDIUM });
    const expected = HashIndexImage.allocate(MEDIUM);
    expected.flushHeader();
    for (let i = 0; i < 150; i++) {
      const keys = [`k${random.below(40)}`, `k${random.below(40)}`];
      const physicalOffset = i * 100;
      const uniqKey = i % 3 === 0 ? `U${i}` : undefined;
      service.buildIndex(message(physicalOffset, keys, uniqKey === undefined ? {} : { uniqKey }));
      for (const key of uniqKey === undefined ? keys : [uniqKey, ...keys]) {
        expected.putKey(indexKey(TOPIC, key), physicalOffset, TIME_BASE_MS + physicalOffset);
      }
      if (random.below(10) === 0 || i === 149) {
        service.commit();
        const name = fileNames(indexDir)[0] ?? '';
        assert.ok(fs.readFileSync(path.join(indexDir, name)).equals(expected.buffer), `after message ${i}`);
      }
    }
    service.close();
  });
});

test('rolling over commits and fdatasyncs the full file before creating the next one', () => {
  withIndexDir((indexDir) => {
    const storage = new CountingStorage();
    const service = createService(indexDir, { storage });
    for (let i = 0; i < ENTRIES_PER_FILE + 1; i++) service.buildIndex(message(i * 100, ['k']));
    const [first, second] = fileNames(indexDir);
    assert.ok(first !== undefined && second !== undefined);
    const created = storage.events.indexOf(`create ${second}`);
    const synced = storage.events.lastIndexOf(`fdatasync ${first}`);
    const lastWrite = storage.events.lastIndexOf(`write ${first}`);
    assert.ok(lastWrite < synced && synced < created, storage.events.join(', '));
    const header = headerOf(indexDir, first);
    assert.equal(header.indexCount, INDEX_NUM);
    assert.equal(header.endPhyOffset, (ENTRIES_PER_FILE - 1) * 100);
    assert.equal(service.fullFileEndTimestamp(), header.endTimestamp);
    service.close();
  });
});

test('loading a default-size 420 MB file reads only the header, slot table and used entries', () => {
  withIndexDir((indexDir) => {
    const layout = { hashSlotNum: MAX_HASH_SLOT_NUM_DEFAULT, indexNum: MAX_INDEX_NUM_DEFAULT };
    const service = createService(indexDir, { layout });
    for (let i = 0; i < 10; i++) service.buildIndex(message(i * 100, ['k', `k${i}`]));
    service.close();
    const name = fileNames(indexDir)[0] ?? '';
    assert.equal(fs.statSync(path.join(indexDir, name)).size, indexFileSizeBytes());

    const storage = new CountingStorage();
    const reloaded = createService(indexDir, { layout, storage });
    assert.equal(storage.bytesRead, entryPosition(MAX_HASH_SLOT_NUM_DEFAULT, 21));
    assert.ok(storage.bytesRead < 25_000_000, `${storage.bytesRead} bytes read`);
    assert.equal(query(reloaded, 'k').length, 10);
    assert.deepEqual(query(reloaded, 'k7'), [700]);
    reloaded.buildIndex(message(1000, ['k']));
    assert.deepEqual(query(reloaded, 'k', 2), [1000, 900]);
    reloaded.close();
  });
});

/**
 * Offsets per key of `messages`, newest first: what a query over all time must return. A key
 * repeated in one message is indexed (and found) once per occurrence, as in RocketMQ.
 */
function expectedOffsets(messages: IndexedMessage[]): Map<string, number[]> {
  const offsets = new Map<string, number[]>();
  for (const entry of messages) {
    for (const key of entry.keys) offsets.set(key, [entry.physicalOffset, ...(offsets.get(key) ?? [])]);
  }
  return offsets;
}

/** Random messages at physical offsets from `first` (step 100), each with 1–2 keys from a pool. */
function randomMessages(random: Prng, first: number, count: number, pool: string): IndexedMessage[] {
  const messages: IndexedMessage[] = [];
  for (let i = 0; i < count; i++) {
    const keys = [`${pool}${random.below(25)}`];
    if (random.below(2) === 0) keys.push(`${pool}${random.below(25)}`);
    messages.push(message(first + i * 100, keys));
  }
  return messages;
}

test('load afterCrash rewinds slots written after the last header, so every key is found', () => {
  withIndexDir((indexDir) => {
    const random = new Prng(7);
    const before = randomMessages(random, 0, 60, 'a');
    const lost = randomMessages(random, 6000, 40, 'b'); // keys 'b…' only in the lost batch
    const service = createService(indexDir, { layout: MEDIUM });
    for (const entry of before) service.buildIndex(entry);
    service.flush();
    const name = fileNames(indexDir)[0] ?? '';
    const file = path.join(indexDir, name);
    const headerOld = fs.readFileSync(file).subarray(0, INDEX_HEADER_BYTES);
    const indexCountOld = readIndexHeader(headerOld).indexCount;
    for (const entry of lost) service.buildIndex(entry);
    service.close();
    // The crash: entries and slots of the second commit reached the file, its header did not.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, headerOld, 0, INDEX_HEADER_BYTES, 0);
    fs.closeSync(fd);
    const slotsOnDisk = slotValues(fs.readFileSync(file), MEDIUM);
    const slotsPastHeader = slotsOnDisk.filter((value) => value >= indexCountOld).length;
    assert.ok(slotsPastHeader > 0);

    const repaired = new IndexService(new FsStorage(), { indexDir, ...MEDIUM, now: fixedClock() });
    assert.deepEqual(repaired.load({ afterCrash: true }), { slotsRepaired: slotsPastHeader });
    for (const [key, offsets] of expectedOffsets(before)) assert.deepEqual(query(repaired, key), offsets, key);
    for (let b = 0; b < 25; b++) assert.deepEqual(query(repaired, `b${b}`), []);
    const bytes = fs.readFileSync(file); // the repair was flushed by load
    const header = readIndexHeader(bytes);
    const slots = slotValues(bytes, MEDIUM);
    assert.equal(header.indexCount, indexCountOld);
    assert.equal(header.endPhyOffset, 5900);
    assert.equal(header.hashSlotCount, slots.filter((value) => value !== 0).length);
    assert.ok(slots.every((value) => value < indexCountOld));

    // Re-dispatch of the lost batch indexes it again, on top of the repaired chains.
    for (const entry of lost) repaired.buildIndex(entry);
    repaired.close();
    const reloaded = createService(indexDir, { layout: MEDIUM });
    for (const [key, offsets] of expectedOffsets([...before, ...lost])) {
      assert.deepEqual(query(reloaded, key), offsets, key);
    }
    reloaded.close();
  });
});

test('load afterCrash with entries written but neither slots nor header repairs nothing', () => {
  withIndexDir((indexDir) => {
    const random = new Prng(8);
    const before = randomMessages(random, 0, 30, 'a');
    const service = createService(indexDir, { layout: MEDIUM });
    for (const entry of before) service.buildIndex(entry);
    service.flush();
    const file = path.join(indexDir, fileNames(indexDir)[0] ?? '');
    const headerAndSlots = fs.readFileSync(file).subarray(0, entryPosition(MEDIUM.hashSlotNum, 0));
    for (const entry of randomMessages(random, 3000, 30, 'a')) service.buildIndex(entry);
    service.close();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, headerAndSlots, 0, headerAndSlots.length, 0);
    fs.closeSync(fd);

    const repaired = new IndexService(new FsStorage(), { indexDir, ...MEDIUM, now: fixedClock() });
    assert.deepEqual(repaired.load({ afterCrash: true }), { slotsRepaired: 0 });
    for (const [key, offsets] of expectedOffsets(before)) assert.deepEqual(query(repaired, key), offsets, key);
    assert.equal(repaired.endPhyOffset(), 2900);
    repaired.close();
  });
});

test('truncateAfter in the middle of the active file lets a re-dispatch index later offsets again', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir, { layout: MEDIUM });
    for (let i = 0; i < 20; i++) service.buildIndex(message(i * 100, ['k', `k${i}`]));
    service.commit();
    // The old truncateAfter kept endPhyOffset 1900 here, so buildIndex skipped the rewritten
    // messages at 1100 and 1200 below and 'new' was never found.
    assert.equal(service.truncateAfter(1050), 1000);
    assert.equal(service.endPhyOffset(), 1000);
    assert.deepEqual(query(service, 'k', 3), [1000, 900, 800]);
    assert.deepEqual(query(service, 'k15'), []);
    service.buildIndex(message(1100, ['new']));
    service.buildIndex(message(1200, ['new', 'k']));
    assert.deepEqual(query(service, 'new'), [1200, 1100]);
    assert.deepEqual(query(service, 'k', 3), [1200, 1000, 900]);
    assert.equal(service.truncateAfter(1200), 1100, 'an entry at exactly physicalOffset goes too');
    assert.deepEqual(query(service, 'new'), [1100]);
    service.close();

    const reloaded = createService(indexDir, { layout: MEDIUM });
    assert.deepEqual(query(reloaded, 'new'), [1100]);
    assert.deepEqual(query(reloaded, 'k', 2), [1000, 900]);
    assert.deepEqual(query(reloaded, 'k15'), []);
    const bytes = fs.readFileSync(path.join(indexDir, fileNames(indexDir)[0] ?? ''));
    const header = readIndexHeader(bytes);
    assert.equal(header.indexCount, 1 + 11 * 2 + 1);
    assert.equal(header.endPhyOffset, 1100);
    assert.equal(header.hashSlotCount, slotValues(bytes, MEDIUM).filter((value) => value !== 0).length);
    reloaded.close();
  });
});

test('truncateAfter across files deletes newer files and rewinds the newest kept one', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    for (let i = 0; i < 40; i++) service.buildIndex(message(i * 100, ['k']));
    const names = fileNames(indexDir);
    assert.equal(names.length, 3);
    assert.equal(service.truncateAfter(2050), 2000);
    assert.deepEqual(fileNames(indexDir), names.slice(0, 2));
    assert.equal(service.fileCount(), 2);
    assert.equal(headerOf(indexDir, names[1] ?? '').indexCount, 1 + 6);
    assert.deepEqual(query(service, 'k', 64), Array.from({ length: 21 }, (_, i) => (20 - i) * 100));
    for (let i = 21; i < 40; i++) service.buildIndex(message(i * 100, ['k2']));
    assert.equal(fileNames(indexDir).length, 3);
    service.close();

    const reloaded = createService(indexDir);
    assert.equal(query(reloaded, 'k2').length, 19);
    assert.equal(query(reloaded, 'k').length, 21);
    assert.equal(reloaded.endPhyOffset(), 3900);
    assert.equal(reloaded.truncateAfter(1500), 1400, 'a file beginning exactly at the offset goes');
    assert.deepEqual(fileNames(indexDir), names.slice(0, 1));
    reloaded.close();
  });
});

test('deleteExpiredFiles deletes oldest files ending below the minimum offset, never the active one', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    assert.equal(service.deleteExpiredFiles(1_000_000), 0);
    for (let i = 0; i < 40; i++) service.buildIndex(message(i * 100, ['k']));
    const names = fileNames(indexDir);
    assert.equal(names.length, 3); // ends 1400, 2900, 3900
    assert.equal(service.deleteExpiredFiles(1400), 0);
    assert.equal(service.deleteExpiredFiles(1401), 1);
    assert.deepEqual(fileNames(indexDir), names.slice(1));
    assert.equal(service.deleteExpiredFiles(1_000_000), 1);
    assert.deepEqual(fileNames(indexDir), names.slice(2));
    assert.equal(service.fileCount(), 1);
    assert.equal(query(service, 'k').length, 10);
    assert.equal(service.fullFileEndTimestamp(), 0);
    service.close();
    assert.equal(createService(indexDir).fileCount(), 1);
  });
});

test('lastUpdate and fullFileEndTimestamp report the active and the newest full file', () => {
  withIndexDir((indexDir) => {
    const service = createService(indexDir);
    assert.deepEqual(service.lastUpdate(), { timestamp: 0, physicalOffset: 0 });
    assert.equal(service.fullFileEndTimestamp(), 0);
    for (let i = 0; i < 10; i++) service.buildIndex(message(i * 100, ['k']));
    assert.deepEqual(service.lastUpdate(), { timestamp: TIME_BASE_MS + 900, physicalOffset: 900 });
    assert.equal(service.fullFileEndTimestamp(), 0);
    for (let i = 10; i < 35; i++) service.buildIndex(message(i * 100, ['k']));
    assert.deepEqual(service.lastUpdate(), { timestamp: TIME_BASE_MS + 3400, physicalOffset: 3400 });
    assert.equal(service.fullFileEndTimestamp(), TIME_BASE_MS + 2900);
    service.close();
    const reloaded = createService(indexDir);
    assert.deepEqual(reloaded.lastUpdate(), { timestamp: TIME_BASE_MS + 3400, physicalOffset: 3400 });
    assert.equal(reloaded.fullFileEndTimestamp(), TIME_BASE_MS + 2900);
    reloaded.close();
  });
});
