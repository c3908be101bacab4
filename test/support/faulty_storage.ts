// FaultyStorage: the node:fs Storage with injected faults (a failing nth call, slow fsyncs) and a
// shared-memory report of what the CommitLog files hold durably, for the writer worker in tests.
//
// The writer worker imports this module (MessageStoreInternals.storage.module) and calls
// createStorage(options) inside its thread. The test keeps the `syncLog` SharedArrayBuffer it put
// in the options and reads it with readSyncLog():
//
//   const syncLog = createSyncLog();
//   const store = await MessageStore.open(config, faultyStorageSpec({ syncLog, fsyncDelayMs: 400 }));
//   readSyncLog(syncLog).durableEnd   // highest CommitLog offset known fsynced
//
// Report layout (SYNC_LOG_BYTES bytes): a Float64Array view over bytes 0..31 and an Int32Array
// counter at byte 32. The worker writes the Float64 fields with plain stores, then bumps the
// counter with Atomics.add; readSyncLog() does Atomics.load on the counter first, then reads.
//
//   f64[0] durableEnd     highest CommitLog physical offset known fsynced: over all CommitLog
//                         files, segment start (from the 20-digit file name) + the highest byte
//                         position written to that file before an fdatasync of it started
//                         (a file with nothing written, e.g. a preallocated one, never counts)
//   f64[1] fsyncCount     successful fdatasyncs of CommitLog files
//   f64[2] faultOffset    CommitLog physical offset of the first injected fault, -1 if none:
//                         pwritev → start of the refused write; fdatasync → the file's durable
//                         end before it; open/truncate → the segment start
//   f64[3] faultCount     injected faults so far
//   i32[8] updates        bumped after every change of the fields above
//
// Durability tracking per file keeps the written byte ranges not yet covered by a completed
// fdatasync (`unsynced`) next to the durable prefix, so "drop unsynced bytes" (simulating a
// crash) can be added later by rewriting those ranges from the synced image.

import path from 'node:path';
import { parseSegmentName } from '../../src/format/segment_name.js';
import type { Storage, StorageFile, StorageSpec } from '../../src/io/storage.js';
import { FsStorage } from '../../src/io/storage_fs.js';
import { ForwardingStorage } from './forwarding_storage.js';

export type FaultOp = 'pwritev' | 'fdatasync' | 'open' | 'truncate';
export type FaultErrno = 'EIO' | 'ENOSPC' | 'EROFS';

export interface FailOn {
  op: FaultOp;
  /** 1-based: the nth call of `op` on a path containing `pathIncludes` fails. */
  nth: number;
  errno: FaultErrno;
  /** Only calls on paths containing this count and fail (default 'commitlog'). */
  pathIncludes?: string;
  /** Every later matching call fails too, as on a dying disk (default false). */
  sticky?: boolean;
}

export interface FaultyStorageOptions {
  failOn?: FailOn;
  /** fdatasyncAsync waits this long before syncing: a slow disk. */
  fsyncDelayMs?: number;
  /** The report buffer from createSyncLog(). */
  syncLog?: SharedArrayBuffer;
}

export interface SyncLogSnapshot {
  durableEnd: number;
  fsyncCount: number;
  faultOffset: number;
  faultCount: number;
  updates: number;
}

export const SYNC_LOG_BYTES = 40;
const F64_DURABLE_END = 0;
const F64_FSYNC_COUNT = 1;
const F64_FAULT_OFFSET = 2;
const F64_FAULT_COUNT = 3;
const I32_UPDATES = 8;

const ERRNO: Record<FaultErrno, { errno: number; text: string }> = {
  EIO: { errno: -5, text: 'i/o error' },
  ENOSPC: { errno: -28, text: 'no space left on device' },
  EROFS: { errno: -30, text: 'read-only file system' },
};

const SYSCALL: Record<FaultOp, string> = { pwritev: 'write', fdatasync: 'fdatasync', open: 'open', truncate: 'ftruncate' };

