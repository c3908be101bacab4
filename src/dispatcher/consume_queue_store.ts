// ConsumeQueueStore: every topic-queue's ConsumeQueue files under one directory,
//
//   <rootDir>/<topic>/<queueId>/<20-digit start byte offset>     (RocketMQ consumequeue/ layout)
//
// with RocketMQ's write rules (putMessagePositionInfo), recovery (ConsumeQueue.recover) and
// truncation to the CommitLog's end (truncateDirtyLogicFiles). Files are created at full size
// but sparse (ftruncate, never zero-filled), so thousands of queues cost little disk. Open
// file handles are bounded by an LRU; a handle with unsynced writes is fdatasynced before
// the LRU closes it. All I/O goes through Storage (sync calls). Unit codec:
// ../format/consume_queue_entry.ts.

import path from 'node:path';
import { assert } from '../assert.js';
import { StoreError, ioError } from '../errors.js';
import {
  CQ_ENTRY_BYTES,
  CQ_FILLER_PHYSICAL_OFFSET,
  CQ_FILLER_SIZE_BYTES,
  CQ_FILLER_TAGS_CODE,
  consumeQueueEntryInvalidReason,
  consumeQueueEntryKind,
  consumeQueueFileStart,
  readConsumeQueueEntry,
  writeConsumeQueueEntry,
  type ConsumeQueueEntry,
} from '../format/consume_queue_entry.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import type { Storage, StorageFile } from '../io/storage.js';

export interface ConsumeQueueStoreOptions {
  /** The consumequeue directory. */
  rootDir: string;
  /** Bytes per file, already a multiple of 20 (consumeQueueFileSizeBytes). */
  fileSizeBytes: number;
  /** Open file handles kept at most (LRU); e.g. 256. */
  openFilesMax: number;
}

export type ConsumeQueuePutResult = 'written' | 'duplicate';

export interface ConsumeQueueLoadSummary {
  /** Queues with at least one file after recovery. */
  queueCount: number;
  fileCount: number;
  /** Sum over queues of (maxQueueOffset − minQueueOffset). */
  entryCount: number;
  /** Queues whose tail was cut (invalid units zeroed, or files beyond the end deleted). */
  repairedQueueCount: number;
}

/** Read granularity for scans (recovery, truncation): a multiple of 20. */
const SCAN_CHUNK_BYTES = 128000; // 6400 units
assert(SCAN_CHUNK_BYTES % CQ_ENTRY_BYTES === 0, 'scan chunk must hold whole units');

interface QueueState {
  readonly topic: string;
  readonly queueId: number;
  readonly dir: string;
  /** Start byte offsets of the queue's files, ascending and contiguous. */
  fileStarts: number[];
  /** Byte position of the first unit a consumer may read (RocketMQ minLogicOffset). */
  minBytes: number;
  /** Byte position after the last written unit (RocketMQ max byte offset). */
  endBytes: number;
  /** physicalOffset + sizeBytes of the last real unit, −1 when none (RocketMQ maxPhysicOffset). */
  maxPhysicalOffset: number;
}

interface OpenFile {
  readonly file: StorageFile;
  /** Written (or resized) since its last fdatasync. */
  dirty: boolean;
}

function queueKey(topic: string, queueId: number): string {
  return `${queueId}\u0000${topic}`;
}

function fillerBuffer(lengthBytes: number): Buffer {
  assert(lengthBytes % CQ_ENTRY_BYTES === 0, 'filler must be whole units');
  const buffer = Buffer.alloc(lengthBytes);
  const filler = { physicalOffset: CQ_FILLER_PHYSICAL_OFFSET, sizeBytes: CQ_FILLER_SIZE_BYTES, tagsCode: CQ_FILLER_TAGS_CODE };
  for (let at = 0; at < lengthBytes; at += CQ_ENTRY_BYTES) writeConsumeQueueEntry(buffer, at, filler);
  return buffer;
}

export class ConsumeQueueStore {
  private readonly storage: Storage;
  private readonly rootDir: string;
  private readonly fileSizeBytes: number;
  private readonly openFilesMax: number;
  private readonly queueTable = new Map<string, QueueState>();
  /** Open handles by path, least recently used first (Map insertion order). */
  private readonly openFiles = new Map<string, OpenFile>();
  /** Directories whose entries changed since the last flush. */
  private readonly dirsToSync = new Set<string>();
  private closed = false;

