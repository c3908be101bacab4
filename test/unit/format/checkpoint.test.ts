// Goal: the checkpoint codec keeps RocketMQ's 40-byte layout and catches damage to its extension.
// Method: round trips, every one-byte flip in [0, 92), RocketMQ-written files, seeded random bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHECKPOINT_FILE_BYTES,
  CKPT_EXT_MAGIC,
  CKPT_POS_CONFIRM_PHY_OFFSET,
  CKPT_POS_EXT_CRC,
  CKPT_POS_EXT_MAGIC,
  CKPT_POS_EXT_VERSION,
  CKPT_POS_FLUSHED_PHY_OFFSET,
  CKPT_POS_INDEX_MSG_TIMESTAMP,
  CKPT_POS_LOGICS_MSG_TIMESTAMP,
  CKPT_POS_MASTER_FLUSHED_OFFSET,
  CKPT_POS_PHYSIC_MSG_TIMESTAMP,
  decodeCheckpoint,
  emptyCheckpoint,
  encodeCheckpoint,
  type Checkpoint,
} from '../../../src/format/checkpoint.js';
import { readInt64, writeInt64 } from '../../../src/format/commit_log_record.js';
import { Prng } from '../../support/prng.js';

const SAMPLE: Checkpoint = {
  physicMsgTimestamp: 1700000000123,
  logicsMsgTimestamp: 1700000000100,
  indexMsgTimestamp: 1700000000000,
  masterFlushedOffset: 0,
  confirmPhyOffset: 2 ** 40 + 123,
  flushedPhyOffset: 2 ** 40 + 123,
  dispatchedPhyOffset: 2 ** 40 + 100,
};

/** Seeded uint32 values, so a failing case can be replayed from the printed seed. */
function prng(seed: number): () => number {
  const source = new Prng(seed);
  return () => source.nextUint32();
}

function rocketmqWritten(checkpoint: Checkpoint): Buffer {
  const bytes = Buffer.alloc(CHECKPOINT_FILE_BYTES);
  writeInt64(bytes, CKPT_POS_PHYSIC_MSG_TIMESTAMP, checkpoint.physicMsgTimestamp);
  writeInt64(bytes, CKPT_POS_LOGICS_MSG_TIMESTAMP, checkpoint.logicsMsgTimestamp);
  writeInt64(bytes, CKPT_POS_INDEX_MSG_TIMESTAMP, checkpoint.indexMsgTimestamp);
  writeInt64(bytes, CKPT_POS_MASTER_FLUSHED_OFFSET, checkpoint.masterFlushedOffset);
  writeInt64(bytes, CKPT_POS_CONFIRM_PHY_OFFSET, checkpoint.confirmPhyOffset);
  return bytes;
}

test('encodeCheckpoint writes a 4096-byte file that decodes to the same fields', () => {
  const bytes = encodeCheckpoint(SAMPLE);
  assert.equal(bytes.length, CHECKPOINT_FILE_BYTES);
  assert.deepEqual(decodeCheckpoint(bytes), { kind: 'ok', checkpoint: SAMPLE });
});

test('an empty checkpoint round trips as kind ok with every field 0', () => {
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint(emptyCheckpoint())), {
    kind: 'ok',
    checkpoint: emptyCheckpoint(),
  });
});

test('RocketMQ\'s five longs sit at 0..39 in big-endian order', () => {
  const bytes = encodeCheckpoint(SAMPLE);
  assert.equal(readInt64(bytes, 0), SAMPLE.physicMsgTimestamp);
  assert.equal(readInt64(bytes, 8), SAMPLE.logicsMsgTimestamp);
  assert.equal(readInt64(bytes, 16), SAMPLE.indexMsgTimestamp);
  assert.equal(readInt64(bytes, 24), SAMPLE.masterFlushedOffset);
  assert.equal(readInt64(bytes, 32), SAMPLE.confirmPhyOffset);
  assert.equal(bytes.subarray(40, 64).every((b) => b === 0), true);
});

test('the extension carries "MQST", version 1 and an unsigned CRC32 of bytes [0, 88)', () => {
  const bytes = encodeCheckpoint(SAMPLE);
  assert.equal(bytes.toString('latin1', CKPT_POS_EXT_MAGIC, CKPT_POS_EXT_MAGIC + 4), 'MQST');
  assert.equal(bytes.readUInt32BE(CKPT_POS_EXT_MAGIC), CKPT_EXT_MAGIC);
  assert.equal(bytes.readInt32BE(CKPT_POS_EXT_VERSION), 1);
  assert.equal(readInt64(bytes, CKPT_POS_FLUSHED_PHY_OFFSET), SAMPLE.flushedPhyOffset);
  assert.equal(bytes.subarray(CKPT_POS_EXT_CRC + 4).every((b) => b === 0), true);
});

