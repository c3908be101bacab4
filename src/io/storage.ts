// The storage interface: every file operation of the engine goes through it, so tests can
// inject faults (failing writes or fsyncs, slow fsyncs, lost unsynced bytes) in the same
// process or inside the worker threads. Calls are synchronous except fdatasyncAsync, which
// lets the writer overlap an fsync with the next write (group commit pipelining).

import path from 'node:path';

/** An open file. `path` is kept for error messages and for fault injection by file. */
export interface StorageFile {
  readonly fd: number;
  readonly path: string;
}

export interface Storage {
  /** Creates the directory and its parents. */
  mkdirp(dir: string): void;
  /** Names in a directory, or [] if it does not exist. */
  list(dir: string): string[];
  exists(file: string): boolean;
  /** Size in bytes, or -1 if the file does not exist. */
  sizeBytes(file: string): number;
  /** Last modification time (ms since the epoch), or -1 if the file does not exist. */
  modifiedMs(file: string): number;
  /** Opens for reading and writing; creates the file when `create` is set. */
  open(file: string, create: boolean): StorageFile;
  close(file: StorageFile): void;
  /** Sets the file length (sparse extension or truncation). */
  truncate(file: StorageFile, lengthBytes: number): void;
  /** Positional gather write of all buffers at `position`; writes everything or throws. */
  pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void;
  /** Positional read; returns the bytes read (short only at end of file). */
  pread(file: StorageFile, target: Uint8Array, targetStart: number, length: number, position: number): number;
  fdatasync(file: StorageFile): void;
  /**
   * Writes zeros over [position, position + lengthBytes) on the thread pool: preallocation that
   * makes later fdatasyncs cheaper (blocks already allocated). Not message data.
   */
  zeroFillAsync(file: StorageFile, position: number, lengthBytes: number): Promise<void>;
  /** fdatasync on the thread pool, so the caller may keep writing meanwhile. */
  fdatasyncAsync(file: StorageFile): Promise<void>;
  unlink(file: string): void;
  /** Removes a directory and everything under it; nothing happens if it does not exist. */
  removeTree(dir: string): void;
  rename(from: string, to: string): void;
  /** fsync of a directory, so creations, renames and deletions in it are durable. */
  fsyncDir(dir: string): void;
  /** Writes a whole small file durably: temp file, fsync, rename, fsync of the directory. */
  writeFileAtomic(file: string, data: Uint8Array): void;
  /** Reads a whole small file, or null if it does not exist. */
  readFile(file: string): Buffer | null;
}

/** Writes a whole small file durably through `storage`: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomicVia(storage: Storage, file: string, data: Uint8Array): void {
  const temp = `${file}.tmp`;
  const handle = storage.open(temp, true);
  try {
    storage.truncate(handle, 0);
    storage.pwritev(handle, [data], 0);
    storage.fdatasync(handle);
  } finally {
    storage.close(handle);
  }
  storage.rename(temp, file);
  storage.fsyncDir(path.dirname(file));
}

/**
 * How a worker builds its Storage: the default node:fs one, or one exported by a module
 * (tests pass a fault-injecting storage this way; `options` must be structured-cloneable).
 */
export interface StorageSpec {
  module: string;
  options?: unknown;
}