  constructor(storage: Storage, options: ConsumeQueueStoreOptions) {
    assert(Number.isSafeInteger(options.fileSizeBytes), 'fileSizeBytes must be an integer');
    assert(options.fileSizeBytes > 0, 'fileSizeBytes must be > 0');
    assert(options.fileSizeBytes % CQ_ENTRY_BYTES === 0, 'fileSizeBytes must be a multiple of 20');
    assert(Number.isSafeInteger(options.openFilesMax), 'openFilesMax must be an integer');
    assert(options.openFilesMax >= 1, 'openFilesMax must be ≥ 1');
    this.storage = storage;
    this.rootDir = options.rootDir;
    this.fileSizeBytes = options.fileSizeBytes;
    this.openFilesMax = options.openFilesMax;
  }

  // ---------------------------------------------------------------- writing

  /**
   * RocketMQ putMessagePositionInfo: appends the unit for queueOffset, or reports a duplicate
   * (already dispatched before a restart). Appending past the end is a StoreError.
   */
  put(topic: string, queueId: number, queueOffset: number, entry: ConsumeQueueEntry): ConsumeQueuePutResult {
    this.assertOpen();
    assertQueueId(queueId);
    assert(Number.isSafeInteger(queueOffset), 'queueOffset must be an integer');
    assert(queueOffset >= 0, 'queueOffset must be ≥ 0');
    const reason = consumeQueueEntryInvalidReason(entry);
    assert(reason === null, `refusing to put an invalid ConsumeQueue unit: ${reason}`);
    const queue = this.queueOf(topic, queueId, true);
    if (entry.physicalOffset + entry.sizeBytes <= queue.maxPhysicalOffset) return 'duplicate';

    const expectedBytes = queueOffset * CQ_ENTRY_BYTES;
    if (queue.fileStarts.length === 0) this.createFirstFile(queue, expectedBytes);
    if (expectedBytes < queue.endBytes) return 'duplicate';
    if (expectedBytes > queue.endBytes) {
      throw new StoreError(
        'E_STORE_CORRUPT',
        `consume queue ${topic}/${queueId}: put of queue offset ${queueOffset} (physical offset ` +
          `${entry.physicalOffset}) leaves a gap after the end at queue offset ${queue.endBytes / CQ_ENTRY_BYTES}`,
      );
    }
    const fileStart = consumeQueueFileStart(queueOffset, this.fileSizeBytes);
    if (fileStart > lastOf(queue.fileStarts)) {
      assert(fileStart === lastOf(queue.fileStarts) + this.fileSizeBytes, 'files roll one at a time');
      this.createFile(queue, fileStart);
    }
    const unit = Buffer.alloc(CQ_ENTRY_BYTES);
    writeConsumeQueueEntry(unit, 0, entry);
    this.write(queue, fileStart, unit, expectedBytes - fileStart);
    queue.endBytes = expectedBytes + CQ_ENTRY_BYTES;
    queue.maxPhysicalOffset = entry.physicalOffset + entry.sizeBytes;
    return 'written';
  }

  /** A queue's first file for a non-zero position is pre-filled with filler units (RocketMQ fillPreBlank). */
  private createFirstFile(queue: QueueState, expectedBytes: number): void {
    assert(queue.endBytes === 0);
    const fileStart = expectedBytes - (expectedBytes % this.fileSizeBytes);
    this.createFile(queue, fileStart);
    const fillBytes = expectedBytes - fileStart;
    if (fillBytes > 0) this.write(queue, fileStart, fillerBuffer(fillBytes), 0);
    queue.minBytes = expectedBytes;
    queue.endBytes = expectedBytes;
  }

  private createFile(queue: QueueState, fileStart: number): void {
    if (queue.fileStarts.length === 0) {
      this.storage.mkdirp(queue.dir);
      this.dirsToSync.add(path.dirname(queue.dir)).add(this.rootDir);
    }
    const handle = this.handleOf(queue, fileStart, true);
    try {
      // Sparse: the length is set, no block is written (issue 3: 8000 queues must stay small).
      this.storage.truncate(handle.file, this.fileSizeBytes);
    } catch (error) {
      throw ioError(`cannot create consume queue file ${handle.file.path}`, error, 'create-segment');
    }
    handle.dirty = true;
    queue.fileStarts.push(fileStart);
    this.dirsToSync.add(queue.dir);
  }

  private write(queue: QueueState, fileStart: number, data: Buffer, position: number): void {
    assert(position + data.length <= this.fileSizeBytes, 'write must stay inside its file');
    const handle = this.handleOf(queue, fileStart, false);
    try {
      this.storage.pwritev(handle.file, [data], position);
    } catch (error) {
      throw ioError(`cannot write consume queue file ${handle.file.path}`, error, 'write');
    }
    handle.dirty = true;
  }

