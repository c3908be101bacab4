// Storage on node:fs, with explicit flags and modes at every call site.

import fs from 'node:fs';
import { type Storage, type StorageFile, type StorageSpec, writeFileAtomicVia } from './storage.js';

const FILE_MODE = 0o644;
const ZERO_CHUNK_BYTES = 1024 * 1024;
let zeros: Buffer | null = null;

function zeroChunk(): Buffer {
  zeros ??= Buffer.alloc(ZERO_CHUNK_BYTES);
  return zeros;
}
const DIR_MODE = 0o755;

export class FsStorage implements Storage {
  mkdirp(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  }

  list(dir: string): string[] {
    try {
      return fs.readdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  exists(file: string): boolean {
    return fs.existsSync(file);
  }

  sizeBytes(file: string): number {
    try {
      return fs.statSync(file).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1;
      throw error;
    }
  }

  modifiedMs(file: string): number {
    try {
      return fs.statSync(file).mtimeMs;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1;
      throw error;
    }
  }

  open(file: string, create: boolean): StorageFile {
    const flags = create ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR;
    return { fd: fs.openSync(file, flags, FILE_MODE), path: file };
  }

  close(file: StorageFile): void {
    fs.closeSync(file.fd);
  }

  truncate(file: StorageFile, lengthBytes: number): void {
    fs.ftruncateSync(file.fd, lengthBytes);
  }

  pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    let pending = buffers.slice();
    let at = position;
    // writev may write less than asked (signals, huge requests); finish the rest.
    while (pending.length > 0) {
      let written = fs.writevSync(file.fd, pending as NodeJS.ArrayBufferView[], at);
      at += written;
      while (pending.length > 0 && written >= pending[0]!.byteLength) {
        written -= pending[0]!.byteLength;
        pending.shift();
      }
      if (written > 0) pending[0] = pending[0]!.subarray(written);
    }
  }

  pread(file: StorageFile, target: Uint8Array, targetStart: number, length: number, position: number): number {
    let total = 0;
    while (total < length) {
      const n = fs.readSync(file.fd, target, targetStart + total, length - total, position + total);
      if (n === 0) break;
      total += n;
    }
    return total;
  }

  fdatasync(file: StorageFile): void {
    fs.fdatasyncSync(file.fd);
  }

  async zeroFillAsync(file: StorageFile, position: number, lengthBytes: number): Promise<void> {
    const zeros = zeroChunk();
    for (let at = position; at < position + lengthBytes; ) {
      const length = Math.min(zeros.length, position + lengthBytes - at);
      const written = await new Promise<number>((resolve, reject) => {
        fs.write(file.fd, zeros, 0, length, at, (error, bytes) => (error ? reject(error) : resolve(bytes)));
      });
      at += written;
    }
  }

  fdatasyncAsync(file: StorageFile): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(file.fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  removeTree(dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  unlink(file: string): void {
    fs.unlinkSync(file);
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  fsyncDir(dir: string): void {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  writeFileAtomic(file: string, data: Uint8Array): void {
    writeFileAtomicVia(this, file, data);
  }

  readFile(file: string): Buffer | null {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }
}

/** Builds the storage a spec names; the default is node:fs. */
export async function createStorage(spec: StorageSpec | undefined): Promise<Storage> {
  if (spec === undefined) return new FsStorage();
  const module = (await import(spec.module)) as { createStorage?: (options: unknown) => Storage };
  if (typeof module.createStorage !== 'function') {
    throw new TypeError(`storage module ${spec.module} does not export createStorage(options)`);
  }
  return module.createStorage(spec.options);
}
