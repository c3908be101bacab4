// Goal: recovery follows the "Recovery decision table" of src/format/commit_log_record.md row by row (R1–R10, C1–C8).
// Method: byte-built 4096-byte segments in a fresh tmp dir, Recovery run in-process; plus an enumeration of row predicates against SegmentScanner.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Checkpoint, emptyCheckpoint, encodeCheckpoint } from '../../../src/format/checkpoint.js';
import {
  encodeMessage,
  MAGIC_BLANK,
  MAGIC_V1,
  MAGIC_V2,
  POS_BODYCRC,
  POS_MAGIC,
  POS_PHYSICALOFFSET,
  POS_TOTALSIZE,
  SYSFLAG_TRANSACTION_COMMIT,
  SYSFLAG_TRANSACTION_PREPARED,
  SYSFLAG_TRANSACTION_ROLLBACK,
  writeBlankRecord,
} from '../../../src/format/commit_log_record.js';
import { segmentName } from '../../../src/format/segment_name.js';
import type { StorageFile } from '../../../src/io/storage.js';
import { FsStorage } from '../../../src/io/storage_fs.js';
import {
  encodeQueueOffsetSnapshot,
  type QueueOffsetEntry,
  QUEUE_OFFSETS_FILE,
} from '../../../src/recovery/queue_offset_table.js';
import { ABORT_FILE_NAME, Recovery, type RecoveryEvent, type RecoveryResult } from '../../../src/recovery/recovery.js';
import { type ScannedRecord, SegmentScanner } from '../../../src/recovery/segment_scanner.js';
import { CHECKPOINT_FILE_NAME } from '../../../src/writer/checkpoint_file.js';

const SEGMENT_BYTES = 4096;
const STORE_HOST = '127.0.0.1:10911';
const BORN_HOST = '192.168.0.10:54321';
const STORE_TIMESTAMP_BASE = 1700000000000;
/** BODYLEN sits right after the fixed fields when both hosts are IPv4. */
const POS_BODYLEN_IPV4 = 84;
const POS_BODY_IPV4 = 88;

// ---------------------------------------------------------------------------------------------
// Store building helpers.

interface TestStore {
  rootDir: string;
  commitLogDir: string;
}

function withStore(fn: (store: TestStore) => void): void {
  const rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-recovery-'));
  try {
    fn({ rootDir, commitLogDir: path.join(rootDir, 'commitlog') });
  } finally {
    fs.rmSync(rootDir, { recursive: true, force: true });
  }
}

interface RecordSpec {
  topic?: string;
  queueId?: number;
  queueOffset: number;
  bodyBytes?: number;
  sysFlag?: number;
}

interface Placed {
  physicalOffset: number;
  position: number;
  sizeBytes: number;
  storeTimestamp: number;
}

/** One segment's bytes, filled front to back as the writer would. */
class SegmentImage {
  readonly bytes = Buffer.alloc(SEGMENT_BYTES);
  position = 0;
  readonly startOffset: number;

  constructor(startOffset: number) {
    this.startOffset = startOffset;
  }

  get left(): number {
    return SEGMENT_BYTES - this.position;
  }

  append(spec: RecordSpec): Placed {
    const physicalOffset = this.startOffset + this.position;
    const storeTimestamp = STORE_TIMESTAMP_BASE + physicalOffset;
    const record = messageBytes(spec, physicalOffset, storeTimestamp);
    assert.ok(record.length + 8 <= this.left, 'test record must fit the placement rule');
    record.copy(this.bytes, this.position);
    const placed = { physicalOffset, position: this.position, sizeBytes: record.length, storeTimestamp };
    this.position += record.length;
    return placed;
  }

  /** Closes the segment with a BLANK header; returns its position. */
  close(): number {
    const at = this.position;
    writeBlankRecord(this.bytes, at, this.left);
    this.position = SEGMENT_BYTES;
    return at;
  }

  get end(): number {
    return this.startOffset + this.position;
  }
}

function messageBytes(spec: RecordSpec, physicalOffset: number, storeTimestamp: number): Buffer {
  const body = Buffer.alloc(spec.bodyBytes ?? 40);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 1) & 0xff;
  return encodeMessage({
    topic: spec.topic ?? 'TopicA',
    queueId: spec.queueId ?? 0,
    body,
    sysFlag: spec.sysFlag ?? 0,
    queueOffset: spec.queueOffset,
    commitLogOffset: physicalOffset,
    bornTimestamp: storeTimestamp - 5,
    bornHost: BORN_HOST,
    storeTimestamp,
    storeHost: STORE_HOST,
  });
}

function segmentPath(store: TestStore, startOffset: number): string {
  return path.join(store.commitLogDir, segmentName(startOffset));
}

function writeSegment(store: TestStore, image: SegmentImage): void {
  fs.mkdirSync(store.commitLogDir, { recursive: true });
  fs.writeFileSync(segmentPath(store, image.startOffset), image.bytes);
}

function readSegment(store: TestStore, startOffset: number): Buffer {
  return fs.readFileSync(segmentPath(store, startOffset));
}

function writeAbort(store: TestStore): void {
  fs.writeFileSync(path.join(store.rootDir, ABORT_FILE_NAME), '12345');
}

function checkpointWith(flushedPhyOffset: number): Checkpoint {
  return {
    ...emptyCheckpoint(),
    physicMsgTimestamp: STORE_TIMESTAMP_BASE,
    confirmPhyOffset: flushedPhyOffset,
    flushedPhyOffset,
  };
}

function writeCheckpointBytes(store: TestStore, bytes: Buffer): void {
  fs.writeFileSync(path.join(store.rootDir, CHECKPOINT_FILE_NAME), bytes);
}

