// Goal: the queue offset table counts only offset-taking records and its snapshot file round-trips or is refused.
// Method: takesQueueOffset over every transaction type and extra SYSFLAG bits; observe/entries; snapshot files in a fresh tmp dir.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  SYSFLAG_BORNHOST_V6,
  SYSFLAG_COMPRESSED,
  SYSFLAG_MULTI_TAGS,
  SYSFLAG_STOREHOST_V6,
  SYSFLAG_TRANSACTION_COMMIT,
  SYSFLAG_TRANSACTION_NOT,
  SYSFLAG_TRANSACTION_PREPARED,
  SYSFLAG_TRANSACTION_ROLLBACK,
} from '../../../src/format/commit_log_record.js';
import { FsStorage } from '../../../src/io/storage_fs.js';
import {
  encodeQueueOffsetSnapshot,
  type QueueOffsetEntry,
  QueueOffsetTable,
  QUEUE_OFFSETS_FILE,
  readQueueOffsetSnapshot,
  takesQueueOffset,
} from '../../../src/recovery/queue_offset_table.js';

function withRoot(fn: (rootDir: string) => void): void {
  const rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-queue-offsets-'));
  try {
    fn(rootDir);
  } finally {
    fs.rmSync(rootDir, { recursive: true, force: true });
  }
}

function writeSnapshotText(rootDir: string, text: string | Buffer): void {
  const file = path.join(rootDir, QUEUE_OFFSETS_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

function readBack(rootDir: string): ReturnType<typeof readQueueOffsetSnapshot> {
  return readQueueOffsetSnapshot(new FsStorage(), rootDir);
}

test('takesQueueOffset is true for NOT and COMMIT and false for PREPARED and ROLLBACK', () => {
  assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_NOT), true);
  assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_COMMIT), true);
  assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_PREPARED), false);
  assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_ROLLBACK), false);
});

test('takesQueueOffset looks only at the transaction bits', () => {
  const others = [
    SYSFLAG_COMPRESSED,
    SYSFLAG_MULTI_TAGS,
    SYSFLAG_BORNHOST_V6,
    SYSFLAG_STOREHOST_V6,
    SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6 | SYSFLAG_COMPRESSED,
    0x40, // NEED_UNWRAP
    0x80, // INNER_BATCH
    0x300, // COMPRESSION_TYPE ZLIB
  ];
  for (const extra of others) {
    assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_NOT | extra), true, `NOT | 0x${extra.toString(16)}`);
    assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_COMMIT | extra), true, `COMMIT | 0x${extra.toString(16)}`);
    assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_PREPARED | extra), false, `PREPARED | 0x${extra.toString(16)}`);
    assert.equal(takesQueueOffset(SYSFLAG_TRANSACTION_ROLLBACK | extra), false, `ROLLBACK | 0x${extra.toString(16)}`);
  }
});

test('observe keeps the next offset per topic and queue, one past the highest seen', () => {
  const table = new QueueOffsetTable();
  assert.deepEqual(table.entries(), []);
  table.observe('TopicA', 0, 0);
  table.observe('TopicA', 0, 1);
  table.observe('TopicA', 1, 0);
  table.observe('TopicB', 0, 41);
  assert.deepEqual(table.entries(), [
    ['TopicA', 0, 2],
    ['TopicA', 1, 1],
    ['TopicB', 0, 42],
  ]);
});

test('observe never moves a queue backwards when an older offset is seen later', () => {
  const table = new QueueOffsetTable();
  table.observe('TopicA', 3, 10);
  table.observe('TopicA', 3, 4);
  table.observe('TopicA', 3, 10);
  assert.deepEqual(table.entries(), [['TopicA', 3, 11]]);
});

test('fromEntries rebuilds a table that lists the same entries', () => {
  const entries: QueueOffsetEntry[] = [
    ['TopicA', 0, 7],
    ['TopicA', 5, 1],
    ['主题', 2, 2 ** 40],
  ];
  assert.deepEqual(QueueOffsetTable.fromEntries(entries).entries(), entries);
});

