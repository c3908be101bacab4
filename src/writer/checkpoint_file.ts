// Writes the `checkpoint` file in place (RocketMQ maps and forces it; we pwrite 4 KiB and
// fdatasync on the thread pool). One write in flight at a time; later requests coalesce.

import path from 'node:path';
import { ioError } from '../errors.js';
import { type Checkpoint, encodeCheckpoint } from '../format/checkpoint.js';
import type { Storage, StorageFile } from '../io/storage.js';

export const CHECKPOINT_FILE_NAME = 'checkpoint';

export class CheckpointFile {
  private readonly storage: Storage;
  private readonly file: StorageFile;
  private inFlight: Promise<void> | null = null;
  private pending: Checkpoint | null = null;

  constructor(storage: Storage, rootDir: string) {
    this.storage = storage;
    const file = path.join(rootDir, CHECKPOINT_FILE_NAME);
    try {
      this.file = storage.open(file, true);
    } catch (error) {
      throw ioError(`cannot open ${file}`, error);
    }
  }

  /** Writes and syncs now (start-up and shutdown). */
  writeSync(checkpoint: Checkpoint): void {
    try {
      this.storage.pwritev(this.file, [encodeCheckpoint(checkpoint)], 0);
      this.storage.fdatasync(this.file);
    } catch (error) {
      throw ioError('checkpoint write failed', error);
    }
  }

  /** Schedules a write; resolves when a write including this value is durable. */
  writeAsync(checkpoint: Checkpoint): Promise<void> {
    this.pending = checkpoint;
    if (this.inFlight === null) this.inFlight = this.drain();
    return this.inFlight;
  }

  async settle(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
  }

  close(): void {
    this.storage.close(this.file);
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending !== null) {
        const next = this.pending;
        this.pending = null;
        this.storage.pwritev(this.file, [encodeCheckpoint(next)], 0);
        await this.storage.fdatasyncAsync(this.file);
      }
    } catch (error) {
      throw ioError('checkpoint write failed', error);
    } finally {
      this.inFlight = null;
    }
  }
}
