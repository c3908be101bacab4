// Shared pieces of the fuzz campaign (test/campaign/fuzz_*.test.ts): the fast-check run
// parameters (fixed seed by default, FUZZ_SEED / FUZZ_RUNS to change them), an in-memory
// Storage so readers that go through files run without a disk, byte mutations, and the check
// that a reader failed only with the project's typed format error.

import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { StoreError, type StoreErrorCode } from '../../src/errors.js';
import type { Storage, StorageFile } from '../../src/io/storage.js';

/** The seed every campaign run uses unless FUZZ_SEED says otherwise (printed by fast-check on failure). */
export const FUZZ_SEED_DEFAULT = 20261125;
/** Runs per property in CI; a long run sets FUZZ_RUNS=20000. */
export const FUZZ_RUNS_DEFAULT = 300;

export const fuzzSeed = Number(process.env['FUZZ_SEED'] ?? FUZZ_SEED_DEFAULT);
export const fuzzRuns = Number(process.env['FUZZ_RUNS'] ?? FUZZ_RUNS_DEFAULT);

/** fc.assert parameters: the campaign seed, `scale` × the campaign runs (heavier properties use < 1). */
export function fuzzParameters(scale = 1): fc.Parameters<unknown> {
  return {
    seed: fuzzSeed,
    numRuns: Math.max(1, Math.round(fuzzRuns * scale)),
    // FUZZ_SHRINK=0 reports the first failing input as found (shrinking big inputs can be slow).
    endOnFailure: process.env['FUZZ_SHRINK'] === '0',
  };
}

/**
 * Runs `read` and returns its result, or the StoreError it threw. Any other exception (a
 * RangeError from an out-of-bounds read, a TypeError, an AssertionError) fails the property, as
 * does a StoreError whose code is not one of `codes`.
 */
export function readOrTypedError<T>(codes: readonly StoreErrorCode[], read: () => T): T | StoreError {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof StoreError)) {
      const name = (error as Error | undefined)?.name ?? typeof error;
      assert.fail(`reader threw ${name} instead of a StoreError: ${(error as Error | undefined)?.stack ?? String(error)}`);
    }
    assert.ok(codes.includes(error.code), `reader threw ${error.code} (${error.message}); allowed: ${codes.join(', ')}`);
    return error;
  }
}

/** The outcome of a reader as plain data, so two runs over different surroundings can be compared. */
export function outcomeOf<T>(codes: readonly StoreErrorCode[], read: () => T): { ok: T } | { error: string } {
  const result = readOrTypedError(codes, read);
  return result instanceof StoreError ? { error: `${result.code}: ${result.message}` } : { ok: result };
}

/**
 * `bytes` copied into a larger buffer between `before` and `after` filler bytes of value
 * `poison`; returns the subarray that holds exactly `bytes`. Two different poisons around the
 * same bytes must give a reader the same answer, or it read outside its subarray.
 */
export function embedded(bytes: Uint8Array, before: number, after: number, poison: number): Buffer {
  const outer = Buffer.alloc(before + bytes.length + after, poison);
  outer.set(bytes, before);
  return outer.subarray(before, before + bytes.length);
}

/** Extreme values a damaged length, size or magic field takes. */
export const EXTREME_INT32S: readonly number[] = [
  0, 1, -1, 7, 8, 90, 91, 92, 127, 128, 255, 32767, 32768, 65535, 0x7fffffff, -0x80000000, -0x7fffffff,
  0xdaa320a7 | 0, 0xdaa320ab | 0, 0xcbd43194 | 0, 0x4d515354,
];

/** One byte-level damage of a buffer (positions and lengths are taken modulo the buffer size). */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'int32'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array };

/**
 * Mutations biased towards the first 128 bytes (where the headers and length fields are), with
 * an int32 write of an extreme value at a given field position as a separate kind.
 */
export function mutationArbitrary(fieldPositions: readonly number[] = []): fc.Arbitrary<Mutation> {
  const at = fc.oneof(fc.nat(127), fc.nat(1 << 16));
  const int32 = fc.oneof(fc.constantFrom(...EXTREME_INT32S), fc.integer({ min: -0x80000000, max: 0x7fffffff }));
  const int32At = fieldPositions.length > 0 ? fc.oneof(fc.constantFrom(...fieldPositions), at) : at;
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at, bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at, value: fc.nat(255) }),
    fc.record({ kind: fc.constant('int32' as const), at: int32At, value: int32 }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
  );
}

/** A damaged copy of `source`. */
export function mutate(source: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(source);
  for (const mutation of mutations) {
    const length = bytes.length;
    const at = length === 0 ? 0 : 'at' in mutation ? mutation.at % length : 0;
    switch (mutation.kind) {
      case 'flip':
        if (length > 0) bytes[at] = bytes[at]! ^ (1 << mutation.bit);
        break;
      case 'set':
        if (length > 0) bytes[at] = mutation.value;
        break;
      case 'int32':
        if (length >= 4) bytes.writeInt32BE(mutation.value, Math.min(at, length - 4));
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), mutation.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + mutation.length)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'append':
        bytes = Buffer.concat([bytes, mutation.bytes]);
        break;
    }
  }
  return Buffer.from(bytes);
}