function writeCheckpoint(store: TestStore, flushedPhyOffset: number): void {
  writeCheckpointBytes(store, encodeCheckpoint(checkpointWith(flushedPhyOffset)));
}

function writeSnapshot(store: TestStore, physicalOffset: number, entries: QueueOffsetEntry[]): void {
  const file = path.join(store.rootDir, QUEUE_OFFSETS_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodeQueueOffsetSnapshot(physicalOffset, entries));
}

/** FsStorage that remembers which files were written and synced. */
class RecordingStorage extends FsStorage {
  readonly writes: string[] = [];
  readonly syncs: string[] = [];

  override pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    this.writes.push(`${path.basename(file.path)}@${position}`);
    super.pwritev(file, buffers, position);
  }

  override fdatasync(file: StorageFile): void {
    this.syncs.push(path.basename(file.path));
    super.fdatasync(file);
  }
}

function recover(store: TestStore, checkCrc = true, storage: FsStorage = new FsStorage()): RecoveryResult {
  return new Recovery(storage, {
    rootDir: store.rootDir,
    commitLogDir: store.commitLogDir,
    segmentSizeBytes: SEGMENT_BYTES,
    checkCrc,
  }).run();
}

function eventSummary(events: RecoveryEvent[]): Array<Pick<RecoveryEvent, 'kind' | 'physicalOffset' | 'loud'>> {
  return events.map(({ kind, physicalOffset, loud }) => ({ kind, physicalOffset, loud }));
}

function sortedOffsets(entries: QueueOffsetEntry[]): QueueOffsetEntry[] {
  return [...entries].sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
}

function isAllZero(bytes: Buffer): boolean {
  return bytes.every((b) => b === 0);
}

/** Segment 0 with two TopicA records, then bytes `mutate` writes at the next position. */
function twoRecordsThen(mutate: (image: SegmentImage, at: number) => void): { image: SegmentImage; cutAt: number } {
  const image = new SegmentImage(0);
  image.append({ queueOffset: 0 });
  image.append({ queueOffset: 1 });
  const cutAt = image.position;
  mutate(image, cutAt);
  return { image, cutAt };
}

/** A third record at `at` that the caller then damages. */
function appendVictim(image: SegmentImage): Placed {
  return image.append({ queueOffset: 2, bodyBytes: 300 });
}

/** Runs a crash recovery on a two-record segment followed by `mutate`'s bytes; checks the cut. */
function assertCutAfterTwoRecords(mutate: (image: SegmentImage, at: number) => void, reason: RegExp, checkCrc = true): void {
  withStore((store) => {
    const { image, cutAt } = twoRecordsThen(mutate);
    writeSegment(store, image);
    writeAbort(store);
    const result = recover(store, checkCrc);
    assert.equal(result.endPhysicalOffset, cutAt);
    assert.deepEqual(eventSummary(result.events), [{ kind: 'cut', physicalOffset: cutAt, loud: false }]);
    assert.equal(result.events[0]!.file, segmentPath(store, 0));
    assert.match(result.events[0]!.reason, reason);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 2]]);
    assert.equal(result.minPhysicalOffset, 0);
    assert.equal(result.fullScan, true);
    assert.equal(result.mode, 'abnormal');
    const after = readSegment(store, 0);
    assert.ok(after.subarray(0, cutAt).equals(image.bytes.subarray(0, cutAt)), 'bytes before the cut are kept');
    assert.ok(isAllZero(after.subarray(cutAt)), 'C4: the rest of the segment is zeroed');
  });
}

// ---------------------------------------------------------------------------------------------
// Rows R1–R10.

test('R1: a zero header ends the log at p (the preallocated tail)', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    image.append({ queueOffset: 1 });
    writeSegment(store, image);
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, image.end);
    assert.deepEqual(result.events, []);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 2]]);
    assert.equal(result.minPhysicalOffset, 0);
    assert.equal(result.lastExitOK, false);
    assert.ok(readSegment(store, 0).equals(image.bytes), 'an all-zero tail is left as it was');
  });
});

test('R2: a BLANK whose TOTALSIZE is the bytes left closes the segment and the scan continues in the next one', () => {
  withStore((store) => {
    const first = new SegmentImage(0);
    first.append({ queueOffset: 0, bodyBytes: 1500 });
    first.append({ queueOffset: 1, bodyBytes: 1500 });
    first.close();
    const second = new SegmentImage(SEGMENT_BYTES);
    second.append({ queueOffset: 2 });
    writeSegment(store, first);
    writeSegment(store, second);
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, second.end);
    assert.deepEqual(result.events, []);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 3]]);
    assert.equal(result.minPhysicalOffset, 0);
    assert.ok(readSegment(store, 0).equals(first.bytes), 'the closed segment is untouched');
  });
});

test('R2: a BLANK in the last segment ends the log at the segment end when no next segment exists', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0, bodyBytes: 2000 });
    image.close();
    writeSegment(store, image);
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, SEGMENT_BYTES);
    assert.deepEqual(result.events, []);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 1]]);
    assert.equal(result.minPhysicalOffset, 0);
  });
});

test('R3: a BLANK whose TOTALSIZE is not the bytes left is cut as invalid', () => {
  assertCutAfterTwoRecords((image, at) => {
    writeBlankRecord(image.bytes, at, image.left - 4);
  }, /BLANK/);
});