/** A fresh report buffer: durableEnd 0, no fsyncs, no fault. */
export function createSyncLog(): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(SYNC_LOG_BYTES);
  new Float64Array(sab, 0, 4)[F64_FAULT_OFFSET] = -1;
  return sab;
}

export function readSyncLog(sab: SharedArrayBuffer): SyncLogSnapshot {
  const updates = Atomics.load(new Int32Array(sab), I32_UPDATES);
  const f64 = new Float64Array(sab, 0, 4);
  return {
    durableEnd: f64[F64_DURABLE_END]!,
    fsyncCount: f64[F64_FSYNC_COUNT]!,
    faultOffset: f64[F64_FAULT_OFFSET]!,
    faultCount: f64[F64_FAULT_COUNT]!,
    updates,
  };
}

/** The StorageSpec for MessageStore.open's internals: this module, with `options`. */
export function faultyStorageSpec(options: FaultyStorageOptions): { storage: StorageSpec } {
  return { storage: { module: import.meta.url, options } };
}

/** A node:fs-style error: message "EIO: i/o error, write (injected)", with code, errno and syscall. */
export function fsError(errnoName: FaultErrno, op: FaultOp): NodeJS.ErrnoException {
  const { errno, text } = ERRNO[errnoName];
  const syscall = SYSCALL[op];
  return Object.assign(new Error(`${errnoName}: ${text}, ${syscall} (injected)`), { code: errnoName, errno, syscall });
}

interface ByteRange {
  start: number;
  end: number;
}

/** What one CommitLog file holds: written ranges not yet fsynced, and the durable prefix. */
interface FileState {
  /** Physical offset of the file's first byte (from its name). */
  segmentStart: number;
  /** Highest byte position written (exclusive). */
  writtenEnd: number;
  /** Highest byte position covered by a completed fdatasync (exclusive). */
  syncedEnd: number;
  /** Written ranges not yet covered by a completed fdatasync, in write order. */
  unsynced: ByteRange[];
}

/** True when the file lives in a directory named `commitlog` and has a segment name. */
function commitLogSegmentStart(file: string): number | null {
  if (path.basename(path.dirname(file)) !== 'commitlog') return null;
  return parseSegmentName(path.basename(file));
}

/** Preallocation (zeroFillAsync) is not message data: neither counted for faults nor tracked. */
export class FaultyStorage extends ForwardingStorage {
  private readonly options: FaultyStorageOptions;
  private readonly calls = new Map<FaultOp, number>();
  private readonly files = new Map<string, FileState>();
  private readonly report: { f64: Float64Array; i32: Int32Array } | null;
  private failedOnce = false;

  constructor(options: FaultyStorageOptions = {}) {
    super(new FsStorage());
    this.options = options;
    const sab = options.syncLog;
    this.report = sab === undefined ? null : { f64: new Float64Array(sab, 0, 4), i32: new Int32Array(sab) };
  }

  // --- faults ---------------------------------------------------------------------------------

  /** Counts a call and throws the configured error if this call is to fail. */
  private check(op: FaultOp, file: string, faultOffset: () => number): void {
    const failOn = this.options.failOn;
    if (failOn === undefined || failOn.op !== op) return;
    if (!file.includes(failOn.pathIncludes ?? 'commitlog')) return;
    const n = (this.calls.get(op) ?? 0) + 1;
    this.calls.set(op, n);
    const fails = n === failOn.nth || (failOn.sticky === true && n > failOn.nth);
    if (!fails) return;
    this.recordFault(faultOffset());
    throw fsError(failOn.errno, op);
  }

  private recordFault(physicalOffset: number): void {
    if (this.report === null) return;
    if (!this.failedOnce) this.report.f64[F64_FAULT_OFFSET] = physicalOffset;
    this.failedOnce = true;
    this.report.f64[F64_FAULT_COUNT]! += 1;
    Atomics.add(this.report.i32, I32_UPDATES, 1);
  }

  // --- durability tracking --------------------------------------------------------------------

