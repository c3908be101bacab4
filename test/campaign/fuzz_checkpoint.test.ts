// Goal: the checkpoint codec and the queue-offset snapshot reader never throw on damaged bytes:
// they return a checkpoint (or table) that re-encodes to the same values, or 'invalid' / null.
// Method: fast-check properties (fixed seed, FUZZ_SEED/FUZZ_RUNS to change) over random values,
// random bytes and mutated valid files; the snapshot is read through an in-memory Storage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Checkpoint, CHECKPOINT_FILE_BYTES, decodeCheckpoint, encodeCheckpoint } from '../../src/format/checkpoint.js';
import { encodeQueueOffsetSnapshot, QUEUE_OFFSETS_FILE, type QueueOffsetEntry, readQueueOffsetSnapshot } from '../../src/recovery/queue_offset_table.js';
import { embedded, fuzzParameters, MemoryStorage, mutate, mutationArbitrary } from './fuzz_support.js';

const checkpointArbitrary: fc.Arbitrary<Checkpoint> = fc.record({
  physicMsgTimestamp: fc.maxSafeInteger(),
  logicsMsgTimestamp: fc.maxSafeInteger(),
  indexMsgTimestamp: fc.maxSafeInteger(),
  masterFlushedOffset: fc.maxSafeInteger(),
  confirmPhyOffset: fc.maxSafeInteger(),
  flushedPhyOffset: fc.maxSafeNat(),
  dispatchedPhyOffset: fc.maxSafeNat(),
});

test('fuzz: encodeCheckpoint then decodeCheckpoint returns the same checkpoint', () => {
  fc.assert(
    fc.property(checkpointArbitrary, (checkpoint) => {
      const bytes = encodeCheckpoint(checkpoint);
      assert.equal(bytes.length, CHECKPOINT_FILE_BYTES);
      assert.deepEqual(decodeCheckpoint(bytes), { kind: 'ok', checkpoint: { ...checkpoint } });
    }),
    fuzzParameters(),
  );
});

test('fuzz: decodeCheckpoint of damaged bytes never throws, and what it accepts re-encodes to the same checkpoint', () => {
  const source = fc.oneof(
    checkpointArbitrary.map((checkpoint) => encodeCheckpoint(checkpoint)),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc.constant(Buffer.alloc(CHECKPOINT_FILE_BYTES)),
  );
  fc.assert(
    fc.property(source, fc.array(mutationArbitrary([0, 24, 64, 68, 72, 76, 80, 84, 88]), { maxLength: 4 }), fc.nat(32), fc.nat(32), (valid, mutations, before, after) => {
      const bytes = mutate(valid, mutations);
      const result = decodeCheckpoint(bytes);
      assert.deepEqual(decodeCheckpoint(embedded(bytes, before, after, 0x5a)), result, 'the bytes around the file do not matter');
      if (result.kind === 'invalid') return;
      if (result.kind === 'ok') {
        assert.ok(Number.isSafeInteger(result.checkpoint.flushedPhyOffset) && result.checkpoint.flushedPhyOffset >= 0);
        assert.ok(Number.isSafeInteger(result.checkpoint.dispatchedPhyOffset) && result.checkpoint.dispatchedPhyOffset >= 0);
      }
      const again = decodeCheckpoint(encodeCheckpoint(result.checkpoint));
      assert.deepEqual(again, { kind: 'ok', checkpoint: result.checkpoint });
    }),
    fuzzParameters(),
  );
});

const ROOT_DIR = '/fuzz/store';

function readSnapshot(bytes: Uint8Array): ReturnType<typeof readQueueOffsetSnapshot> {
  const storage = new MemoryStorage();
  storage.putFile(`${ROOT_DIR}/${QUEUE_OFFSETS_FILE}`, bytes);
  return readQueueOffsetSnapshot(storage, ROOT_DIR);
}

const entriesArbitrary: fc.Arbitrary<QueueOffsetEntry[]> = fc.uniqueArray(
  fc.tuple(
    fc.oneof(fc.stringMatching(/^[a-zA-Z0-9_%|-]{1,20}$/), fc.constantFrom('__proto__', 'constructor', 'a/b', '"quoted"')),
    fc.integer({ min: 0, max: 0x7fffffff }),
    fc.maxSafeNat(),
  ),
  { selector: ([topic, queueId]) => `${queueId}\u0000${topic}`, maxLength: 8 },
);

test('fuzz: a queue offset snapshot reads back the entries it was written from', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), entriesArbitrary, (physicalOffset, entries) => {
      const read = readSnapshot(encodeQueueOffsetSnapshot(physicalOffset, entries));
      assert.ok(read !== null);
      assert.equal(read.physicalOffset, physicalOffset);
      const key = (entry: QueueOffsetEntry): string => `${entry[0]}\u0000${entry[1]}`;
      assert.deepEqual([...read.entries].sort((a, b) => key(a).localeCompare(key(b))), [...entries].sort((a, b) => key(a).localeCompare(key(b))));
    }),
    fuzzParameters(),
  );
});

test('fuzz: a damaged queue offset snapshot reads as null or as entries with int32 queue ids and safe offsets', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), entriesArbitrary, fc.array(mutationArbitrary(), { maxLength: 4 }), (physicalOffset, entries, mutations) => {
      const read = readSnapshot(mutate(encodeQueueOffsetSnapshot(physicalOffset, entries), mutations));
      if (read === null) return;
      assert.ok(Number.isSafeInteger(read.physicalOffset) && read.physicalOffset >= 0);
      for (const [topic, queueId, next] of read.entries) {
        assert.equal(typeof topic, 'string');
        assert.ok(Number.isInteger(queueId) && queueId >= 0 && queueId <= 0x7fffffff, `queueId ${queueId} is an int32 ≥ 0`);
        assert.ok(Number.isSafeInteger(next) && next >= 0);
      }
      assert.deepEqual(readSnapshot(encodeQueueOffsetSnapshot(read.physicalOffset, read.entries))?.entries.length, read.entries.length);
    }),
    fuzzParameters(),
  );
});

// ---------------------------------------------------------------------------------------------
// Regressions: defects the properties above found, each pinned by a fixed input.

test('readQueueOffsetSnapshot of a snapshot whose queue id is above 2147483647 returns null', () => {
  // A flipped digit ("2147483637" → "6147483637") was read as queue id 6147483637, which the
  // consume queue store refuses with an assertion (a worker crash) instead of a rebuild.
  const bytes = encodeQueueOffsetSnapshot(100, [['TopicA', 2147483637, 5]]);
  const damaged = Buffer.from(bytes.toString('utf8').replace('"2147483637"', '"6147483637"'), 'utf8');
  assert.notEqual(readSnapshot(bytes), null);
  assert.equal(readSnapshot(damaged), null);
});
