// Simulated power loss. JournalStorage wraps the workers' Storage (the node:fs one, or
// FaultyStorage with its injected errors and slow fsyncs) and appends every change it makes to
// a journal file: writes with their bytes, truncations, creations, renames, unlinks, and the
// begin and end of every fdatasync and directory fsync. After the process is killed,
// applyPowerLoss() replays the journal over a snapshot of the store taken before the process
// started and writes back only what a power cut would have left:
//
//   file contents   the bytes covered by a completed fdatasync of that file (writes journaled
//                   before the sync began); `prefix` also keeps a random prefix of each file's
//                   later writes, `torn` keeps them all but tears the last one at a random byte,
//                   `subset` keeps each 4 KiB page of them or not (writeback in any order: holes)
//   directory       a creation, rename or unlink survives only once an fsync of its directory
//   entries         completed after it (directories themselves are taken as durable)
//
// Both workers append to one journal through O_APPEND, one write(2) per record, so records
// interleave whole and in the order the changes happened. A record cut by the kill is ignored.
//
//   const spec = journalStorageSpec({ journal: '/tmp/x/journal' });   // MessageStoreInternals
//   ... run, SIGKILL ...
//   applyPowerLoss({ journal, snapshotDir, storeDir, mode: 'drop', seed });
//
// Record: u32 BE length of what follows, u8 op, then fields; a path is u16 BE length + UTF-8.

import fs from 'node:fs';
import path from 'node:path';
import { parseSegmentName } from '../../src/format/segment_name.js';
import type { Storage, StorageFile, StorageSpec } from '../../src/io/storage.js';
import { FaultyStorage, type FaultyStorageOptions } from './faulty_storage.js';
import { ForwardingStorage } from './forwarding_storage.js';
import { Prng } from './prng.js';

const OP_CREATE = 1;
const OP_WRITE = 2;
const OP_TRUNCATE = 3;
const OP_UNLINK = 4;
const OP_RENAME = 5;
const OP_REMOVE_TREE = 6;
const OP_SYNC_BEGIN = 7;
const OP_SYNC_END = 8;
const OP_DIR_SYNC = 9;

export interface JournalStorageOptions {
  /** The journal file (created if missing, appended to). */
  journal: string;
  /** Faults of the wrapped FaultyStorage (failing nth call, slow fsync). */
  faults?: FaultyStorageOptions;
}

export function journalStorageSpec(options: JournalStorageOptions): { storage: StorageSpec } {
  return { storage: { module: import.meta.url, options } };
}

/** The entry point the workers call. */
export function createStorage(options: JournalStorageOptions): Storage {
  return new JournalStorage(new FaultyStorage(options.faults ?? {}), options.journal);
}

class RecordWriter {
  private readonly parts: Buffer[] = [];

  u8(value: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(value);
    this.parts.push(b);
    return this;
  }

  u32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.parts.push(b);
    return this;
  }

  f64(value: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value);
    this.parts.push(b);
    return this;
  }

  text(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    this.parts.push(length, bytes);
    return this;
  }

  bytes(buffers: readonly Uint8Array[]): this {
    let total = 0;
    for (const b of buffers) total += b.byteLength;
    this.u32(total);
    for (const b of buffers) this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    return this;
  }

  /** The whole record: length prefix, then the fields. */
  done(): Buffer {
    const body = Buffer.concat(this.parts);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    return Buffer.concat([length, body]);
  }
}

/**
 * A Storage that journals every change it makes; the wrapped Storage does the I/O. Reads and the
 * zero-fill preallocation (zeros over a region that holds zeros already) are forwarded as they are.
 */
export class JournalStorage extends ForwardingStorage {
  private readonly fd: number;
  private syncTokens = 0;
  private readonly tokenPrefix: number;

