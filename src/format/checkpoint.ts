// The `checkpoint` file: RocketMQ 5.x StoreCheckpoint (five big-endian longs at 0..39) plus an
// mqstore extension at 64..95 that RocketMQ ignores. See ./checkpoint.md.
//
//   checkpoint := physicMsgTimestamp logicsMsgTimestamp indexMsgTimestamp masterFlushedOffset
//                 confirmPhyOffset pad(24) MQST version flushedPhyOffset dispatchedPhyOffset crc pad(4004)

import { crc32 } from 'node:zlib';
import { assert } from '../assert.js';
import { readInt64, writeInt64 } from './commit_log_record.js';

export const CHECKPOINT_FILE_BYTES = 4096;

export const CKPT_POS_PHYSIC_MSG_TIMESTAMP = 0;
export const CKPT_POS_LOGICS_MSG_TIMESTAMP = 8;
export const CKPT_POS_INDEX_MSG_TIMESTAMP = 16;
export const CKPT_POS_MASTER_FLUSHED_OFFSET = 24;
export const CKPT_POS_CONFIRM_PHY_OFFSET = 32;
export const CKPT_POS_EXT_MAGIC = 64;
export const CKPT_POS_EXT_VERSION = 68;
export const CKPT_POS_FLUSHED_PHY_OFFSET = 72;
export const CKPT_POS_DISPATCHED_PHY_OFFSET = 80;
export const CKPT_POS_EXT_CRC = 88;
/** The CRC covers bytes [0, CKPT_POS_EXT_CRC). */
export const CKPT_CRC_COVERED_BYTES = CKPT_POS_EXT_CRC;

/** "MQST": marks the mqstore extension; embedded on disk — never change. */
export const CKPT_EXT_MAGIC = 0x4d515354;
export const CKPT_EXT_VERSION = 1;

assert(CKPT_POS_CONFIRM_PHY_OFFSET + 8 <= CKPT_POS_EXT_MAGIC, 'extension must not overlap RocketMQ fields');
assert(CKPT_POS_EXT_CRC + 4 <= CHECKPOINT_FILE_BYTES);

export interface Checkpoint {
  /** Store time of the last message covered by a CommitLog flush (ms). */
  physicMsgTimestamp: number;
  logicsMsgTimestamp: number;
  indexMsgTimestamp: number;
  masterFlushedOffset: number;
  /** mqstore writes the CommitLog offset known durable here, as a non-replicated RocketMQ does. */
  confirmPhyOffset: number;
  /** CommitLog bytes known fsynced when this checkpoint was written (mqstore extension). */
  flushedPhyOffset: number;
  /**
   * Every CommitLog record below this offset is in its consume queue and the index, and those
   * files were fsynced (mqstore extension; 0 = unknown, re-dispatch from the first segment).
   */
  dispatchedPhyOffset: number;
}

export function emptyCheckpoint(): Checkpoint {
  return {
    physicMsgTimestamp: 0,
    logicsMsgTimestamp: 0,
    indexMsgTimestamp: 0,
    masterFlushedOffset: 0,
    confirmPhyOffset: 0,
    flushedPhyOffset: 0,
    dispatchedPhyOffset: 0,
  };
}

export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  const out = Buffer.alloc(CHECKPOINT_FILE_BYTES);
  writeInt64(out, CKPT_POS_PHYSIC_MSG_TIMESTAMP, checkpoint.physicMsgTimestamp);
  writeInt64(out, CKPT_POS_LOGICS_MSG_TIMESTAMP, checkpoint.logicsMsgTimestamp);
  writeInt64(out, CKPT_POS_INDEX_MSG_TIMESTAMP, checkpoint.indexMsgTimestamp);
  writeInt64(out, CKPT_POS_MASTER_FLUSHED_OFFSET, checkpoint.masterFlushedOffset);
  writeInt64(out, CKPT_POS_CONFIRM_PHY_OFFSET, checkpoint.confirmPhyOffset);
  out.writeUInt32BE(CKPT_EXT_MAGIC, CKPT_POS_EXT_MAGIC);
  out.writeInt32BE(CKPT_EXT_VERSION, CKPT_POS_EXT_VERSION);
  writeInt64(out, CKPT_POS_FLUSHED_PHY_OFFSET, checkpoint.flushedPhyOffset);
  writeInt64(out, CKPT_POS_DISPATCHED_PHY_OFFSET, checkpoint.dispatchedPhyOffset);
  out.writeUInt32BE(crc32(out.subarray(0, CKPT_CRC_COVERED_BYTES)), CKPT_POS_EXT_CRC);
  return out;
}