test('R4: valid v1 and v2 records are counted and only NOT and COMMIT records take queue offsets', () => {
  withStore((store) => {
    const longTopic = 'L'.repeat(130); // over 127 bytes: written as a v2 record
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    image.append({ queueOffset: 1 });
    image.append({ topic: 'TopicB', queueId: 3, queueOffset: 0 });
    image.append({ queueOffset: 0, sysFlag: SYSFLAG_TRANSACTION_PREPARED });
    image.append({ queueOffset: 2, sysFlag: SYSFLAG_TRANSACTION_COMMIT });
    image.append({ queueId: 1, queueOffset: 0, sysFlag: SYSFLAG_TRANSACTION_ROLLBACK });
    const v2 = image.append({ topic: longTopic, queueId: 2, queueOffset: 0 });
    assert.equal(image.bytes.readInt32BE(v2.position + POS_MAGIC), MAGIC_V2);
    assert.equal(image.bytes.readInt32BE(POS_MAGIC), MAGIC_V1);
    writeSegment(store, image);
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, image.end);
    assert.deepEqual(result.events, []);
    assert.deepEqual(sortedOffsets(result.queueOffsets), [
      [longTopic, 2, 1],
      ['TopicA', 0, 3],
      ['TopicB', 3, 1],
    ]);
    assert.equal(result.minPhysicalOffset, 0);
    assert.equal(result.checkpoint.physicMsgTimestamp, v2.storeTimestamp, 'store time of the last record');
    assert.equal(result.checkpoint.confirmPhyOffset, image.end);
  });
});

test('R5: a record size beyond the bytes left is cut as torn', () => {
  assertCutAfterTwoRecords((image, at) => {
    appendVictim(image);
    image.bytes.writeInt32BE(SEGMENT_BYTES - at - 4, at + POS_TOTALSIZE); // > left − 8
  }, /record size/);
});

test('R5: a record size below 91 bytes is cut as garbage', () => {
  assertCutAfterTwoRecords((image, at) => {
    appendVictim(image);
    image.bytes.writeInt32BE(90, at + POS_TOTALSIZE);
  }, /record size 90/);
});

test('R6: a body length running past TOTALSIZE is cut as invalid', () => {
  assertCutAfterTwoRecords((image, at) => {
    appendVictim(image);
    image.bytes.writeInt32BE(100000, at + POS_BODYLEN_IPV4);
  }, /body length/);
});

test('R6: field lengths that do not add up to TOTALSIZE are cut as invalid', () => {
  assertCutAfterTwoRecords((image, at) => {
    const victim = appendVictim(image);
    image.bytes.writeInt32BE(victim.sizeBytes + 1, at + POS_TOTALSIZE);
  }, /disagrees|out of range/);
});

test('R7: a body CRC mismatch is cut as invalid when CRCs are checked', () => {
  assertCutAfterTwoRecords((image, at) => {
    appendVictim(image);
    image.bytes[at + POS_BODY_IPV4 + 10]! ^= 0x01;
  }, /CRC/);
});

test('R7: with checkCrc false a body CRC mismatch is not checked and the record is kept', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    image.append({ queueOffset: 1 });
    const victim = appendVictim(image);
    image.bytes[victim.position + POS_BODY_IPV4 + 10]! ^= 0x01;
    writeSegment(store, image);
    writeAbort(store);
    const result = recover(store, false);
    assert.equal(result.endPhysicalOffset, image.end);
    assert.deepEqual(result.events, []);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 3]]);
    assert.ok(readSegment(store, 0).equals(image.bytes), 'the record is left in place');
  });
});

test('R8: a PHYSICALOFFSET that is not the record position is cut as misdirected', () => {
  withStore((store) => {
    const first = new SegmentImage(0);
    const stale = first.append({ queueOffset: 0 });
    first.close();
    const second = new SegmentImage(SEGMENT_BYTES);
    second.append({ queueOffset: 1 });
    // Stale bytes: a copy of segment 0's first record, PHYSICALOFFSET 0, lands at 4096 + p.
    const cutAt = second.position;
    first.bytes.copy(second.bytes, cutAt, 0, stale.sizeBytes);
    assert.equal(second.bytes.readInt32BE(cutAt + POS_PHYSICALOFFSET + 4), 0);
    writeSegment(store, first);
    writeSegment(store, second);
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, SEGMENT_BYTES + cutAt);
    assert.deepEqual(eventSummary(result.events), [{ kind: 'cut', physicalOffset: SEGMENT_BYTES + cutAt, loud: false }]);
    assert.match(result.events[0]!.reason, /PHYSICALOFFSET/);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 2]]);
    assert.equal(result.minPhysicalOffset, 0);
    assert.ok(isAllZero(readSegment(store, SEGMENT_BYTES).subarray(cutAt)));
  });
});

test('R9: an unknown MAGIC is cut as invalid', () => {
  assertCutAfterTwoRecords((image, at) => {
    appendVictim(image);
    image.bytes.writeUInt32BE(0xdeadbeef, at + POS_MAGIC);
  }, /bad magic 0xdeadbeef/);
});

test('R9: a zero MAGIC with a non-zero TOTALSIZE is cut as invalid, not read as end of data', () => {
  assertCutAfterTwoRecords((image, at) => {
    image.bytes.writeInt32BE(200, at + POS_TOTALSIZE);
  }, /bad magic 0x0/);
});