  constructor(inner: Storage, journal: string) {
    super(inner);
    this.fd = fs.openSync(journal, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
    // Tokens pair a sync's begin with its end; both workers share the journal.
    this.tokenPrefix = (process.pid % 65536) * 65536 + Math.floor(Math.random() * 65536);
  }

  private append(record: RecordWriter): void {
    fs.writeSync(this.fd, record.done());
  }

  open(file: string, create: boolean): StorageFile {
    const existed = this.inner.exists(file);
    const handle = this.inner.open(file, create);
    if (!existed) this.append(new RecordWriter().u8(OP_CREATE).text(file));
    return handle;
  }

  truncate(file: StorageFile, lengthBytes: number): void {
    this.inner.truncate(file, lengthBytes);
    this.append(new RecordWriter().u8(OP_TRUNCATE).text(file.path).f64(lengthBytes));
  }

  pwritev(file: StorageFile, buffers: readonly Uint8Array[], position: number): void {
    this.inner.pwritev(file, buffers, position);
    this.append(new RecordWriter().u8(OP_WRITE).text(file.path).f64(position).bytes(buffers));
  }

  private syncBegin(file: string): number {
    const token = this.tokenPrefix * 1024 + (this.syncTokens++ % 1024);
    this.append(new RecordWriter().u8(OP_SYNC_BEGIN).text(file).f64(token));
    return token;
  }

  private syncEnd(file: string, token: number): void {
    this.append(new RecordWriter().u8(OP_SYNC_END).text(file).f64(token));
  }

  fdatasync(file: StorageFile): void {
    const token = this.syncBegin(file.path);
    this.inner.fdatasync(file);
    this.syncEnd(file.path, token);
  }

  async fdatasyncAsync(file: StorageFile): Promise<void> {
    // The begin is journaled when the sync is asked for: later writes count as not covered, as
    // the engine counts them (it takes its flushed position when it asks).
    const started = this.inner.fdatasyncAsync(file);
    const token = this.syncBegin(file.path);
    await started;
    this.syncEnd(file.path, token);
  }

  unlink(file: string): void {
    this.inner.unlink(file);
    this.append(new RecordWriter().u8(OP_UNLINK).text(file));
  }

  removeTree(dir: string): void {
    this.inner.removeTree(dir);
    this.append(new RecordWriter().u8(OP_REMOVE_TREE).text(dir));
  }

  rename(from: string, to: string): void {
    this.inner.rename(from, to);
    this.append(new RecordWriter().u8(OP_RENAME).text(from).text(to));
  }

  fsyncDir(dir: string): void {
    this.inner.fsyncDir(dir);
    this.append(new RecordWriter().u8(OP_DIR_SYNC).text(dir));
  }

}

// ------------------------------------------------------------------------------------------
// Replay

export type PowerLossMode = 'drop' | 'prefix' | 'torn' | 'subset';

/** Writeback granularity of the `subset` mode: pages reach the disk independently. */
const PAGE_BYTES = 4096;

type Change = { seq: number; kind: 'write'; position: number; data: Buffer } | { seq: number; kind: 'truncate'; lengthBytes: number };

/** A file's contents: what the page cache holds, what the disk holds, and the changes between. */
class Inode {
  volatile: Buffer;
  durable: Buffer;
  /** End of the highest write a completed sync covered (bytes of this file). */
  syncedWriteEnd = 0;
  /** Changes not yet covered by a completed sync, in order. */
  pending: Change[] = [];