  // ---------------------------------------------------------------- reading

  /** The unit at queueOffset, or null outside [min, max) of the queue. */
  get(topic: string, queueId: number, queueOffset: number): ConsumeQueueEntry | null {
    return this.read(topic, queueId, queueOffset, 1)[0] ?? null;
  }

  /** Up to maxEntries units from fromQueueOffset, stopping at the end of written data. */
  read(topic: string, queueId: number, fromQueueOffset: number, maxEntries: number): ConsumeQueueEntry[] {
    this.assertOpen();
    assert(Number.isSafeInteger(fromQueueOffset), 'fromQueueOffset must be an integer');
    assert(Number.isSafeInteger(maxEntries) && maxEntries >= 0, 'maxEntries must be an integer ≥ 0');
    const queue = this.queueOf(topic, queueId, false);
    const entries: ConsumeQueueEntry[] = [];
    if (queue === undefined || fromQueueOffset < 0) return entries;
    let atBytes = fromQueueOffset * CQ_ENTRY_BYTES;
    if (atBytes < queue.minBytes) return entries;
    const stopBytes = Math.min(queue.endBytes, atBytes + maxEntries * CQ_ENTRY_BYTES);
    while (atBytes < stopBytes) {
      const fileStart = atBytes - (atBytes % this.fileSizeBytes);
      const lengthBytes = Math.min(stopBytes, fileStart + this.fileSizeBytes) - atBytes;
      const buffer = this.readBytes(queue, fileStart, atBytes - fileStart, lengthBytes);
      for (let at = 0; at < lengthBytes; at += CQ_ENTRY_BYTES) {
        const entry = readConsumeQueueEntry(buffer, at);
        // Below the end every unit was written by put(); anything else is damage, not data.
        if (consumeQueueEntryKind(entry) !== 'unit') return entries;
        entries.push(entry);
      }
      atBytes += lengthBytes;
    }
    return entries;
  }

  private readBytes(queue: QueueState, fileStart: number, position: number, lengthBytes: number): Buffer {
    const handle = this.handleOf(queue, fileStart, false);
    const buffer = Buffer.alloc(lengthBytes);
    const readBytes = this.storage.pread(handle.file, buffer, 0, lengthBytes, position);
    if (readBytes !== lengthBytes) {
      throw new StoreError(
        'E_STORE_CORRUPT',
        `consume queue file ${handle.file.path} is shorter than ${position + lengthBytes} bytes`,
      );
    }
    return buffer;
  }

  /** Next queue offset to write; 0 for an unknown queue. */
  maxQueueOffset(topic: string, queueId: number): number {
    return (this.queueOf(topic, queueId, false)?.endBytes ?? 0) / CQ_ENTRY_BYTES;
  }

  /** First readable queue offset (RocketMQ minLogicOffset / 20); 0 for an unknown queue. */
  minQueueOffset(topic: string, queueId: number): number {
    return (this.queueOf(topic, queueId, false)?.minBytes ?? 0) / CQ_ENTRY_BYTES;
  }

  /** physicalOffset + sizeBytes of the queue's last unit; −1 when it has none (RocketMQ). */
  maxPhysicalOffsetOf(topic: string, queueId: number): number {
    return this.queueOf(topic, queueId, false)?.maxPhysicalOffset ?? -1;
  }

  /** Every queue that has files, as [topic, queueId]. */
  queues(): Array<[string, number]> {
    const result: Array<[string, number]> = [];
    for (const queue of this.queueTable.values()) {
      if (queue.fileStarts.length > 0) result.push([queue.topic, queue.queueId]);
    }
    return result;
  }

  // ---------------------------------------------------------------- loading and recovery

  /** Finds every queue under rootDir and recovers it (RocketMQ ConsumeQueue.load + recover). */
  load(): ConsumeQueueLoadSummary {
    this.assertOpen();
    assert(this.queueTable.size === 0, 'load() runs once, before any put');
    const summary: ConsumeQueueLoadSummary = { queueCount: 0, fileCount: 0, entryCount: 0, repairedQueueCount: 0 };
    for (const topic of this.storage.list(this.rootDir).sort()) {
      const topicDir = path.join(this.rootDir, topic);
      for (const queueName of this.storage.list(topicDir)) {
        if (!/^\d{1,9}$/.test(queueName)) continue;
        const queue = this.loadQueue(topic, Number(queueName));
        if (queue === null) continue;
        if (this.recover(queue)) summary.repairedQueueCount += 1;
        if (queue.fileStarts.length === 0) {
          this.queueTable.delete(queueKey(topic, queue.queueId));
          continue;
        }
        summary.queueCount += 1;
        summary.fileCount += queue.fileStarts.length;
        summary.entryCount += (queue.endBytes - queue.minBytes) / CQ_ENTRY_BYTES;
      }
    }
    return summary;
  }