test('R10: fewer than 8 bytes left in the segment is invalid (reachable only through the scanner)', () => {
  // Every record accepted by R4 leaves at least 8 bytes, so a scan from position 0 can never
  // stand within 8 bytes of the end; the row is checked by scanning from such a position.
  withStore((store) => {
    const image = new SegmentImage(0);
    writeSegment(store, image);
    const storage = new FsStorage();
    const file = storage.open(segmentPath(store, 0), false);
    try {
      for (const position of [SEGMENT_BYTES - 7, SEGMENT_BYTES - 4, SEGMENT_BYTES - 1]) {
        const scanner = new SegmentScanner(storage, file, 0, SEGMENT_BYTES);
        const result = scanner.scan(position, true, () => assert.fail('no record fits'));
        assert.equal(result.endPosition, position);
        assert.equal(result.stop.kind, 'invalid');
      }
    } finally {
      storage.close(file);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Cases C1–C8.

test('C1: a cut at or after flushedPhyOffset is a quiet crash tail', () => {
  withStore((store) => {
    const { image, cutAt } = twoRecordsThen((img) => {
      const victim = appendVictim(img);
      img.bytes[victim.position + POS_BODY_IPV4]! ^= 0xff;
    });
    writeSegment(store, image);
    writeAbort(store);
    writeCheckpoint(store, cutAt); // exactly at the cut
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, cutAt);
    assert.deepEqual(eventSummary(result.events), [{ kind: 'cut', physicalOffset: cutAt, loud: false }]);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 2]]);
    assert.equal(result.minPhysicalOffset, 0);
    assert.equal(result.checkpoint.flushedPhyOffset, cutAt);
  });
});

test('C2: a cut before flushedPhyOffset is loud and the log is still cut there', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    const damaged = image.append({ queueOffset: 1 });
    image.append({ queueOffset: 2 });
    image.bytes[damaged.position + POS_BODYCRC]! ^= 0x10;
    writeSegment(store, image);
    writeAbort(store);
    writeCheckpoint(store, image.end);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, damaged.physicalOffset);
    assert.deepEqual(eventSummary(result.events), [{ kind: 'cut', physicalOffset: damaged.physicalOffset, loud: true }]);
    assert.equal(result.events[0]!.file, segmentPath(store, 0));
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 1]]);
    assert.equal(result.minPhysicalOffset, 0);
    assert.equal(result.checkpoint.flushedPhyOffset, damaged.physicalOffset, 'the durable end cannot exceed the log end');
    assert.ok(isAllZero(readSegment(store, 0).subarray(damaged.position)));
  });
});

test('C2: a log that ends before flushedPhyOffset without an invalid record (zeros, or a missing next segment) is still loud', () => {
  // Fsynced bytes that read back as zeros, or a whole fsynced segment that is gone, are damaged
  // durable data just like a CRC mismatch; a silent end of data here would hide the loss.
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    const lostAt = image.end;
    writeSegment(store, image);
    writeAbort(store);
    writeCheckpoint(store, lostAt + 500);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, lostAt);
    assert.ok(
      result.events.some((e) => e.loud && e.physicalOffset === lostAt),
      `zeros at ${lostAt} below flushedPhyOffset ${lostAt + 500} must give a loud event; got ${JSON.stringify(eventSummary(result.events))}`,
    );
  });
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0, bodyBytes: 2000 });
    image.close();
    writeSegment(store, image);
    writeAbort(store);
    writeCheckpoint(store, SEGMENT_BYTES + 700); // segment 4096 held fsynced data but is missing
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, SEGMENT_BYTES);
    assert.ok(
      result.events.some((e) => e.loud && e.physicalOffset === SEGMENT_BYTES),
      `a missing segment below flushedPhyOffset must give a loud event; got ${JSON.stringify(eventSummary(result.events))}`,
    );
  });
});

test('C3: when the log ends in a segment, every later segment is deleted (loud below flushedPhyOffset or when it held records)', () => {
  withStore((store) => {
    const first = new SegmentImage(0);
    first.append({ queueOffset: 0 });
    const cutAt = first.position;
    first.bytes.writeUInt32BE(0x01020304, cutAt + POS_MAGIC); // R9 garbage
    first.bytes.writeInt32BE(120, cutAt);
    const second = new SegmentImage(SEGMENT_BYTES);
    second.append({ queueOffset: 1 });
    second.close();
    const third = new SegmentImage(2 * SEGMENT_BYTES);
    third.append({ queueOffset: 2 });
    for (const image of [first, second, third]) writeSegment(store, image);
    writeAbort(store);
    writeCheckpoint(store, SEGMENT_BYTES + 100); // inside the second segment
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, cutAt);
    assert.deepEqual(eventSummary(result.events), [
      { kind: 'cut', physicalOffset: cutAt, loud: true },
      { kind: 'removed', physicalOffset: cutAt, loud: true },
      // Past the durable offset, but it held a valid record: data after the end is reported.
      { kind: 'removed', physicalOffset: cutAt, loud: true },
    ]);
    assert.deepEqual(result.events.slice(1).map((e) => e.file), [segmentPath(store, SEGMENT_BYTES), segmentPath(store, 2 * SEGMENT_BYTES)]);
    assert.deepEqual(fs.readdirSync(store.commitLogDir), [segmentName(0)]);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 1]]);
    assert.equal(result.minPhysicalOffset, 0);
  });
});

test('C3: an end of data (R1) before the last segment also deletes the later segments', () => {
  withStore((store) => {
    const first = new SegmentImage(0);
    first.append({ queueOffset: 0 });
    const second = new SegmentImage(SEGMENT_BYTES);
    second.append({ queueOffset: 1 });
    writeSegment(store, first);
    writeSegment(store, second);
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, first.end);
    // The later segment held a valid record: an end of data followed by data is reported loudly.
    assert.deepEqual(eventSummary(result.events), [{ kind: 'removed', physicalOffset: first.end, loud: true }]);
    assert.deepEqual(fs.readdirSync(store.commitLogDir), [segmentName(0)]);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 1]]);
  });
});