  constructor(content: Buffer) {
    this.volatile = content;
    this.durable = Buffer.from(content);
  }
}

function applyChange(content: Buffer, change: Change, keepBytes = Number.POSITIVE_INFINITY): Buffer {
  if (change.kind === 'truncate') {
    if (change.lengthBytes <= content.length) return content.subarray(0, change.lengthBytes);
    return Buffer.concat([content, Buffer.alloc(change.lengthBytes - content.length)]);
  }
  const data = change.data.subarray(0, Math.min(change.data.length, keepBytes));
  const end = change.position + data.length;
  const out = end > content.length ? Buffer.concat([content, Buffer.alloc(end - content.length)]) : Buffer.from(content);
  data.copy(out, change.position);
  return out;
}

interface JournalRecord {
  seq: number;
  op: number;
  paths: string[];
  number: number;
  data: Buffer | null;
}

function* readJournal(journal: Buffer): Generator<JournalRecord> {
  let at = 0;
  let seq = 0;
  while (at + 4 <= journal.length) {
    const length = journal.readUInt32BE(at);
    if (at + 4 + length > journal.length) return; // The record the kill cut short.
    const record = journal.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    let p = 0;
    const op = record.readUInt8(p);
    p += 1;
    const text = (): string => {
      const n = record.readUInt16BE(p);
      const value = record.subarray(p + 2, p + 2 + n).toString('utf8');
      p += 2 + n;
      return value;
    };
    const paths = [text()];
    let number = 0;
    let data: Buffer | null = null;
    if (op === OP_RENAME) paths.push(text());
    if (op === OP_WRITE || op === OP_TRUNCATE || op === OP_SYNC_BEGIN || op === OP_SYNC_END) {
      number = record.readDoubleBE(p);
      p += 8;
    }
    if (op === OP_WRITE) {
      const n = record.readUInt32BE(p);
      data = record.subarray(p + 4, p + 4 + n);
    }
    yield { seq: seq++, op, paths, number, data };
  }
}

function walkFiles(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walkFiles(full, out);
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

function walkDirs(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const full = path.join(dir, entry.name);
    out.push(full);
    walkDirs(full, out);
  }
  return out;
}

function isUnder(file: string, dir: string): boolean {
  return file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

export interface PowerLossOptions {
  journal: string;
  /** A copy of the store directory taken before the journaled process started. */
  snapshotDir: string;
  /** The store directory the process used: rewritten to what a power cut leaves. */
  storeDir: string;
  mode: PowerLossMode;
  seed: number;
}

export interface PowerLossReport {
  records: number;
  files: number;
  /** Bytes written by the process that the power cut dropped (mode drop: all unsynced). */
  droppedWriteBytes: number;
  /** Files created and synced whose directory entry was not, so the cut lost them. */
  lostEntries: number;
  /**
   * The CommitLog's durable end: over the surviving segments, start + the end of the highest
   * write a completed fdatasync covered. Recovery must never end the log before it.
   */
  durableCommitLogEnd: number;
}

/**
 * Rewrites `storeDir` to what survives a power cut at the moment the journaled process died.
 * Paths in the journal are absolute under `storeDir`; the snapshot is the same tree before.
 */
export function applyPowerLoss(options: PowerLossOptions): PowerLossReport {
  const storeDir = path.resolve(options.storeDir);
  const relative = (file: string): string => path.relative(storeDir, file);
  const volatile = new Map<string, Inode>();
  const durable = new Map<string, Inode>();
  for (const file of walkFiles(options.snapshotDir)) {
    const inode = new Inode(fs.readFileSync(file));
    const name = path.relative(options.snapshotDir, file);
    volatile.set(name, inode);
    durable.set(name, inode);
  }
  const syncs = new Map<number, { inode: Inode; boundary: number }>();
  let records = 0;
  const journal = fs.existsSync(options.journal) ? fs.readFileSync(options.journal) : Buffer.alloc(0);
  for (const record of readJournal(journal)) {
    records++;
    const name = relative(record.paths[0]!);
    switch (record.op) {
      case OP_CREATE:
        volatile.set(name, new Inode(Buffer.alloc(0)));
        break;
      case OP_WRITE:
      case OP_TRUNCATE: {
        const inode = volatile.get(name);
        if (inode === undefined) throw new Error(`journal: ${record.op === OP_WRITE ? 'write to' : 'truncate of'} ${name}, which does not exist`);
        const change: Change =
          record.op === OP_WRITE
            ? { seq: record.seq, kind: 'write', position: record.number, data: record.data! }
            : { seq: record.seq, kind: 'truncate', lengthBytes: record.number };
        inode.volatile = applyChange(inode.volatile, change);
        inode.pending.push(change);
        break;
      }
      case OP_SYNC_BEGIN: {
        const inode = volatile.get(name);
        if (inode !== undefined) syncs.set(record.number, { inode, boundary: record.seq });
        break;
      }
      case OP_SYNC_END: {
        const sync = syncs.get(record.number);
        if (sync === undefined) break;
        syncs.delete(record.number);
        const { inode, boundary } = sync;
        while (inode.pending.length > 0 && inode.pending[0]!.seq < boundary) {
          const change = inode.pending.shift()!;
          inode.durable = applyChange(inode.durable, change);
          if (change.kind === 'write') inode.syncedWriteEnd = Math.max(inode.syncedWriteEnd, change.position + change.data.length);
        }
        break;
      }
      case OP_UNLINK:
        volatile.delete(name);
        break;
      case OP_RENAME: {
        const inode = volatile.get(name);
        if (inode !== undefined) {
          volatile.delete(name);
          volatile.set(relative(record.paths[1]!), inode);
        }
        break;
      }
      case OP_REMOVE_TREE:
        for (const file of [...volatile.keys()]) if (file === name || isUnder(file, name)) volatile.delete(file);
        break;
      case OP_DIR_SYNC: {
        // The directory's entries become what the page cache says; so do removed subtrees.
        const dir = name;
        const inDir = (file: string): boolean => path.dirname(file) === dir || (dir === '' && path.dirname(file) === '.');
        for (const file of [...durable.keys()]) {
          if (inDir(file) && volatile.get(file) !== durable.get(file)) durable.delete(file);
          else if (isUnder(file, dir === '' ? '.' : dir) && !inDir(file) && !volatile.has(file)) {
            const child = file.slice(dir === '' ? 0 : dir.length + 1).split(path.sep)[0]!;
            const childDir = dir === '' ? child : path.join(dir, child);
            if (![...volatile.keys()].some((v) => isUnder(v, childDir))) durable.delete(file);
          }
        }
        for (const [file, inode] of volatile) if (inDir(file)) durable.set(file, inode);
        break;
      }
      default:
        throw new Error(`journal: unknown op ${record.op}`);
    }
  }

  // What the disk holds for each surviving entry.
  const prng = new Prng(options.seed);
  let droppedWriteBytes = 0;
  const contents = new Map<string, Buffer>();
  for (const [file, inode] of durable) {
    let content = inode.durable;
    const pending = inode.pending;
    if (options.mode === 'subset') {
      // Writeback in any order: each 4 KiB page of each unsynced write reaches the disk or not,
      // independently (holes included). The file size is metadata, journaled in order: it is
      // the size after a random prefix of the size changes, and the pages are cut to it.
      const sizes = [content.length];
      for (const change of pending) {
        const size = sizes[sizes.length - 1]!;
        sizes.push(change.kind === 'truncate' ? change.lengthBytes : Math.max(size, change.position + change.data.length));
      }
      const finalSize = sizes[prng.inRange(0, sizes.length - 1)]!;
      for (const change of pending) {
        if (change.kind === 'truncate') continue;
        for (let from = 0; from < change.data.length; ) {
          const pageEnd = Math.min(change.data.length, PAGE_BYTES - ((change.position + from) % PAGE_BYTES) + from);
          const piece: Change = { seq: change.seq, kind: 'write', position: change.position + from, data: change.data.subarray(from, pageEnd) };
          if (prng.below(2) === 1) content = applyChange(content, piece);
          else droppedWriteBytes += piece.data.length;
          from = pageEnd;
        }
      }
      content = applyChange(content, { seq: -1, kind: 'truncate', lengthBytes: finalSize });
      contents.set(file, content);
      continue;
    }
    let kept = 0;
    if (options.mode === 'prefix') kept = prng.inRange(0, pending.length);
    if (options.mode === 'torn') kept = pending.length;
    for (let i = 0; i < kept; i++) {
      const change = pending[i]!;
      const last = i === kept - 1;
      const keepBytes = options.mode === 'torn' && last && change.kind === 'write' ? prng.inRange(0, change.data.length) : Number.POSITIVE_INFINITY;
      content = applyChange(content, change, keepBytes);
      if (change.kind === 'write' && keepBytes < change.data.length) droppedWriteBytes += change.data.length - keepBytes;
    }
    for (let i = kept; i < pending.length; i++) {
      const change = pending[i]!;
      if (change.kind === 'write') droppedWriteBytes += change.data.length;
    }
    contents.set(file, content);
  }
  let lostEntries = 0;
  for (const [file] of volatile) if (!durable.has(file)) lostEntries++;
  let durableCommitLogEnd = 0;
  for (const [file, inode] of durable) {
    const start = path.dirname(file) === 'commitlog' ? parseSegmentName(path.basename(file)) : null;
    if (start !== null && inode.syncedWriteEnd > 0) durableCommitLogEnd = Math.max(durableCommitLogEnd, start + inode.syncedWriteEnd);
  }

  // Rewrite the store directory: the same directories, the surviving files.
  const dirs = walkDirs(storeDir).map((d) => path.relative(storeDir, d));
  fs.rmSync(storeDir, { recursive: true, force: true });
  fs.mkdirSync(storeDir, { recursive: true });
  for (const dir of dirs) fs.mkdirSync(path.join(storeDir, dir), { recursive: true });
  for (const [file, content] of contents) {
    const full = path.join(storeDir, file);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
  }
  return { records, files: contents.size, droppedWriteBytes, lostEntries, durableCommitLogEnd };
}