export type CheckpointDecodeResult =
  | { kind: 'ok'; checkpoint: Checkpoint }
  /** RocketMQ wrote it (no extension): timestamps only, no durable offset. */
  | { kind: 'rocketmq'; checkpoint: Checkpoint }
  | { kind: 'invalid'; reason: string };

/** Decodes a checkpoint file's bytes; never throws. */
export function decodeCheckpoint(bytes: Buffer): CheckpointDecodeResult {
  if (bytes.length < CKPT_POS_EXT_CRC + 4) {
    return { kind: 'invalid', reason: `checkpoint is ${bytes.length} bytes, expected ${CHECKPOINT_FILE_BYTES}` };
  }
  const checkpoint: Checkpoint = {
    physicMsgTimestamp: readInt64(bytes, CKPT_POS_PHYSIC_MSG_TIMESTAMP),
    logicsMsgTimestamp: readInt64(bytes, CKPT_POS_LOGICS_MSG_TIMESTAMP),
    indexMsgTimestamp: readInt64(bytes, CKPT_POS_INDEX_MSG_TIMESTAMP),
    masterFlushedOffset: readInt64(bytes, CKPT_POS_MASTER_FLUSHED_OFFSET),
    confirmPhyOffset: readInt64(bytes, CKPT_POS_CONFIRM_PHY_OFFSET),
    flushedPhyOffset: 0,
    dispatchedPhyOffset: 0,
  };
  const magic = bytes.readUInt32BE(CKPT_POS_EXT_MAGIC);
  if (magic === 0 && bytes.subarray(CKPT_POS_EXT_MAGIC, CKPT_POS_EXT_CRC + 4).every((b) => b === 0)) {
    return { kind: 'rocketmq', checkpoint };
  }
  if (magic !== CKPT_EXT_MAGIC) return { kind: 'invalid', reason: `bad extension magic 0x${magic.toString(16)}` };
  const stored = bytes.readUInt32BE(CKPT_POS_EXT_CRC);
  const actual = crc32(bytes.subarray(0, CKPT_CRC_COVERED_BYTES));
  if (stored !== actual) return { kind: 'invalid', reason: `CRC ${stored} does not match ${actual}` };
  const version = bytes.readInt32BE(CKPT_POS_EXT_VERSION);
  if (version !== CKPT_EXT_VERSION) return { kind: 'invalid', reason: `unknown extension version ${version}` };
  checkpoint.flushedPhyOffset = readInt64(bytes, CKPT_POS_FLUSHED_PHY_OFFSET);
  if (!Number.isSafeInteger(checkpoint.flushedPhyOffset) || checkpoint.flushedPhyOffset < 0) {
    return { kind: 'invalid', reason: `flushedPhyOffset ${checkpoint.flushedPhyOffset} out of range` };
  }
  checkpoint.dispatchedPhyOffset = readInt64(bytes, CKPT_POS_DISPATCHED_PHY_OFFSET);
  if (!Number.isSafeInteger(checkpoint.dispatchedPhyOffset) || checkpoint.dispatchedPhyOffset < 0) {
    return { kind: 'invalid', reason: `dispatchedPhyOffset ${checkpoint.dispatchedPhyOffset} out of range` };
  }
  return { kind: 'ok', checkpoint };
}