test('C4: after a cut the rest of the segment is all zeros and fsynced', () => {
  withStore((store) => {
    const { image, cutAt } = twoRecordsThen((img, at) => {
      appendVictim(img);
      img.bytes.writeInt32BE(7, at + POS_TOTALSIZE); // R5
      img.bytes.fill(0xab, 3000, 3100); // stale bytes well past the torn record
    });
    writeSegment(store, image);
    writeAbort(store);
    const storage = new RecordingStorage();
    const result = recover(store, true, storage);
    assert.equal(result.endPhysicalOffset, cutAt);
    const after = readSegment(store, 0);
    assert.ok(after.subarray(0, cutAt).equals(image.bytes.subarray(0, cutAt)));
    assert.ok(isAllZero(after.subarray(cutAt)));
    assert.ok(storage.writes.length > 0);
    assert.ok(storage.syncs.includes(segmentName(0)), 'the zeroed segment is fsynced');
  });
});

test('C4: after R1 in a crash, stale non-zero bytes past the end of data are zeroed', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    const end = image.end;
    image.bytes.fill(0x5a, 2000, 2300); // pages of a lost write that reached the disk out of order
    writeSegment(store, image);
    writeAbort(store);
    const storage = new RecordingStorage();
    const result = recover(store, true, storage);
    assert.equal(result.endPhysicalOffset, end);
    assert.deepEqual(result.events, []);
    assert.ok(isAllZero(readSegment(store, 0).subarray(end)));
    assert.ok(storage.syncs.includes(segmentName(0)));
  });
});

test('C5: R1 exactly at the end a clean shutdown recorded writes nothing to the segment', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    image.append({ queueOffset: 1 });
    writeSegment(store, image);
    writeCheckpoint(store, image.end);
    writeSnapshot(store, image.end, [['TopicA', 0, 2]]);
    const storage = new RecordingStorage();
    const result = recover(store, true, storage);
    assert.equal(result.endPhysicalOffset, image.end);
    assert.equal(result.fullScan, false);
    assert.equal(result.mode, 'normal');
    assert.deepEqual(result.events, []);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 2]]);
    assert.deepEqual(storage.writes, []);
    assert.deepEqual(storage.syncs, []);
  });
});

test('C6: no segments but a checkpoint with flushed bytes refuses to open with E_STORE_CORRUPT', () => {
  withStore((store) => {
    fs.mkdirSync(store.commitLogDir, { recursive: true });
    writeCheckpoint(store, 1234);
    assert.throws(() => recover(store), { name: 'StoreError', code: 'E_STORE_CORRUPT' });
  });
});

test('C7: a segment of the wrong size refuses to open with E_STORE_CORRUPT', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    fs.mkdirSync(store.commitLogDir, { recursive: true });
    fs.writeFileSync(segmentPath(store, 0), image.bytes.subarray(0, SEGMENT_BYTES - 1));
    assert.throws(() => recover(store), { name: 'StoreError', code: 'E_STORE_CORRUPT' });
  });
});

test('C7: a segment whose start is not a multiple of the segment size refuses to open with E_STORE_CORRUPT', () => {
  withStore((store) => {
    const image = new SegmentImage(100);
    writeSegment(store, image);
    assert.throws(() => recover(store), { name: 'StoreError', code: 'E_STORE_CORRUPT' });
  });
});

test('C7: a gap between segments refuses to open with E_STORE_CORRUPT', () => {
  withStore((store) => {
    const first = new SegmentImage(0);
    first.append({ queueOffset: 0 });
    first.close();
    writeSegment(store, first);
    writeSegment(store, new SegmentImage(2 * SEGMENT_BYTES));
    assert.throws(() => recover(store), { name: 'StoreError', code: 'E_STORE_CORRUPT' });
    assert.equal(fs.readdirSync(store.commitLogDir).length, 2, 'nothing is deleted when refusing');
  });
});