  private stateOf(file: string): FileState | null {
    const segmentStart = commitLogSegmentStart(file);
    if (segmentStart === null) return null;
    let state = this.files.get(file);
    if (state === undefined) {
      state = { segmentStart, writtenEnd: 0, syncedEnd: 0, unsynced: [] };
      this.files.set(file, state);
    }
    return state;
  }

  private noteWrite(file: string, position: number, lengthBytes: number): void {
    const state = this.stateOf(file);
    if (state === null || lengthBytes === 0) return;
    state.unsynced.push({ start: position, end: position + lengthBytes });
    state.writtenEnd = Math.max(state.writtenEnd, position + lengthBytes);
  }

  /** What an fdatasync starting now will cover: call before the sync, apply after it succeeds. */
  private syncStarts(file: string): (() => void) | null {
    const state = this.stateOf(file);
    if (state === null) return null;
    const coveredEnd = state.writtenEnd;
    const coveredRanges = state.unsynced.length;
    return () => {
      state.unsynced.splice(0, coveredRanges);
      state.syncedEnd = Math.max(state.syncedEnd, coveredEnd);
      if (this.report === null) return;
      const durableEnd = state.segmentStart + state.syncedEnd;
      // A file with nothing written says nothing about the log (a preallocated segment).
      if (state.syncedEnd > 0 && durableEnd > this.report.f64[F64_DURABLE_END]!) this.report.f64[F64_DURABLE_END] = durableEnd;
      this.report.f64[F64_FSYNC_COUNT]! += 1;
      Atomics.add(this.report.i32, I32_UPDATES, 1);
    };
  }

  private durableOffsetOf(file: string): number {
    const state = this.stateOf(file);
    return state === null ? -1 : state.segmentStart + state.syncedEnd;
  }

  private segmentStartOf(file: string): number {
    return commitLogSegmentStart(file) ?? -1;
  }

  // --- Storage --------------------------------------------------------------------------------

  open(file: string, create: boolean): StorageFile {
    this.check('open', file, () => this.segmentStartOf(file));
    return this.inner.open(file, create);
  }

  truncate(file: StorageFile, lengthBytes: number): void {
    this.check('truncate', file.path, () => this.segmentStartOf(file.path));
    this.inner.truncate(file, lengthBytes);
    const state = this.stateOf(file.path);
    if (state !== null && lengthBytes < state.writtenEnd) {
      // Bytes past the new length are gone; nothing there needs syncing any more.
      state.writtenEnd = lengthBytes;
      state.syncedEnd = Math.min(state.syncedEnd, lengthBytes);
      state.unsynced = state.unsynced
        .map((r) => ({ start: r.start, end: Math.min(r.end, lengthBytes) }))
        .filter((r) => r.end > r.start);
    }
  }

  pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    const segmentStart = this.segmentStartOf(file.path);
    this.check('pwritev', file.path, () => (segmentStart < 0 ? -1 : segmentStart + position));
    this.inner.pwritev(file, buffers, position);
    let lengthBytes = 0;
    for (const buffer of buffers) lengthBytes += buffer.byteLength;
    this.noteWrite(file.path, position, lengthBytes);
  }

  fdatasync(file: StorageFile): void {
    this.check('fdatasync', file.path, () => this.durableOffsetOf(file.path));
    const synced = this.syncStarts(file.path);
    this.inner.fdatasync(file);
    synced?.();
  }

  async fdatasyncAsync(file: StorageFile): Promise<void> {
    const delayMs = this.options.fsyncDelayMs ?? 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    this.check('fdatasync', file.path, () => this.durableOffsetOf(file.path));
    // Only bytes written before the sync really starts are covered by it.
    const synced = this.syncStarts(file.path);
    await this.inner.fdatasyncAsync(file);
    synced?.();
  }

  unlink(file: string): void {
    this.inner.unlink(file);
    this.files.delete(file);
  }
}

/** The entry point the writer worker calls. */
export function createStorage(options: FaultyStorageOptions): Storage {
  return new FaultyStorage(options ?? {});
}