test('a single flipped byte anywhere in [0, 92) makes the checkpoint invalid', () => {
  const good = encodeCheckpoint(SAMPLE);
  for (let position = 0; position < CKPT_POS_EXT_CRC + 4; position++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bytes = Buffer.from(good);
      bytes.writeUInt8(bytes.readUInt8(position) ^ mask, position);
      const result = decodeCheckpoint(bytes);
      assert.equal(result.kind, 'invalid', `byte ${position} ^ 0x${mask.toString(16)}`);
    }
  }
});

test('bytes after the CRC are not checked', () => {
  const bytes = encodeCheckpoint(SAMPLE);
  bytes.fill(0xab, CKPT_POS_EXT_CRC + 4);
  assert.equal(decodeCheckpoint(bytes).kind, 'ok');
});

test('a checkpoint RocketMQ wrote (all-zero extension) decodes as kind rocketmq', () => {
  const result = decodeCheckpoint(rocketmqWritten(SAMPLE));
  assert.deepEqual(result, { kind: 'rocketmq', checkpoint: { ...SAMPLE, flushedPhyOffset: 0, dispatchedPhyOffset: 0 } });
});

test('a RocketMQ 4.9.x checkpoint with only three longs decodes as kind rocketmq', () => {
  const bytes = rocketmqWritten({ ...SAMPLE, masterFlushedOffset: 0, confirmPhyOffset: 0 });
  const result = decodeCheckpoint(bytes);
  assert.equal(result.kind, 'rocketmq');
});

test('RocketMQ rewriting its fields in an mqstore checkpoint invalidates the extension', () => {
  const bytes = encodeCheckpoint(SAMPLE);
  writeInt64(bytes, CKPT_POS_PHYSIC_MSG_TIMESTAMP, SAMPLE.physicMsgTimestamp + 1000);
  assert.equal(decodeCheckpoint(bytes).kind, 'invalid');
});

test('an unknown extension version with a matching CRC is invalid', async () => {
  const { crc32 } = await import('node:zlib');
  const bytes = encodeCheckpoint(SAMPLE);
  bytes.writeInt32BE(2, CKPT_POS_EXT_VERSION);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, CKPT_POS_EXT_CRC)), CKPT_POS_EXT_CRC);
  const result = decodeCheckpoint(bytes);
  assert.equal(result.kind, 'invalid');
  assert.match(result.kind === 'invalid' ? result.reason : '', /version/);
});

test('a negative flushedPhyOffset with a matching CRC is invalid', async () => {
  const { crc32 } = await import('node:zlib');
  const bytes = encodeCheckpoint(SAMPLE);
  writeInt64(bytes, CKPT_POS_FLUSHED_PHY_OFFSET, -1);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, CKPT_POS_EXT_CRC)), CKPT_POS_EXT_CRC);
  assert.equal(decodeCheckpoint(bytes).kind, 'invalid');
});

test('a buffer shorter than 92 bytes is invalid', () => {
  const good = encodeCheckpoint(SAMPLE);
  for (const length of [0, 1, 40, 64, 91]) {
    assert.equal(decodeCheckpoint(good.subarray(0, length)).kind, 'invalid', `length ${length}`);
  }
  assert.equal(decodeCheckpoint(good.subarray(0, 92)).kind, 'ok');
});

test('decodeCheckpoint never throws on random bytes', () => {
  const seed = 0x5eed;
  const next = prng(seed);
  const counts = { ok: 0, rocketmq: 0, invalid: 0 };
  for (let i = 0; i < 5000; i++) {
    const length = i % 5 === 0 ? next() % 200 : CHECKPOINT_FILE_BYTES;
    const bytes = Buffer.alloc(length);
    for (let j = 0; j < length; j++) bytes[j] = next() & 0xff;
    // Every fourth buffer keeps a zero extension or a valid magic so the later checks run too.
    if (length >= 92 && i % 4 === 1) bytes.fill(0, CKPT_POS_EXT_MAGIC, CKPT_POS_EXT_CRC + 4);
    if (length >= 92 && i % 4 === 2) bytes.writeUInt32BE(CKPT_EXT_MAGIC, CKPT_POS_EXT_MAGIC);
    let result;
    try {
      result = decodeCheckpoint(bytes);
    } catch (error) {
      assert.fail(`seed ${seed}, case ${i}: decodeCheckpoint threw ${String(error)}`);
    }
    counts[result.kind]++;
  }
  assert.ok(counts.invalid > 0);
  assert.ok(counts.rocketmq > 0);
});