  private loadQueue(topic: string, queueId: number): QueueState | null {
    const queue = this.queueOf(topic, queueId, true);
    const starts: number[] = [];
    for (const name of this.storage.list(queue.dir)) {
      const start = parseSegmentName(name);
      if (start !== null) starts.push(start);
    }
    if (starts.length === 0) {
      this.queueTable.delete(queueKey(topic, queueId));
      return null;
    }
    starts.sort((a, b) => a - b);
    for (const [index, start] of starts.entries()) {
      const file = path.join(queue.dir, segmentName(start));
      const where = `consume queue file ${file}`;
      if (start % this.fileSizeBytes !== 0) throw new StoreError('E_STORE_CORRUPT', `${where}: name is not a multiple of the file size ${this.fileSizeBytes}`);
      if (index > 0 && start !== starts[index - 1]! + this.fileSizeBytes) throw new StoreError('E_STORE_CORRUPT', `${where}: gap after the previous file`);
      const sizeBytes = this.storage.sizeBytes(file);
      if (sizeBytes !== this.fileSizeBytes) throw new StoreError('E_STORE_CORRUPT', `${where}: size ${sizeBytes}, expected ${this.fileSizeBytes}`);
    }
    queue.fileStarts = starts;
    return queue;
  }

  /**
   * RocketMQ ConsumeQueue.recover: from the third-last file on, the end is the first unit with
   * offset < 0 or size ≤ 0 (a zero unit included). Files after it are deleted and the rest of
   * its file is re-zeroed. Returns whether anything had to be cut.
   */
  private recover(queue: QueueState): boolean {
    const first = queue.fileStarts[0]!;
    queue.minBytes = first + this.leadingFillerBytes(queue, first);
    let endBytes = first;
    let maxPhysicalOffset = -1;
    let stoppedOnDamage = false;
    const startIndex = Math.max(0, queue.fileStarts.length - 3);
    for (const fileStart of queue.fileStarts.slice(startIndex)) {
      const scan = this.scanFile(queue, fileStart, (entry) => entry.physicalOffset >= 0 && entry.sizeBytes > 0);
      endBytes = fileStart + scan.validBytes;
      if (scan.maxPhysicalOffset >= 0) maxPhysicalOffset = scan.maxPhysicalOffset;
      if (scan.validBytes < this.fileSizeBytes) {
        stoppedOnDamage = scan.stoppedOnNonZero;
        break;
      }
    }
    queue.endBytes = endBytes;
    queue.minBytes = Math.min(queue.minBytes, endBytes);
    queue.maxPhysicalOffset = maxPhysicalOffset >= 0 ? maxPhysicalOffset : this.lastRealUnitEnd(queue);
    const deleted = this.cutAt(queue, endBytes, stoppedOnDamage);
    return deleted || stoppedOnDamage;
  }

  /** Filler units at the head of the queue's first file (below RocketMQ's minLogicOffset). */
  private leadingFillerBytes(queue: QueueState, fileStart: number): number {
    const scan = this.scanFile(queue, fileStart, (entry) => consumeQueueEntryKind(entry) === 'filler');
    return scan.validBytes;
  }

  /** Scans a file from its start while `accept` holds; fillers never count for maxPhysicalOffset. */
  private scanFile(
    queue: QueueState,
    fileStart: number,
    accept: (entry: ConsumeQueueEntry) => boolean,
  ): { validBytes: number; maxPhysicalOffset: number; stoppedOnNonZero: boolean } {
    let maxPhysicalOffset = -1;
    for (let chunkAt = 0; chunkAt < this.fileSizeBytes; chunkAt += SCAN_CHUNK_BYTES) {
      const lengthBytes = Math.min(SCAN_CHUNK_BYTES, this.fileSizeBytes - chunkAt);
      const buffer = this.readBytes(queue, fileStart, chunkAt, lengthBytes);
      for (let at = 0; at < lengthBytes; at += CQ_ENTRY_BYTES) {
        const entry = readConsumeQueueEntry(buffer, at);
        if (!accept(entry)) {
          return { validBytes: chunkAt + at, maxPhysicalOffset, stoppedOnNonZero: consumeQueueEntryKind(entry) !== 'end' };
        }
        if (consumeQueueEntryKind(entry) === 'unit') maxPhysicalOffset = entry.physicalOffset + entry.sizeBytes;
      }
    }
    return { validBytes: this.fileSizeBytes, maxPhysicalOffset, stoppedOnNonZero: false };
  }