test('a snapshot round-trips through the file with its log end and every entry', () => {
  withRoot((rootDir) => {
    const entries: QueueOffsetEntry[] = [
      ['TopicA', 0, 3],
      ['TopicA', 12, 1],
      ['TopicB', 1, 2 ** 40 + 5],
      ['主题', 0, 9],
    ];
    writeSnapshotText(rootDir, encodeQueueOffsetSnapshot(123456789, entries));
    assert.deepEqual(readBack(rootDir), { physicalOffset: 123456789, entries });
  });
});

test('the snapshot file is versioned JSON keyed by topic then queue id', () => {
  const json: unknown = JSON.parse(encodeQueueOffsetSnapshot(4096, [['TopicA', 3, 8], ['TopicA', 0, 2]]).toString('utf8'));
  assert.deepEqual(json, { version: 1, physicalOffset: 4096, offsetTable: { TopicA: { '3': 8, '0': 2 } } });
});

test('an empty snapshot round-trips', () => {
  withRoot((rootDir) => {
    writeSnapshotText(rootDir, encodeQueueOffsetSnapshot(0, []));
    assert.deepEqual(readBack(rootDir), { physicalOffset: 0, entries: [] });
  });
});

test('a missing snapshot file reads as null', () => {
  withRoot((rootDir) => {
    assert.equal(readBack(rootDir), null);
  });
});

test('malformed JSON is refused', () => {
  const good = encodeQueueOffsetSnapshot(4096, [['TopicA', 0, 3]]).toString('utf8');
  for (const text of [good.slice(0, good.length - 5), '', 'not json', '{', 'null', '42', '"text"', '[]']) {
    withRoot((rootDir) => {
      writeSnapshotText(rootDir, text);
      assert.equal(readBack(rootDir), null, JSON.stringify(text));
    });
  }
});

test('a snapshot of another version is refused', () => {
  for (const version of [0, 2, '1', null]) {
    withRoot((rootDir) => {
      writeSnapshotText(rootDir, JSON.stringify({ version, physicalOffset: 0, offsetTable: {} }));
      assert.equal(readBack(rootDir), null, `version ${JSON.stringify(version)}`);
    });
  }
  withRoot((rootDir) => {
    writeSnapshotText(rootDir, JSON.stringify({ physicalOffset: 0, offsetTable: {} }));
    assert.equal(readBack(rootDir), null, 'no version');
  });
});

test('negative or non-integer next queue offsets are refused', () => {
  for (const next of [-1, -(2 ** 40), 1.5, '3', null, 2 ** 53]) {
    withRoot((rootDir) => {
      writeSnapshotText(rootDir, JSON.stringify({ version: 1, physicalOffset: 0, offsetTable: { TopicA: { '0': 1, '1': next } } }));
      assert.equal(readBack(rootDir), null, `next ${JSON.stringify(next)}`);
    });
  }
});

test('queue ids that are not non-negative integers are refused', () => {
  for (const queueId of ['-1', 'x', '1.5', '']) {
    withRoot((rootDir) => {
      writeSnapshotText(rootDir, JSON.stringify({ version: 1, physicalOffset: 0, offsetTable: { TopicA: { [queueId]: 1 } } }));
      assert.equal(readBack(rootDir), null, `queue id ${JSON.stringify(queueId)}`);
    });
  }
});

test('a negative or non-integer snapshot physicalOffset is refused', () => {
  for (const physicalOffset of [-1, -4096, 1.5, '4096', null]) {
    withRoot((rootDir) => {
      writeSnapshotText(rootDir, JSON.stringify({ version: 1, physicalOffset, offsetTable: {} }));
      assert.equal(readBack(rootDir), null, `physicalOffset ${JSON.stringify(physicalOffset)}`);
    });
  }
});

test('an offset table of the wrong shape is refused', () => {
  const tables: unknown[] = [undefined, null, 5, 'TopicA', { TopicA: 5 }, { TopicA: [7] }, { TopicA: null }];
  for (const offsetTable of tables) {
    withRoot((rootDir) => {
      writeSnapshotText(rootDir, JSON.stringify({ version: 1, physicalOffset: 0, offsetTable }));
      assert.equal(readBack(rootDir), null, `offsetTable ${JSON.stringify(offsetTable)}`);
    });
  }
});
