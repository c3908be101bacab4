// A Storage that hands every call to another one: the base of the test storages that change a
// few operations (FaultyStorage injects faults, JournalStorage records changes) and forward the
// rest unchanged.

import type { Storage, StorageFile } from '../../src/io/storage.js';
import { writeFileAtomicVia } from '../../src/io/storage.js';

export class ForwardingStorage implements Storage {
  protected readonly inner: Storage;

  constructor(inner: Storage) {
    this.inner = inner;
  }

  mkdirp(dir: string): void {
    this.inner.mkdirp(dir);
  }

  list(dir: string): string[] {
    return this.inner.list(dir);
  }

  exists(file: string): boolean {
    return this.inner.exists(file);
  }

  sizeBytes(file: string): number {
    return this.inner.sizeBytes(file);
  }

  modifiedMs(file: string): number {
    return this.inner.modifiedMs(file);
  }

  open(file: string, create: boolean): StorageFile {
    return this.inner.open(file, create);
  }

  close(file: StorageFile): void {
    this.inner.close(file);
  }

  truncate(file: StorageFile, lengthBytes: number): void {
    this.inner.truncate(file, lengthBytes);
  }

  pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    this.inner.pwritev(file, buffers, position);
  }

  pread(file: StorageFile, target: Uint8Array, targetStart: number, length: number, position: number): number {
    return this.inner.pread(file, target, targetStart, length, position);
  }

  fdatasync(file: StorageFile): void {
    this.inner.fdatasync(file);
  }

  zeroFillAsync(file: StorageFile, position: number, lengthBytes: number): Promise<void> {
    return this.inner.zeroFillAsync(file, position, lengthBytes);
  }

  fdatasyncAsync(file: StorageFile): Promise<void> {
    return this.inner.fdatasyncAsync(file);
  }

  unlink(file: string): void {
    this.inner.unlink(file);
  }

  removeTree(dir: string): void {
    this.inner.removeTree(dir);
  }

  rename(from: string, to: string): void {
    this.inner.rename(from, to);
  }

  fsyncDir(dir: string): void {
    this.inner.fsyncDir(dir);
  }

  /** Through this object's own methods, so a subclass's changes apply to small files too. */
  writeFileAtomic(file: string, data: Uint8Array): void {
    writeFileAtomicVia(this, file, data);
  }

  readFile(file: string): Buffer | null {
    return this.inner.readFile(file);
  }
}