  /** physicalOffset + sizeBytes of the last real unit below the end, −1 if none. */
  private lastRealUnitEnd(queue: QueueState): number {
    for (let atBytes = queue.endBytes - CQ_ENTRY_BYTES; atBytes >= queue.minBytes; atBytes -= CQ_ENTRY_BYTES) {
      const fileStart = atBytes - (atBytes % this.fileSizeBytes);
      const entry = readConsumeQueueEntry(this.readBytes(queue, fileStart, atBytes - fileStart, CQ_ENTRY_BYTES), 0);
      if (consumeQueueEntryKind(entry) === 'unit') return entry.physicalOffset + entry.sizeBytes;
      if (consumeQueueEntryKind(entry) !== 'filler') break;
    }
    return -1;
  }

  /**
   * Makes endBytes the queue's end on disk: deletes files that start at or after it (keeping
   * the first file if the end is its start) and, when `zeroTail`, resets the rest of the end's
   * file to sparse zeros (shrink then regrow), so garbage never reads as data after a later put.
   */
  private cutAt(queue: QueueState, endBytes: number, zeroTail: boolean): boolean {
    let deleted = false;
    while (queue.fileStarts.length > 1 && lastOf(queue.fileStarts) >= endBytes) {
      this.deleteFile(queue, lastOf(queue.fileStarts));
      deleted = true;
    }
    if (zeroTail) {
      const fileStart = lastOf(queue.fileStarts);
      const handle = this.handleOf(queue, fileStart, false);
      try {
        this.storage.truncate(handle.file, endBytes - fileStart);
        this.storage.truncate(handle.file, this.fileSizeBytes);
      } catch (error) {
        throw ioError(`cannot cut consume queue file ${handle.file.path}`, error, 'write');
      }
      handle.dirty = true;
    }
    return deleted;
  }

  private deleteFile(queue: QueueState, fileStart: number): void {
    const file = path.join(queue.dir, segmentName(fileStart));
    const handle = this.openFiles.get(file);
    if (handle !== undefined) {
      this.openFiles.delete(file);
      this.storage.close(handle.file);
    }
    this.storage.unlink(file);
    this.dirsToSync.add(queue.dir);
    assert(lastOf(queue.fileStarts) === fileStart, 'only the last file is deleted');
    queue.fileStarts.pop();
  }

  // ---------------------------------------------------------------- truncation

  /**
   * RocketMQ truncateDirtyLogicFiles: drops every unit whose physicalOffset ≥ physicalOffset in
   * every queue, so no queue points past the CommitLog's recovered end. Returns the number of
   * units dropped.
   */
  truncateAfter(physicalOffset: number): number {
    this.assertOpen();
    assert(Number.isSafeInteger(physicalOffset) && physicalOffset >= 0, 'physicalOffset must be a safe integer ≥ 0');
    let droppedCount = 0;
    for (const [key, queue] of this.queueTable) {
      // Physical offsets increase along a queue: if the last unit ends at or before the cut,
      // its offset is below it and nothing in this queue is dropped.
      if (queue.maxPhysicalOffset <= physicalOffset) continue;
      const endBytes = this.firstUnitAtOrAfter(queue, physicalOffset);
      droppedCount += (queue.endBytes - endBytes) / CQ_ENTRY_BYTES;
      if (endBytes === queue.endBytes) continue;
      const isFileStart = endBytes % this.fileSizeBytes === 0;
      if (isFileStart && endBytes <= queue.fileStarts[0]!) {
        // Nothing left: delete every file; a later put starts the queue afresh.
        while (queue.fileStarts.length > 0) this.deleteFile(queue, lastOf(queue.fileStarts));
        this.queueTable.delete(key);
        continue;
      }
      queue.endBytes = endBytes;
      queue.minBytes = Math.min(queue.minBytes, endBytes);
      this.cutAt(queue, endBytes, !isFileStart);
      queue.maxPhysicalOffset = this.lastRealUnitEnd(queue);
    }
    return droppedCount;
  }