test('C8: a zero-length last segment is deleted as an interrupted creation', () => {
  withStore((store) => {
    const first = new SegmentImage(0);
    first.append({ queueOffset: 0, bodyBytes: 1000 });
    first.close();
    writeSegment(store, first);
    fs.writeFileSync(segmentPath(store, SEGMENT_BYTES), Buffer.alloc(0));
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, SEGMENT_BYTES);
    assert.deepEqual(eventSummary(result.events), [{ kind: 'removed', physicalOffset: SEGMENT_BYTES, loud: false }]);
    assert.equal(result.events[0]!.file, segmentPath(store, SEGMENT_BYTES));
    assert.deepEqual(fs.readdirSync(store.commitLogDir), [segmentName(0)]);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 1]]);
    assert.equal(result.minPhysicalOffset, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Where the scan starts.

/** Three full segments: two closed with BLANKs, the third written up to its end. */
function threeSegmentStore(store: TestStore): { end: number; entries: QueueOffsetEntry[] } {
  let queueOffset = 0;
  const images: SegmentImage[] = [];
  for (let i = 0; i < 3; i++) {
    const image = new SegmentImage(i * SEGMENT_BYTES);
    while (image.left >= 1000 + 8) image.append({ queueOffset: queueOffset++, bodyBytes: 800 });
    if (i < 2) image.close();
    images.push(image);
    writeSegment(store, image);
  }
  return { end: images[2]!.end, entries: [['TopicA', 0, queueOffset]] };
}

test('normal recovery after a clean shutdown scans only the segment holding the recorded end', () => {
  withStore((store) => {
    const { end, entries } = threeSegmentStore(store);
    writeCheckpoint(store, end);
    writeSnapshot(store, end, entries);
    const result = recover(store);
    assert.equal(result.fullScan, false);
    assert.equal(result.mode, 'normal');
    assert.equal(result.lastExitOK, true);
    assert.equal(result.endPhysicalOffset, end);
    assert.deepEqual(result.events, []);
    assert.deepEqual(result.queueOffsets, entries);
    assert.equal(result.minPhysicalOffset, 0);
    assert.ok(result.scannedBytes > 0 && result.scannedBytes <= SEGMENT_BYTES, `scanned ${result.scannedBytes} bytes`);
  });
});

test('the same store after a crash is scanned in full and yields the same end and queue offsets', () => {
  withStore((store) => {
    const { end, entries } = threeSegmentStore(store);
    writeCheckpoint(store, end);
    writeSnapshot(store, end, entries);
    writeAbort(store);
    const result = recover(store);
    assert.equal(result.fullScan, true);
    assert.equal(result.mode, 'abnormal');
    assert.equal(result.endPhysicalOffset, end);
    assert.deepEqual(result.events, []);
    assert.deepEqual(result.queueOffsets, entries);
    assert.ok(result.scannedBytes >= 3 * SEGMENT_BYTES, `scanned ${result.scannedBytes} bytes`);
  });
});

test('a snapshot recorded at another log end is not trusted and the log is scanned in full', () => {
  withStore((store) => {
    const { end, entries } = threeSegmentStore(store);
    writeCheckpoint(store, end);
    writeSnapshot(store, end - 1, entries);
    const result = recover(store);
    assert.equal(result.fullScan, true);
    assert.equal(result.mode, 'normal');
    assert.deepEqual(result.queueOffsets, entries);
  });
});

test('a corrupt checkpoint is ignored loudly and forces a full scan', () => {
  withStore((store) => {
    const { end, entries } = threeSegmentStore(store);
    const bytes = encodeCheckpoint(checkpointWith(end));
    bytes[75]! ^= 0x01; // inside flushedPhyOffset: the extension CRC no longer matches
    writeCheckpointBytes(store, bytes);
    writeSnapshot(store, end, entries);
    const result = recover(store);
    assert.equal(result.fullScan, true);
    assert.deepEqual(eventSummary(result.events), [{ kind: 'ignored', physicalOffset: 0, loud: true }]);
    assert.equal(result.events[0]!.file, path.join(store.rootDir, CHECKPOINT_FILE_NAME));
    assert.equal(result.endPhysicalOffset, end);
    assert.deepEqual(result.queueOffsets, entries);
    assert.ok(result.scannedBytes >= 3 * SEGMENT_BYTES);
  });
});

test('a RocketMQ-written checkpoint (zero extension) is treated as absent', () => {
  withStore((store) => {
    const { end, entries } = threeSegmentStore(store);
    const bytes = encodeCheckpoint(checkpointWith(end));
    bytes.fill(0, 64, 92); // RocketMQ never writes the mqstore extension
    writeCheckpointBytes(store, bytes);
    writeSnapshot(store, end, entries);
    const result = recover(store);
    assert.equal(result.fullScan, true);
    assert.deepEqual(result.events, []);
    assert.equal(result.endPhysicalOffset, end);
    // No durable offset is taken from RocketMQ: the whole log is scanned, then fsynced by recovery.
    assert.equal(result.checkpoint.flushedPhyOffset, end);
  });
  withStore((store) => {
    // Absent, so C6 does not apply either: an empty commitlog opens.
    const bytes = encodeCheckpoint(checkpointWith(5000));
    bytes.fill(0, 64, 92);
    writeCheckpointBytes(store, bytes);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, 0);
    assert.equal(result.minPhysicalOffset, -1);
  });
});