/** The same damage as `mutate`, but never changing the length (for fixed-size files). */
export function mutateInPlace(source: Uint8Array, mutations: readonly Mutation[]): Buffer {
  const bytes = Buffer.from(source);
  for (const mutation of mutations) {
    if (bytes.length === 0) break;
    const at = 'at' in mutation ? mutation.at % bytes.length : 0;
    if (mutation.kind === 'flip') bytes[at] = bytes[at]! ^ (1 << mutation.bit);
    else if (mutation.kind === 'set') bytes[at] = mutation.value;
    else if (mutation.kind === 'int32' && bytes.length >= 4) bytes.writeInt32BE(mutation.value, Math.min(at, bytes.length - 4));
    else if (mutation.kind === 'insert') bytes.set(mutation.bytes.subarray(0, bytes.length - at), at);
    else if (mutation.kind === 'delete' || mutation.kind === 'truncate') bytes.fill(0, at);
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// In-memory Storage: files are growable byte arrays keyed by path; directories are implied by
// the files under them (plus the ones made by mkdirp). Only what the readers need behaves like
// a disk; syncs do nothing.

interface MemoryFile {
  bytes: Buffer;
}

export class MemoryStorage implements Storage {
  readonly files = new Map<string, MemoryFile>();
  readonly dirs = new Set<string>();
  private nextFd = 3;
  /** Descriptors handed out and not yet closed. */
  openCount = 0;

  /** Puts a whole file (and its directories). */
  putFile(file: string, bytes: Uint8Array): void {
    this.mkdirp(path.dirname(file));
    this.files.set(path.normalize(file), { bytes: Buffer.from(bytes) });
  }

  /** A copy of a file's bytes, or null. */
  fileBytes(file: string): Buffer | null {
    const entry = this.files.get(path.normalize(file));
    return entry === undefined ? null : Buffer.from(entry.bytes);
  }

  mkdirp(dir: string): void {
    for (let at = path.normalize(dir); !this.dirs.has(at); at = path.dirname(at)) {
      this.dirs.add(at);
      if (path.dirname(at) === at) break;
    }
  }

  list(dir: string): string[] {
    const prefix = path.normalize(dir) + path.sep;
    const names = new Set<string>();
    for (const name of [...this.files.keys(), ...this.dirs]) {
      if (name.startsWith(prefix)) names.add(name.slice(prefix.length).split(path.sep)[0]!);
    }
    return [...names];
  }

  exists(file: string): boolean {
    return this.files.has(path.normalize(file)) || this.dirs.has(path.normalize(file));
  }

  sizeBytes(file: string): number {
    return this.files.get(path.normalize(file))?.bytes.length ?? -1;
  }

  modifiedMs(file: string): number {
    return this.exists(file) ? 0 : -1;
  }

  open(file: string, create: boolean): StorageFile {
    const key = path.normalize(file);
    if (!this.files.has(key)) {
      if (!create) throw Object.assign(new Error(`ENOENT: no such file, open '${file}'`), { code: 'ENOENT' });
      this.putFile(key, Buffer.alloc(0));
    }
    this.openCount++;
    return { fd: this.nextFd++, path: key };
  }

  close(): void {
    this.openCount--;
  }

  truncate(file: StorageFile, lengthBytes: number): void {
    const entry = this.entry(file);
    const next = Buffer.alloc(lengthBytes);
    entry.bytes.copy(next, 0, 0, Math.min(lengthBytes, entry.bytes.length));
    entry.bytes = next;
  }

  pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    const entry = this.entry(file);
    let at = position;
    for (const buffer of buffers) {
      if (at + buffer.length > entry.bytes.length) this.truncate(file, at + buffer.length);
      entry.bytes.set(buffer, at);
      at += buffer.length;
    }
  }

  pread(file: StorageFile, target: Uint8Array, targetStart: number, length: number, position: number): number {
    const bytes = this.entry(file).bytes;
    if (position >= bytes.length) return 0;
    const count = Math.min(length, bytes.length - position);
    target.set(bytes.subarray(position, position + count), targetStart);
    return count;
  }

  fdatasync(): void {}

  async zeroFillAsync(file: StorageFile, position: number, lengthBytes: number): Promise<void> {
    this.pwritev(file, [Buffer.alloc(lengthBytes)], position);
  }

  async fdatasyncAsync(): Promise<void> {}

  unlink(file: string): void {
    if (!this.files.delete(path.normalize(file))) {
      throw Object.assign(new Error(`ENOENT: no such file, unlink '${file}'`), { code: 'ENOENT' });
    }
  }

  removeTree(dir: string): void {
    const key = path.normalize(dir);
    const prefix = key + path.sep;
    for (const name of [...this.files.keys()]) if (name === key || name.startsWith(prefix)) this.files.delete(name);
    for (const name of [...this.dirs]) if (name === key || name.startsWith(prefix)) this.dirs.delete(name);
  }

  rename(from: string, to: string): void {
    const entry = this.files.get(path.normalize(from));
    if (entry === undefined) throw Object.assign(new Error(`ENOENT: rename '${from}'`), { code: 'ENOENT' });
    this.files.delete(path.normalize(from));
    this.files.set(path.normalize(to), entry);
  }

  fsyncDir(): void {}

  writeFileAtomic(file: string, data: Uint8Array): void {
    this.putFile(file, data);
  }

  readFile(file: string): Buffer | null {
    return this.fileBytes(file);
  }

  private entry(file: StorageFile): MemoryFile {
    const entry = this.files.get(file.path);
    assert.ok(entry !== undefined, `file ${file.path} was deleted while open`);
    return entry;
  }
}