  /** Byte position of the queue's first unit with physicalOffset ≥ the cut (binary search). */
  private firstUnitAtOrAfter(queue: QueueState, physicalOffset: number): number {
    let low = queue.minBytes / CQ_ENTRY_BYTES;
    let high = queue.endBytes / CQ_ENTRY_BYTES;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const atBytes = middle * CQ_ENTRY_BYTES;
      const fileStart = atBytes - (atBytes % this.fileSizeBytes);
      const entry = readConsumeQueueEntry(this.readBytes(queue, fileStart, atBytes - fileStart, CQ_ENTRY_BYTES), 0);
      if (entry.physicalOffset < physicalOffset) low = middle + 1;
      else high = middle;
    }
    // A queue whose readable units were all cut keeps its filler head: cut right after it.
    return low * CQ_ENTRY_BYTES;
  }

  // ---------------------------------------------------------------- durability and handles

  /** fdatasyncs every file written since the last flush, then the directories that changed. */
  flush(): void {
    this.assertOpen();
    for (const handle of this.openFiles.values()) this.syncHandle(handle);
    for (const dir of this.dirsToSync) {
      try {
        this.storage.fsyncDir(dir);
      } catch (error) {
        throw ioError(`cannot fsync directory ${dir}`, error, 'fsync');
      }
    }
    this.dirsToSync.clear();
  }

  /** Flushes and closes every handle. */
  close(): void {
    if (this.closed) return;
    this.flush();
    for (const handle of this.openFiles.values()) this.storage.close(handle.file);
    this.openFiles.clear();
    this.closed = true;
  }

  /** Number of handles open now (≤ openFilesMax). */
  openFileCount(): number {
    return this.openFiles.size;
  }

  private syncHandle(handle: OpenFile): void {
    if (!handle.dirty) return;
    try {
      this.storage.fdatasync(handle.file);
    } catch (error) {
      throw ioError(`cannot fdatasync consume queue file ${handle.file.path}`, error, 'fsync');
    }
    handle.dirty = false;
  }

  private handleOf(queue: QueueState, fileStart: number, create: boolean): OpenFile {
    const file = path.join(queue.dir, segmentName(fileStart));
    const cached = this.openFiles.get(file);
    if (cached !== undefined) {
      this.openFiles.delete(file);
      this.openFiles.set(file, cached);
      return cached;
    }
    while (this.openFiles.size >= this.openFilesMax) {
      const [oldestPath, oldest] = this.openFiles.entries().next().value as [string, OpenFile];
      this.syncHandle(oldest);
      this.openFiles.delete(oldestPath);
      this.storage.close(oldest.file);
    }
    let opened: StorageFile;
    try {
      opened = this.storage.open(file, create);
    } catch (error) {
      throw ioError(`cannot open consume queue file ${file}`, error, create ? 'create-segment' : 'other');
    }
    const handle: OpenFile = { file: opened, dirty: false };
    this.openFiles.set(file, handle);
    assert(this.openFiles.size <= this.openFilesMax);
    return handle;
  }

  private queueOf(topic: string, queueId: number, create: true): QueueState;
  private queueOf(topic: string, queueId: number, create: false): QueueState | undefined;
  private queueOf(topic: string, queueId: number, create: boolean): QueueState | undefined {
    const key = queueKey(topic, queueId);
    let queue = this.queueTable.get(key);
    if (queue === undefined && create) {
      assertTopic(topic);
      queue = {
        topic,
        queueId,
        dir: path.join(this.rootDir, topic, String(queueId)),
        fileStarts: [],
        minBytes: 0,
        endBytes: 0,
        maxPhysicalOffset: -1,
      };
      this.queueTable.set(key, queue);
    }
    return queue;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('E_STORE_CLOSED', 'consume queue store is closed');
  }
}

function lastOf(values: readonly number[]): number {
  assert(values.length > 0, 'list must not be empty');
  return values[values.length - 1]!;
}

function assertQueueId(queueId: number): void {
  assert(Number.isInteger(queueId), 'queueId must be an integer');
  assert(queueId >= 0 && queueId <= 2147483647, 'queueId must be an int32 ≥ 0');
}

/** The topic is used as a directory name as-is (RocketMQ); it must be one path component. */
function assertTopic(topic: string): void {
  assert(topic.length > 0, 'topic must not be empty');
  assert(topic !== '.' && topic !== '..', 'topic must not be . or ..');
  assert(!topic.includes('/') && !topic.includes('\\') && !topic.includes('\u0000'), 'topic must be one path component');
}