test('a clean-shutdown end that the scan does not reach is reported loudly', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    const damaged = image.append({ queueOffset: 1 });
    image.bytes[damaged.position + POS_BODY_IPV4]! ^= 0x01;
    writeSegment(store, image);
    writeCheckpoint(store, image.end);
    writeSnapshot(store, image.end, [['TopicA', 0, 2]]);
    const result = recover(store);
    assert.equal(result.fullScan, false);
    assert.equal(result.endPhysicalOffset, damaged.physicalOffset);
    assert.deepEqual(eventSummary(result.events), [
      { kind: 'cut', physicalOffset: damaged.physicalOffset, loud: true },
      { kind: 'ignored', physicalOffset: damaged.physicalOffset, loud: true },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Predicate enumeration (STYLE.md C.6): every combination of row conditions gets one verdict.

type Verdict = 'zero' | 'blank' | 'invalid' | 'record';
type Row = 'R1' | 'R2' | 'R3' | 'R4' | 'R5' | 'R6' | 'R7' | 'R8' | 'R9' | 'R10';

const ROW_VERDICT: Record<Row, Verdict> = {
  R1: 'zero',
  R2: 'blank',
  R3: 'invalid',
  R4: 'record',
  R5: 'invalid',
  R6: 'invalid',
  R7: 'invalid',
  R8: 'invalid',
  R9: 'invalid',
  R10: 'invalid',
};

const MAGIC_OTHER = 0x12345678;
const MAGICS = [0, MAGIC_BLANK, MAGIC_V1, MAGIC_V2, MAGIC_OTHER] as const;
const SIZE_KINDS = ['zero', 'left', 'small', 'exact', 'exactPlusOne', 'maxFit', 'overBlankRoom', 'huge', 'negative'] as const;
type SizeKind = (typeof SIZE_KINDS)[number];
/** Positions: start, mid-segment, exactly 8 bytes left, fewer than 8 left (scanned directly). */
const POSITIONS = [0, 1000, SEGMENT_BYTES - 8, SEGMENT_BYTES - 4] as const;
const ENUM_SEGMENT_START = 2 * SEGMENT_BYTES;

interface Combination {
  magic: number;
  sizeKind: SizeKind;
  bodyOverrun: boolean;
  crcBad: boolean;
  physicalOffsetBad: boolean;
  checkCrc: boolean;
  position: number;
}

function totalSizeFor(kind: SizeKind, left: number, exact: number): number {
  switch (kind) {
    case 'zero': return 0;
    case 'left': return left;
    case 'small': return 50;
    case 'exact': return exact;
    case 'exactPlusOne': return exact + 1;
    case 'maxFit': return left - 8;
    case 'overBlankRoom': return left - 7;
    case 'huge': return 0x7fffffff;
    case 'negative': return -1;
  }
}

/** The candidate bytes at the position, and the facts the row predicates read. */
function candidate(c: Combination): { bytes: Buffer; totalSize: number; encodedSize: number } {
  const left = SEGMENT_BYTES - c.position;
  const physicalOffset = ENUM_SEGMENT_START + c.position + (c.physicalOffsetBad ? SEGMENT_BYTES : 0);
  const topic = c.magic === MAGIC_V2 ? 'V'.repeat(130) : 'TopicA';
  const bytes = messageBytes({ topic, queueOffset: 0, bodyBytes: 64 }, physicalOffset, STORE_TIMESTAMP_BASE);
  const encodedSize = bytes.length;
  if (c.crcBad) bytes[POS_BODY_IPV4]! ^= 0xff;
  if (c.bodyOverrun) bytes.writeInt32BE(0x7fff0000, POS_BODYLEN_IPV4);
  const totalSize = totalSizeFor(c.sizeKind, left, encodedSize);
  bytes.writeInt32BE(totalSize, POS_TOTALSIZE);
  bytes.writeInt32BE(c.magic, POS_MAGIC);
  return { bytes, totalSize, encodedSize };
}

/** Rows whose conditions, as the doc words them, hold for the combination. */
function matchingRows(c: Combination, totalSize: number, encodedSize: number): Row[] {
  const left = SEGMENT_BYTES - c.position;
  const rows: Row[] = [];
  // With fewer than 8 bytes there is no TOTALSIZE/MAGIC header to read: only R10 can apply.
  if (left < 8) return ['R10'];
  const isRecord = c.magic === MAGIC_V1 || c.magic === MAGIC_V2;
  const sizeOutOfRange = totalSize < 91 || totalSize > left - 8;
  const lengthsBad = c.bodyOverrun || totalSize !== encodedSize;
  const crcBad = c.checkCrc && c.crcBad;
  if (totalSize === 0 && c.magic === 0) rows.push('R1');
  if (c.magic === MAGIC_BLANK && totalSize === left) rows.push('R2');
  if (c.magic === MAGIC_BLANK && totalSize !== left) rows.push('R3');
  if (isRecord && !sizeOutOfRange && !lengthsBad && !crcBad && !c.physicalOffsetBad) rows.push('R4');
  if (isRecord && sizeOutOfRange) rows.push('R5');
  if (isRecord && lengthsBad) rows.push('R6');
  if (isRecord && crcBad) rows.push('R7');
  if (isRecord && c.physicalOffsetBad) rows.push('R8');
  if (!isRecord && c.magic !== MAGIC_BLANK && !(c.magic === 0 && totalSize === 0)) rows.push('R9');
  return rows;
}

function* combinations(): Generator<Combination> {
  for (const position of POSITIONS) {
    for (const magic of MAGICS) {
      for (const sizeKind of SIZE_KINDS) {
        for (const bodyOverrun of [false, true]) {
          for (const crcBad of [false, true]) {
            for (const physicalOffsetBad of [false, true]) {
              for (const checkCrc of [false, true]) {
                yield { magic, sizeKind, bodyOverrun, crcBad, physicalOffsetBad, checkCrc, position };
              }
            }
          }
        }
      }
    }
  }
}

/** Segment image: a valid filler record over [0, position) when it can exist, then the candidate. */
function enumerationImage(c: Combination, candidateBytes: Buffer): Buffer {
  const image = Buffer.alloc(SEGMENT_BYTES);
  if (c.position > 0 && c.position <= SEGMENT_BYTES - 8) {
    const filler = encodeMessage({
      topic: 'F',
      queueId: 0,
      body: Buffer.alloc(c.position - 92, 0x33),
      queueOffset: 0,
      commitLogOffset: ENUM_SEGMENT_START,
      storeTimestamp: STORE_TIMESTAMP_BASE,
      storeHost: STORE_HOST,
    });
    assert.equal(filler.length, c.position);
    filler.copy(image, 0);
  }
  candidateBytes.copy(image, c.position, 0, Math.min(candidateBytes.length, SEGMENT_BYTES - c.position));
  return image;
}

test('every combination of row conditions yields exactly one documented verdict, and the scanner agrees', (t) => {
  withStore((store) => {
    fs.mkdirSync(store.commitLogDir, { recursive: true });
    const file = path.join(store.commitLogDir, segmentName(ENUM_SEGMENT_START));
    fs.writeFileSync(file, Buffer.alloc(SEGMENT_BYTES));
    const storage = new FsStorage();
    const handle = storage.open(file, false);
    const rowsSeen = new Map<Row, number>();
    let overlapping = 0;
    let total = 0;
    try {
      for (const c of combinations()) {
        total++;
        const label = JSON.stringify(c);
        const { bytes, totalSize, encodedSize } = candidate(c);
        const rows = matchingRows(c, totalSize, encodedSize);
        assert.ok(rows.length > 0, `no row matches ${label}`);
        const verdicts = new Set(rows.map((row) => ROW_VERDICT[row]));
        assert.equal(verdicts.size, 1, `rows ${rows.join(',')} give different verdicts for ${label}`);
        if (rows.includes('R4')) assert.deepEqual(rows, ['R4'], `R4 must exclude every other row: ${label}`);
        if (rows.length > 1) overlapping++;
        for (const row of rows) rowsSeen.set(row, (rowsSeen.get(row) ?? 0) + 1);
        const verdict = [...verdicts][0]!;

        storage.pwritev(handle, [enumerationImage(c, bytes)], 0);
        const scanner = new SegmentScanner(storage, handle, ENUM_SEGMENT_START, SEGMENT_BYTES);
        const records: ScannedRecord[] = [];
        const from = c.position <= SEGMENT_BYTES - 8 ? 0 : c.position;
        const result = scanner.scan(from, c.checkCrc, (record) => records.push(record));
        const fillerCount = c.position > 0 && from === 0 ? 1 : 0;
        if (verdict === 'record') {
          assert.equal(records.length, fillerCount + 1, `record accepted: ${label}`);
          assert.equal(records[fillerCount]!.physicalOffset, ENUM_SEGMENT_START + c.position, label);
          assert.equal(result.endPosition, c.position + totalSize, label);
          assert.equal(result.stop.kind, 'zero', label);
        } else {
          assert.equal(records.length, fillerCount, `only the filler is accepted: ${label}`);
          assert.equal(result.endPosition, c.position, `stops at the position: ${label}`);
          assert.equal(result.stop.kind, verdict, `${rows.join(',')} ⇒ ${verdict}: ${label}`);
        }
      }
    } finally {
      storage.close(handle);
    }
    for (const row of Object.keys(ROW_VERDICT) as Row[]) {
      assert.ok((rowsSeen.get(row) ?? 0) > 0, `row ${row} is reached by some combination`);
    }
    // Rows R3 and R5–R9 can hold together (e.g. a bad CRC and a wrong PHYSICALOFFSET): they all
    // cut at p, so the verdict is still unique.
    t.diagnostic(`${total} combinations; ${overlapping} match more than one invalid row`);
  });
});

// ---------------------------------------------------------------------------------------------
// Rules added after review: durability of the kept tail, offsets of cut records, loud mid-data cuts.

test('after a crash, recovery fsyncs every segment between the checkpoint and the end before reporting it durable', () => {
  withStore((store) => {
    const { end } = threeSegmentStore(store);
    writeAbort(store);
    writeCheckpoint(store, 100); // only the start of segment 0 was known durable
    const storage = new RecordingStorage();
    const result = recover(store, true, storage);
    assert.equal(result.endPhysicalOffset, end);
    for (const start of [0, SEGMENT_BYTES, 2 * SEGMENT_BYTES]) {
      assert.ok(storage.syncs.includes(segmentName(start)), `segment ${start} is fsynced`);
    }
    assert.equal(result.checkpoint.flushedPhyOffset, end);
  });
});

test('after a clean shutdown, nothing is fsynced again', () => {
  withStore((store) => {
    const { end, entries } = threeSegmentStore(store);
    writeCheckpoint(store, end);
    writeSnapshot(store, end, entries);
    const storage = new RecordingStorage();
    recover(store, true, storage);
    assert.deepEqual(storage.syncs, []);
  });
});

test('a record cut at a clean reopen gives its queue offset back (the table is rebuilt)', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    image.append({ queueOffset: 1 });
    const victim = image.append({ queueOffset: 2 });
    image.bytes[victim.position + POS_BODY_IPV4]! ^= 0xff; // damaged after the clean shutdown
    writeSegment(store, image);
    writeCheckpoint(store, image.end);
    writeSnapshot(store, image.end, [['TopicA', 0, 3]]);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, victim.physicalOffset);
    assert.deepEqual(result.queueOffsets, [['TopicA', 0, 2]]);
  });
});

