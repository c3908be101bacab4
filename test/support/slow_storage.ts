// SlowStorage: the node:fs Storage whose pread (or pwritev) calls on paths containing a given piece wait first,
// blocking the worker thread that made them (Atomics.wait). Tests use it to hold the dispatcher
// inside a consume queue read (retention's correctMinOffset) while the main thread goes on:
//
//   MessageStore.open(config, slowStorageSpec({ preadPathIncludes: '/consumequeue/', preadDelayMs: 300 }))
//
// The workers import this module (MessageStoreInternals.storage.module) and call
// createStorage(options) inside their threads.

import type { Storage, StorageFile, StorageSpec } from '../../src/io/storage.js';
import { FsStorage } from '../../src/io/storage_fs.js';

export interface SlowStorageOptions {
  /** Only preads of paths containing this wait. */
  preadPathIncludes?: string;
  preadDelayMs?: number;
  /** Only pwritevs of paths containing this wait (a slow page cache: pageCacheLockTimeMills). */
  pwritevPathIncludes?: string;
  pwritevDelayMs?: number;
}

class SlowStorage extends FsStorage {
  private readonly options: SlowStorageOptions;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(options: SlowStorageOptions) {
    super();
    this.options = options;
  }

  override pread(file: StorageFile, target: Uint8Array, targetStart: number, length: number, position: number): number {
    const { preadPathIncludes, preadDelayMs } = this.options;
    if (preadPathIncludes !== undefined && file.path.includes(preadPathIncludes)) Atomics.wait(this.sleeper, 0, 0, preadDelayMs ?? 0);
    return super.pread(file, target, targetStart, length, position);
  }

  override pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    const { pwritevPathIncludes, pwritevDelayMs } = this.options;
    if (pwritevPathIncludes !== undefined && file.path.includes(pwritevPathIncludes)) Atomics.wait(this.sleeper, 0, 0, pwritevDelayMs ?? 0);
    super.pwritev(file, buffers, position);
  }
}

export function slowStorageSpec(options: SlowStorageOptions): { storage: StorageSpec } {
  return { storage: { module: import.meta.url, options } };
}

export function createStorage(options: SlowStorageOptions): Storage {
  return new SlowStorage(options);
}