test('a bad record followed by valid records is cut and reported loudly, even past the durable offset', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    const victim = image.append({ queueOffset: 1 });
    const after = image.append({ queueOffset: 2 });
    image.bytes[victim.position + POS_BODY_IPV4]! ^= 0xff;
    writeSegment(store, image);
    writeAbort(store);
    writeCheckpoint(store, 0); // nothing was known durable: the rule does not depend on it
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, victim.physicalOffset);
    const cut = result.events.find((e) => e.kind === 'cut');
    assert.ok(cut !== undefined && cut.loud, 'the cut is loud');
    assert.match(cut.reason, new RegExp(`followed by a valid record at ${after.physicalOffset}`));
    assert.ok(isAllZero(readSegment(store, 0).subarray(victim.position)), 'everything after the cut is zeroed');
  });
});

test('a torn last record with nothing valid after it is cut quietly past the durable offset', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ queueOffset: 0 });
    const victim = image.append({ queueOffset: 1 });
    image.bytes.fill(0, victim.position + 40, victim.position + victim.sizeBytes); // torn write
    writeSegment(store, image);
    writeAbort(store);
    writeCheckpoint(store, victim.physicalOffset);
    const result = recover(store);
    assert.equal(result.endPhysicalOffset, victim.physicalOffset);
    assert.ok(result.events.every((e) => !e.loud), JSON.stringify(result.events));
  });
});

test('topics named like Object.prototype members keep their offsets in the snapshot', () => {
  withStore((store) => {
    const image = new SegmentImage(0);
    image.append({ topic: '__proto__', queueOffset: 0 });
    image.append({ topic: '__proto__', queueOffset: 1 });
    image.append({ topic: 'constructor', queueOffset: 0 });
    writeSegment(store, image);
    writeCheckpoint(store, image.end);
    writeSnapshot(store, image.end, [['__proto__', 0, 2], ['constructor', 0, 1]]);
    const result = recover(store);
    assert.equal(result.fullScan, false);
    assert.deepEqual(sortedOffsets(result.queueOffsets), sortedOffsets([['__proto__', 0, 2], ['constructor', 0, 1]]));
  });
});
