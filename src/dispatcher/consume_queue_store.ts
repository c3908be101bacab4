// ConsumeQueueStore: every topic-queue's ConsumeQueue files under one directory,
//
//   <rootDir>/<topic>/<queueId>/<20-digit start byte offset>     (RocketMQ consumequeue/ layout)
//
// with RocketMQ's write rules (putMessagePositionInfo), recovery (ConsumeQueue.recover),
// truncation to the CommitLog's end (truncateDirtyLogicFiles) and retention
// (CleanConsumeQueueService + correctMinOffset). Files are created at full size but sparse
// (ftruncate, never zero-filled), so thousands of queues cost little disk.
//
// Write path, built for one dispatcher thread feeding up to ~8000 queues:
//
//   put() ──► queue.pending (growable Buffer, reused) ──commit()──► one pwritev per (queue, file)
//                                                                    │
//   flush() = commit() + fdatasync of every file written since ◄─────┘
//             the last flush, open or already evicted (dirtyClosed)
//
// put() does no I/O: it checks the unit against the queue's end and appends its 20 bytes to the
// queue's pending buffer; min/max offsets move at once. Reads see pending units (they are served
// from the buffer). Open file handles are bounded by an LRU; evicting a written handle does not
// fsync it (that would cost one fsync per message when 8000 queues share 256 handles) but
// remembers its path, and flush() syncs it by reopening. All I/O goes through Storage (sync
// calls). Unit codec: ../format/consume_queue_entry.ts.

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
  readConsumeQueueEntry,
  writeConsumeQueueEntry,
  type ConsumeQueueEntry,
} from '../format/consume_queue_entry.js';
import { parseSegmentName, segmentName } from '../format/segment_name.js';
import { isEncodedTopicDir, isPlainTopicDir, TOPIC_NAME_FILE, topicDirName } from '../format/topic_dir.js';
import type { Storage, StorageFile } from '../io/storage.js';

export interface ConsumeQueueStoreOptions {
  /** The consumequeue directory. */
  rootDir: string;
  /** Bytes per file, already a multiple of 20 (consumeQueueFileSizeBytes). */
  fileSizeBytes: number;
  /** Open file handles kept at most (LRU); e.g. 256. flush() never exceeds it either. */
  openFilesMax: number;
}

/** 'gap': the unit would leave a hole after the queue's end (only when the caller asked for it). */
export type ConsumeQueuePutResult = 'written' | 'duplicate' | 'gap';

export interface ConsumeQueueLoadSummary {
  /** Queues with at least one file after recovery. */
  queueCount: number;
  fileCount: number;
  /** Sum over queues of (maxQueueOffset − minQueueOffset). */
  entryCount: number;
  /** Queues whose tail was cut (invalid units zeroed, or files beyond the end deleted). */
  repairedQueueCount: number;
  /** Zero-length last files deleted (a crash while creating them), by path. */
  emptyFilesRemoved: string[];
}

/** A queue whose min or max queue offset changed, with its values now (0 and 0 once deleted). */
export interface ConsumeQueueChange {
  topic: string;
  queueId: number;
  minQueueOffset: number;
  maxQueueOffset: number;
}

/** The newest unit of a queue (RocketMQ getLatestUnit). */
export interface ConsumeQueueLastUnit {
  queueOffset: number;
  entry: ConsumeQueueEntry;
}

/**
 * Read granularity for scans (recovery, truncation): the first read of a file is small (most
 * queues of a store with thousands of them hold few units), later reads double up to the max.
 */
const SCAN_CHUNK_BYTES_FIRST = 4000; // 200 units
const SCAN_CHUNK_BYTES_MAX = 128000; // 6400 units
assert(SCAN_CHUNK_BYTES_FIRST % CQ_ENTRY_BYTES === 0 && SCAN_CHUNK_BYTES_MAX % CQ_ENTRY_BYTES === 0, 'scan chunks hold whole units');

/** First capacity of a queue's pending buffer; it doubles from there, so stays whole units. */
const PENDING_INITIAL_BYTES = 64 * CQ_ENTRY_BYTES;
/**
 * A pending buffer larger than this is dropped after its commit instead of kept for reuse, so
 * one burst on many queues does not pin memory (8000 queues × 20 KB = 160 MB at most).
 */
const PENDING_RETAIN_BYTES_MAX = 1024 * CQ_ENTRY_BYTES;
assert(PENDING_INITIAL_BYTES % CQ_ENTRY_BYTES === 0, 'pending buffer must hold whole units');
assert(PENDING_INITIAL_BYTES <= PENDING_RETAIN_BYTES_MAX);

/** Filler units written as repeated iovecs of this buffer (a 6 MB pre-fill = 94 iovecs). */
const FILLER_CHUNK_BYTES = 3200 * CQ_ENTRY_BYTES;
const EMPTY_BUFFER = Buffer.alloc(0);

interface QueueState {
  readonly key: string;
  readonly topic: string;
  readonly queueId: number;
  readonly dir: string;
  /** Start byte offsets of the queue's files on disk, ascending and contiguous. */
  fileStarts: number[];
  /** Byte position of the first unit a consumer may read (RocketMQ minLogicOffset). */
  minBytes: number;
  /** Byte position after the last put unit, pending ones included (RocketMQ max byte offset). */
  endBytes: number;
  /** physicalOffset + sizeBytes of the last real unit, −1 when none (RocketMQ maxPhysicOffset). */
  maxPhysicalOffset: number;
  /** Units in [pendingStartBytes, endBytes) are not written yet; they sit in `pending`. */
  pendingStartBytes: number;
  /** Pending units from byte 0, (endBytes − pendingStartBytes) bytes used; reused across commits. */
  pending: Buffer;
  /** Filler bytes still to write just before pendingStartBytes: a first file's pre-fill. */
  fillerBytes: number;
}

interface OpenFile {
  readonly file: StorageFile;
  /** Written (or resized) since its last fdatasync. */
  dirty: boolean;
}

function queueKey(topic: string, queueId: number): string {
  return `${queueId}\u0000${topic}`;
}

let fillerChunk: Buffer | null = null;

/** A shared buffer of filler units (RocketMQ fillPreBlank), built on first use. */
function fillerUnits(): Buffer {
  if (fillerChunk === null) {
    fillerChunk = Buffer.alloc(FILLER_CHUNK_BYTES);
    const filler = { physicalOffset: CQ_FILLER_PHYSICAL_OFFSET, sizeBytes: CQ_FILLER_SIZE_BYTES, tagsCode: CQ_FILLER_TAGS_CODE };
    for (let at = 0; at < FILLER_CHUNK_BYTES; at += CQ_ENTRY_BYTES) writeConsumeQueueEntry(fillerChunk, at, filler);
  }
  return fillerChunk;
}

/** Appends iovecs holding lengthBytes of filler units to `buffers`. */
function pushFiller(buffers: Buffer[], lengthBytes: number): void {
  assert(lengthBytes % CQ_ENTRY_BYTES === 0, 'filler must be whole units');
  const chunk = fillerUnits();
  for (let left = lengthBytes; left > 0; left -= chunk.length) {
    buffers.push(left >= chunk.length ? chunk : chunk.subarray(0, left));
  }
}

export class ConsumeQueueStore {
  private readonly storage: Storage;
  private readonly rootDir: string;
  private readonly fileSizeBytes: number;
  private readonly openFilesMax: number;
  private readonly queueTable = new Map<string, QueueState>();
  /** Queues with units put since their last commit. */
  private readonly pendingQueues = new Set<QueueState>();
  /** Sum over queues of pending bytes (a caller may commit when it grows). */
  private pendingBytesTotal = 0;
  /** Queues whose min or max queue offset changed since the last takeChanged(), by key. */
  private readonly changedQueues = new Map<string, QueueState>();
  /** Open handles by path, least recently used first (Map insertion order). */
  private readonly openFiles = new Map<string, OpenFile>();
  /** Files written since their last fdatasync whose handles the LRU has closed since. */
  private readonly dirtyClosed = new Set<string>();
  /** The queue of the last lookup (queueOf), kept while it is in the table. */
  private lastQueue: QueueState | null = null;
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
   * RocketMQ putMessagePositionInfo: appends the unit for queueOffset to the queue's pending
   * units, or reports a duplicate (already dispatched before a restart). Appending past the end
   * is a StoreError, or 'gap' with `reportGap`. No I/O: the unit reaches its file at the next commit().
   */
  put(topic: string, queueId: number, queueOffset: number, entry: ConsumeQueueEntry, reportGap = false): ConsumeQueuePutResult {
    this.assertOpen();
    assertQueueId(queueId);
    assert(Number.isSafeInteger(queueOffset), 'queueOffset must be an integer');
    assert(queueOffset >= 0, 'queueOffset must be ≥ 0');
    const reason = consumeQueueEntryInvalidReason(entry);
    assert(reason === null, `refusing to put an invalid ConsumeQueue unit: ${reason}`);
    const queue = this.queueOf(topic, queueId, true);
    if (entry.physicalOffset + entry.sizeBytes <= queue.maxPhysicalOffset) return 'duplicate';

    const expectedBytes = queueOffset * CQ_ENTRY_BYTES;
    if (queue.fileStarts.length === 0 && queue.endBytes === queue.pendingStartBytes) this.startQueue(queue, expectedBytes);
    if (expectedBytes < queue.endBytes) return 'duplicate';
    if (expectedBytes > queue.endBytes) {
      // At start-up a queue whose recovered tail lost units below the durable dispatch position
      // (a power cut kept later pages but not earlier ones) is rebuilt, not a reason to refuse.
      if (reportGap) return 'gap';
      throw new StoreError(
        'E_STORE_CORRUPT',
        `consume queue ${topic}/${queueId}: put of queue offset ${queueOffset} (physical offset ` +
          `${entry.physicalOffset}) leaves a gap after the end at queue offset ${queue.endBytes / CQ_ENTRY_BYTES}`,
      );
    }
    this.appendPending(queue, entry);
    queue.endBytes = expectedBytes + CQ_ENTRY_BYTES;
    queue.maxPhysicalOffset = entry.physicalOffset + entry.sizeBytes;
    this.changedQueues.set(queue.key, queue);
    return 'written';
  }

  /**
   * A queue with no file and nothing pending starts at its first put. Its first file is
   * pre-filled with filler units up to that position at commit (RocketMQ fillPreBlank).
   */
  private startQueue(queue: QueueState, expectedBytes: number): void {
    assert(queue.endBytes === 0, 'a queue starts once');
    queue.fillerBytes = expectedBytes % this.fileSizeBytes;
    queue.minBytes = expectedBytes;
    queue.endBytes = expectedBytes;
    queue.pendingStartBytes = expectedBytes;
  }

  private appendPending(queue: QueueState, entry: ConsumeQueueEntry): void {
    const usedBytes = queue.endBytes - queue.pendingStartBytes;
    if (usedBytes + CQ_ENTRY_BYTES > queue.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(PENDING_INITIAL_BYTES, queue.pending.length * 2));
      queue.pending.copy(grown, 0, 0, usedBytes);
      queue.pending = grown;
    }
    writeConsumeQueueEntry(queue.pending, usedBytes, entry);
    if (usedBytes === 0) this.pendingQueues.add(queue);
    this.pendingBytesTotal += CQ_ENTRY_BYTES;
  }

  /**
   * Writes every queue's pending units: one pwritev per (queue, file), creating the next file
   * when a run crosses into it. On an I/O error the failed queue and every queue not reached yet
   * keep their units pending, and a later commit() writes them again from their first pending
   * byte (rewriting bytes that did land is harmless: same bytes, same place).
   */
  commit(): void {
    this.assertOpen();
    for (const queue of this.pendingQueues) {
      const pendingBytes = queue.endBytes - queue.pendingStartBytes;
      this.commitQueue(queue);
      this.pendingQueues.delete(queue);
      this.pendingBytesTotal -= pendingBytes;
    }
    assert(this.pendingBytesTotal === 0, 'every pending byte was committed');
  }

  private commitQueue(queue: QueueState): void {
    assert(queue.endBytes > queue.pendingStartBytes, 'a pending queue has pending units');
    let atBytes = queue.pendingStartBytes - queue.fillerBytes;
    while (atBytes < queue.endBytes) {
      const fileStart = atBytes - (atBytes % this.fileSizeBytes);
      const runEndBytes = Math.min(queue.endBytes, fileStart + this.fileSizeBytes);
      if (queue.fileStarts.length === 0 || fileStart > lastOf(queue.fileStarts)) this.createFile(queue, fileStart);
      const buffers: Buffer[] = [];
      if (atBytes < queue.pendingStartBytes) {
        // Only a queue's first run can start in filler; it never crosses a file end.
        assert(atBytes === fileStart, 'filler starts at its file start');
        pushFiller(buffers, queue.pendingStartBytes - atBytes);
      }
      const fromBytes = Math.max(atBytes, queue.pendingStartBytes);
      buffers.push(queue.pending.subarray(fromBytes - queue.pendingStartBytes, runEndBytes - queue.pendingStartBytes));
      this.write(queue, fileStart, buffers, atBytes - fileStart, runEndBytes - atBytes);
      atBytes = runEndBytes;
    }
    queue.fillerBytes = 0;
    queue.pendingStartBytes = queue.endBytes;
    if (queue.pending.length > PENDING_RETAIN_BYTES_MAX) queue.pending = EMPTY_BUFFER;
  }

  private createFile(queue: QueueState, fileStart: number): void {
    if (queue.fileStarts.length === 0) {
      try {
        this.storage.mkdirp(queue.dir);
        const topicDir = path.dirname(queue.dir);
        const nameFile = path.join(topicDir, TOPIC_NAME_FILE);
        if (isEncodedTopicDir(path.basename(topicDir)) && !this.storage.exists(nameFile)) {
          this.storage.writeFileAtomic(nameFile, Buffer.from(queue.topic, 'utf8'));
        }
      } catch (error) {
        throw ioError(`cannot create consume queue directory ${queue.dir}`, error, 'create-segment');
      }
      this.dirsToSync.add(path.dirname(queue.dir)).add(this.rootDir);
    } else {
      assert(fileStart === lastOf(queue.fileStarts) + this.fileSizeBytes, 'files roll one at a time');
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

  private write(queue: QueueState, fileStart: number, buffers: Buffer[], position: number, lengthBytes: number): void {
    assert(position + lengthBytes <= this.fileSizeBytes, 'write must stay inside its file');
    assert(buffers.reduce((sum, buffer) => sum + buffer.length, 0) === lengthBytes, 'iovecs add up');
    const handle = this.handleOf(queue, fileStart, false);
    // Dirty before the write: a failed write may still have changed the file.
    handle.dirty = true;
    try {
      this.storage.pwritev(handle.file, buffers, position);
    } catch (error) {
      throw ioError(`cannot write consume queue file ${handle.file.path}`, error, 'write');
    }
  }

  /** Bytes put and not committed yet, over all queues (20 per unit). */
  pendingBytes(): number {
    return this.pendingBytesTotal;
  }

  // ---------------------------------------------------------------- reading

  /** The unit at queueOffset, or null outside [min, max) of the queue. */
  get(topic: string, queueId: number, queueOffset: number): ConsumeQueueEntry | null {
    return this.read(topic, queueId, queueOffset, 1)[0] ?? null;
  }

  /** Up to maxEntries units from fromQueueOffset, stopping at the end (pending units included). */
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
      let buffer: Buffer;
      let bufferAt: number;
      let lengthBytes: number;
      if (atBytes >= queue.pendingStartBytes) {
        buffer = queue.pending;
        bufferAt = atBytes - queue.pendingStartBytes;
        lengthBytes = stopBytes - atBytes;
      } else {
        const fileStart = atBytes - (atBytes % this.fileSizeBytes);
        lengthBytes = Math.min(stopBytes, fileStart + this.fileSizeBytes, queue.pendingStartBytes) - atBytes;
        buffer = this.readBytes(queue, fileStart, atBytes - fileStart, lengthBytes);
        bufferAt = 0;
      }
      for (let at = bufferAt; at < bufferAt + lengthBytes; at += CQ_ENTRY_BYTES) {
        const entry = readConsumeQueueEntry(buffer, at);
        // Below the end every unit was written by put(); anything else is damage, not data.
        if (consumeQueueEntryKind(entry) !== 'unit') return entries;
        entries.push(entry);
      }
      atBytes += lengthBytes;
    }
    return entries;
  }

  /**
   * The unit at max − 1 (RocketMQ getLatestUnit), null when the queue has no readable unit
   * (unknown, or min = max after retention). The entry is returned as read, unchecked: a repair
   * that compares it with the CommitLog finds damage there (consumeQueueEntryKind ≠ 'unit').
   */
  lastUnit(topic: string, queueId: number): ConsumeQueueLastUnit | null {
    this.assertOpen();
    const queue = this.queueOf(topic, queueId, false);
    if (queue === undefined || queue.endBytes <= queue.minBytes) return null;
    const atBytes = queue.endBytes - CQ_ENTRY_BYTES;
    return { queueOffset: atBytes / CQ_ENTRY_BYTES, entry: this.unitAt(queue, atBytes) };
  }

  /** The 20 bytes at atBytes (below endBytes), decoded, from the pending buffer or the file. */
  private unitAt(queue: QueueState, atBytes: number): ConsumeQueueEntry {
    assert(atBytes < queue.endBytes, 'unit must be below the end');
    if (atBytes >= queue.pendingStartBytes) return readConsumeQueueEntry(queue.pending, atBytes - queue.pendingStartBytes);
    const fileStart = atBytes - (atBytes % this.fileSizeBytes);
    return readConsumeQueueEntry(this.readBytes(queue, fileStart, atBytes - fileStart, CQ_ENTRY_BYTES), 0);
  }

  private readBytes(queue: QueueState, fileStart: number, position: number, lengthBytes: number): Buffer {
    const handle = this.handleOf(queue, fileStart, false);
    const buffer = Buffer.alloc(lengthBytes);
    let readBytes: number;
    try {
      readBytes = this.storage.pread(handle.file, buffer, 0, lengthBytes, position);
    } catch (error) {
      throw ioError(`cannot read consume queue file ${handle.file.path}`, error, 'other');
    }
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

  /**
   * First readable queue offset (RocketMQ minLogicOffset / 20, moved up by correctMinOffset in
   * deleteExpiredFiles); 0 for an unknown queue.
   */
  minQueueOffset(topic: string, queueId: number): number {
    return (this.queueOf(topic, queueId, false)?.minBytes ?? 0) / CQ_ENTRY_BYTES;
  }

  /** physicalOffset + sizeBytes of the queue's last unit; −1 when it has none (RocketMQ). */
  maxPhysicalOffsetOf(topic: string, queueId: number): number {
    return this.queueOf(topic, queueId, false)?.maxPhysicalOffset ?? -1;
  }

  /** Every queue that has files or pending units, as [topic, queueId]. */
  queues(): Array<[string, number]> {
    const result: Array<[string, number]> = [];
    for (const queue of this.queueTable.values()) {
      if (queue.fileStarts.length > 0 || queue.endBytes > queue.pendingStartBytes) result.push([queue.topic, queue.queueId]);
    }
    return result;
  }

  /** Number of queues that have files or pending units. */
  queueCount(): number {
    return this.queues().length;
  }

  /** Files of a queue on disk now (0 for an unknown queue). */
  fileCountOf(topic: string, queueId: number): number {
    return this.queueOf(topic, queueId, false)?.fileStarts.length ?? 0;
  }

  /**
   * Every queue whose min or max queue offset changed since the previous call (through load,
   * put, truncateAfter, deleteExpiredFiles or deleteQueue), with its current values; a queue
   * deleted since reports 0 and 0. Clears the set.
   */
  takeChanged(): ConsumeQueueChange[] {
    const changes: ConsumeQueueChange[] = [];
    for (const [key, queue] of this.changedQueues) {
      const current = this.queueTable.get(key);
      changes.push({
        topic: queue.topic,
        queueId: queue.queueId,
        minQueueOffset: (current?.minBytes ?? 0) / CQ_ENTRY_BYTES,
        maxQueueOffset: (current?.endBytes ?? 0) / CQ_ENTRY_BYTES,
      });
    }
    this.changedQueues.clear();
    return changes;
  }

  // ---------------------------------------------------------------- loading and recovery

  /**
   * Finds every queue under rootDir and recovers it (RocketMQ ConsumeQueue.load + recover).
   * Every loaded queue is reported once by the next takeChanged().
   */
  load(): ConsumeQueueLoadSummary {
    this.assertOpen();
    assert(this.queueTable.size === 0, 'load() runs once, before any put');
    const summary: ConsumeQueueLoadSummary = { queueCount: 0, fileCount: 0, entryCount: 0, repairedQueueCount: 0, emptyFilesRemoved: [] };
    for (const dirName of this.storage.list(this.rootDir).sort()) {
      const topic = this.topicOfDir(dirName);
      if (topic === null) continue;
      const topicDir = path.join(this.rootDir, dirName);
      for (const queueName of this.storage.list(topicDir)) {
        if (!/^\d{1,9}$/.test(queueName)) continue;
        const queue = this.loadQueue(topic, Number(queueName), summary.emptyFilesRemoved);
        if (queue === null) continue;
        if (this.recover(queue)) summary.repairedQueueCount += 1;
        if (queue.fileStarts.length === 0) {
          this.queueTable.delete(queue.key);
          continue;
        }
        summary.queueCount += 1;
        summary.fileCount += queue.fileStarts.length;
        summary.entryCount += (queue.endBytes - queue.minBytes) / CQ_ENTRY_BYTES;
        this.changedQueues.set(queue.key, queue);
      }
    }
    return summary;
  }

  /**
   * The topic a directory under rootDir holds (./../format/topic_dir.ts), or null to skip it.
   * An encoded directory whose name file is missing or does not match is removed: its queues
   * are rebuilt from the CommitLog, and stale files must not be found under the same name.
   */
  private topicOfDir(dirName: string): string | null {
    if (!isEncodedTopicDir(dirName)) return isPlainTopicDir(dirName) ? dirName : null;
    const topicDir = path.join(this.rootDir, dirName);
    const bytes = this.storage.readFile(path.join(topicDir, TOPIC_NAME_FILE));
    const topic = bytes?.toString('utf8') ?? null;
    if (topic !== null && topic.length > 0 && topicDirName(topic) === dirName) return topic;
    this.storage.removeTree(topicDir);
    this.dirsToSync.add(this.rootDir);
    return null;
  }

  private loadQueue(topic: string, queueId: number, emptyFilesRemoved: string[]): QueueState | null {
    const queue = this.queueOf(topic, queueId, true);
    const starts: number[] = [];
    for (const name of this.storage.list(queue.dir)) {
      const start = parseSegmentName(name);
      if (start !== null) starts.push(start);
    }
    if (starts.length === 0) {
      this.queueTable.delete(queue.key);
      return null;
    }
    starts.sort((a, b) => a - b);
    // RocketMQ (MappedFileQueue.doLoad): a zero-length last file is what a crash during its
    // creation leaves; it is deleted, not an error.
    const lastFile = path.join(queue.dir, segmentName(starts[starts.length - 1]!));
    if (this.storage.sizeBytes(lastFile) === 0) {
      this.storage.unlink(lastFile);
      this.dirsToSync.add(queue.dir);
      emptyFilesRemoved.push(lastFile);
      starts.pop();
      if (starts.length === 0) {
        this.queueTable.delete(queue.key);
        return null;
      }
    }
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
   * offset < 0 or size ≤ 0 (a zero unit included); mqstore also ends it at a unit that starts
   * before the previous one ended (units follow the CommitLog, so that is damage) and at a
   * filler after a unit or outside the first file. Files after it are deleted and the rest of
   * its file is re-zeroed. Returns whether anything had to be cut.
   */
  private recover(queue: QueueState): boolean {
    const first = queue.fileStarts[0]!;
    queue.minBytes = first + this.leadingFillerBytes(queue, first);
    let endBytes = first;
    let maxPhysicalOffset = -1;
    let stoppedOnDamage = false;
    const startIndex = Math.max(0, queue.fileStarts.length - 3);
    let unitEnd = -1;
    let inFirstFile = false;
    const accept = (entry: ConsumeQueueEntry): boolean => {
      if (entry.physicalOffset < 0 || entry.sizeBytes <= 0) return false;
      const kind = consumeQueueEntryKind(entry);
      // Fillers pre-fill only the first file (it always holds the first unit): a filler in a
      // later file is damage, and minBytes (leading fillers of the first file) would sit below it.
      if (kind === 'filler') return unitEnd < 0 && inFirstFile;
      if (kind !== 'unit' || entry.physicalOffset < unitEnd) return false;
      unitEnd = entry.physicalOffset + entry.sizeBytes;
      return true;
    };
    for (const fileStart of queue.fileStarts.slice(startIndex)) {
      inFirstFile = fileStart === first;
      const scan = this.scanFile(queue, fileStart, accept);
      endBytes = fileStart + scan.validBytes;
      if (scan.maxPhysicalOffset >= 0) maxPhysicalOffset = scan.maxPhysicalOffset;
      if (scan.validBytes < this.fileSizeBytes) {
        stoppedOnDamage = scan.stoppedOnNonZero;
        break;
      }
    }
    queue.endBytes = endBytes;
    queue.pendingStartBytes = endBytes;
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
    let chunkBytes = SCAN_CHUNK_BYTES_FIRST;
    for (let chunkAt = 0; chunkAt < this.fileSizeBytes; chunkAt += chunkBytes, chunkBytes = Math.min(2 * chunkBytes, SCAN_CHUNK_BYTES_MAX)) {
      const lengthBytes = Math.min(chunkBytes, this.fileSizeBytes - chunkAt);
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
    const lowBytes = Math.max(queue.minBytes, queue.fileStarts[0] ?? 0);
    for (let atBytes = queue.endBytes - CQ_ENTRY_BYTES; atBytes >= lowBytes; atBytes -= CQ_ENTRY_BYTES) {
      const entry = this.unitAt(queue, atBytes);
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
    assert(queue.pendingStartBytes >= queue.endBytes, 'cut only a committed queue');
    let deleted = false;
    while (queue.fileStarts.length > 1 && lastOf(queue.fileStarts) >= endBytes) {
      this.deleteFile(queue, lastOf(queue.fileStarts));
      deleted = true;
    }
    if (zeroTail) {
      const fileStart = lastOf(queue.fileStarts);
      const handle = this.handleOf(queue, fileStart, false);
      handle.dirty = true;
      try {
        this.storage.truncate(handle.file, endBytes - fileStart);
        this.storage.truncate(handle.file, this.fileSizeBytes);
      } catch (error) {
        throw ioError(`cannot cut consume queue file ${handle.file.path}`, error, 'write');
      }
    }
    return deleted;
  }

  /** Deletes the queue's first or last file (nothing else keeps the files contiguous). */
  private deleteFile(queue: QueueState, fileStart: number): void {
    const isFirst = queue.fileStarts[0] === fileStart;
    assert(isFirst || lastOf(queue.fileStarts) === fileStart, 'only the first or the last file is deleted');
    const file = path.join(queue.dir, segmentName(fileStart));
    const handle = this.openFiles.get(file);
    if (handle !== undefined) {
      this.openFiles.delete(file);
      this.closeHandle(handle);
    }
    // A deleted file needs no fdatasync; its directory entry's removal is synced by flush().
    this.dirtyClosed.delete(file);
    try {
      this.storage.unlink(file);
    } catch (error) {
      throw ioError(`cannot delete consume queue file ${file}`, error, 'other');
    }
    this.dirsToSync.add(queue.dir);
    if (isFirst) queue.fileStarts.shift();
    else queue.fileStarts.pop();
  }

  // ---------------------------------------------------------------- truncation

  /**
   * RocketMQ truncateDirtyLogicFiles: drops every unit whose physicalOffset ≥ physicalOffset in
   * every queue, so no queue points past the CommitLog's recovered end. Commits first. Returns
   * the number of units dropped.
   */
  truncateAfter(physicalOffset: number): number {
    this.assertOpen();
    assert(Number.isSafeInteger(physicalOffset) && physicalOffset >= 0, 'physicalOffset must be a safe integer ≥ 0');
    this.commit();
    let droppedCount = 0;
    for (const [key, queue] of this.queueTable) {
      // Physical offsets increase along a queue: if the last unit ends at or before the cut,
      // its offset is below it and nothing in this queue is dropped.
      if (queue.maxPhysicalOffset <= physicalOffset) continue;
      const endBytes = this.firstUnitAtOrAfter(queue, physicalOffset);
      droppedCount += (queue.endBytes - endBytes) / CQ_ENTRY_BYTES;
      if (endBytes === queue.endBytes) continue;
      this.changedQueues.set(key, queue);
      const isFileStart = endBytes % this.fileSizeBytes === 0;
      if (isFileStart && endBytes <= queue.fileStarts[0]!) {
        // Nothing left: delete every file; a later put starts the queue afresh.
        while (queue.fileStarts.length > 0) this.deleteFile(queue, lastOf(queue.fileStarts));
        this.queueTable.delete(key);
        continue;
      }
      queue.endBytes = endBytes;
      queue.pendingStartBytes = endBytes;
      queue.minBytes = Math.min(queue.minBytes, endBytes);
      this.cutAt(queue, endBytes, !isFileStart);
      queue.maxPhysicalOffset = this.lastRealUnitEnd(queue);
    }
    return droppedCount;
  }

  /** Byte position of the queue's first readable unit with physicalOffset ≥ physicalOffset (binary search). */
  private firstUnitAtOrAfter(queue: QueueState, physicalOffset: number): number {
    let low = queue.minBytes / CQ_ENTRY_BYTES;
    let high = queue.endBytes / CQ_ENTRY_BYTES;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (this.unitAt(queue, middle * CQ_ENTRY_BYTES).physicalOffset < physicalOffset) low = middle + 1;
      else high = middle;
    }
    // A queue whose readable units were all cut keeps its filler head: cut right after it.
    return low * CQ_ENTRY_BYTES;
  }

  // ---------------------------------------------------------------- retention and repair

  /**
   * RocketMQ CleanConsumeQueueService after the CommitLog's files below minPhysicalOffset were
   * deleted: per queue, from the oldest file and never the last one, deletes every file whose
   * last unit's physicalOffset < minPhysicalOffset, stopping at the first that is not; then
   * correctMinOffset. Commits first. Returns the number of files deleted.
   */
  deleteExpiredFiles(minPhysicalOffset: number): number {
    this.assertOpen();
    assert(Number.isSafeInteger(minPhysicalOffset) && minPhysicalOffset >= 0, 'minPhysicalOffset must be a safe integer ≥ 0');
    this.commit();
    let deletedCount = 0;
    for (const queue of this.queueTable.values()) {
      deletedCount += this.deleteExpiredFilesOf(queue, minPhysicalOffset);
      this.correctMinOffset(queue, minPhysicalOffset);
    }
    return deletedCount;
  }

  private deleteExpiredFilesOf(queue: QueueState, minPhysicalOffset: number): number {
    let deletedCount = 0;
    while (queue.fileStarts.length > 1) {
      // Every file but the last is full, so its last unit sits at the file's end. A damaged
      // one is compared as read: RocketMQ deletes unavailable files too.
      const fileStart = queue.fileStarts[0]!;
      const last = readConsumeQueueEntry(this.readBytes(queue, fileStart, this.fileSizeBytes - CQ_ENTRY_BYTES, CQ_ENTRY_BYTES), 0);
      if (last.physicalOffset >= minPhysicalOffset) break;
      this.deleteFile(queue, fileStart);
      deletedCount += 1;
    }
    const firstBytes = queue.fileStarts[0]!;
    if (queue.minBytes < firstBytes) {
      queue.minBytes = Math.min(firstBytes, queue.endBytes);
      this.changedQueues.set(queue.key, queue);
    }
    return deletedCount;
  }

  /**
   * RocketMQ correctMinOffset: the min becomes the first unit with physicalOffset ≥
   * minPhysicalOffset, or the end when even the last unit is below it. Never moves down.
   */
  private correctMinOffset(queue: QueueState, minPhysicalOffset: number): void {
    if (queue.minBytes >= queue.endBytes) return;
    // Early exit, as RocketMQ: the current min is still valid (one read per queue).
    if (this.unitAt(queue, queue.minBytes).physicalOffset >= minPhysicalOffset) return;
    const lastBytes = queue.endBytes - CQ_ENTRY_BYTES;
    const minBytes = this.unitAt(queue, lastBytes).physicalOffset < minPhysicalOffset
      ? queue.endBytes
      : this.firstUnitAtOrAfter(queue, minPhysicalOffset);
    assert(minBytes > queue.minBytes, 'the min only moves up');
    queue.minBytes = minBytes;
    this.changedQueues.set(queue.key, queue);
  }

  /**
   * Deletes every file of the queue and its directory, drops its pending units and forgets it;
   * a later put starts it afresh (as if it had never existed). Nothing for an unknown queue.
   */
  deleteQueue(topic: string, queueId: number): void {
    this.assertOpen();
    assertQueueId(queueId);
    const queue = this.queueOf(topic, queueId, false);
    if (queue === undefined) return;
    if (this.pendingQueues.delete(queue)) this.pendingBytesTotal -= queue.endBytes - queue.pendingStartBytes;
    queue.pendingStartBytes = queue.endBytes;
    // File by file first, so open handles are closed and dirty ones forgotten.
    const hadFiles = queue.fileStarts.length > 0;
    while (queue.fileStarts.length > 0) this.deleteFile(queue, lastOf(queue.fileStarts));
    try {
      this.storage.removeTree(queue.dir);
    } catch (error) {
      throw ioError(`cannot delete consume queue directory ${queue.dir}`, error, 'other');
    }
    this.dirsToSync.delete(queue.dir);
    // A queue that never reached the disk may have no topic directory either.
    if (hadFiles) this.dirsToSync.add(path.dirname(queue.dir));
    this.queueTable.delete(queue.key);
    this.changedQueues.set(queue.key, queue);
  }

  // ---------------------------------------------------------------- durability and handles

  /**
   * Commits, then fdatasyncs every file written since the last flush (open ones, and ones the
   * LRU closed since: reopened one at a time), then the directories that changed.
   */
  flush(): void {
    this.assertOpen();
    this.commit();
    for (const handle of this.openFiles.values()) this.syncHandle(handle);
    this.syncDirtyClosed();
    for (const dir of this.dirsToSync) {
      try {
        this.storage.fsyncDir(dir);
      } catch (error) {
        throw ioError(`cannot fsync directory ${dir}`, error, 'fsync');
      }
      this.dirsToSync.delete(dir);
    }
  }

  /**
   * Commits, then hands over what a flush must fsync: every file written since the last flush
   * (by path) and every directory whose entries changed. They count as synced from now on; the
   * caller fsyncs them (through fresh descriptors, off the thread: DispatcherService) and must
   * treat a failure as fatal.
   */
  takeFlushTargets(): { files: string[]; dirs: string[] } {
    this.assertOpen();
    this.commit();
    const files: string[] = [];
    for (const [file, handle] of this.openFiles) {
      if (!handle.dirty) continue;
      handle.dirty = false;
      files.push(file);
    }
    files.push(...this.dirtyClosed);
    this.dirtyClosed.clear();
    const dirs = [...this.dirsToSync];
    this.dirsToSync.clear();
    return { files, dirs };
  }

  /** Commits, flushes and closes every handle. */
  close(): void {
    if (this.closed) return;
    this.flush();
    for (const handle of this.openFiles.values()) this.closeHandle(handle);
    this.openFiles.clear();
    this.closed = true;
  }

  /** Number of handles open now (≤ openFilesMax). */
  openFileCount(): number {
    return this.openFiles.size;
  }

  /** Files written but not fdatasynced whose handles the LRU has closed (flush() syncs them). */
  dirtyClosedCount(): number {
    return this.dirtyClosed.size;
  }

  /**
   * fdatasync of files whose dirty handles were evicted, through a fresh descriptor. Since
   * Linux 4.13 (errseq) a writeback error is reported to a descriptor opened after it happened
   * as long as no one has seen it yet, so a reopened fdatasync still surfaces it.
   */
  private syncDirtyClosed(): void {
    if (this.dirtyClosed.size === 0) return;
    // The temporary descriptor takes one LRU slot, so the process stays within openFilesMax.
    // Every open handle was synced just before, so the one evicted here is clean.
    if (this.openFiles.size >= this.openFilesMax) this.evictOldest();
    for (const file of this.dirtyClosed) {
      let opened: StorageFile;
      try {
        opened = this.storage.open(file, false);
      } catch (error) {
        // Deleted since (by this store's retention or truncation, or by hand): nothing to sync.
        if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
          this.dirtyClosed.delete(file);
          continue;
        }
        throw ioError(`cannot open consume queue file ${file} to fdatasync it`, error, 'fsync');
      }
      try {
        this.storage.fdatasync(opened);
      } catch (error) {
        throw ioError(`cannot fdatasync consume queue file ${file}`, error, 'fsync');
      } finally {
        this.storage.close(opened);
      }
      this.dirtyClosed.delete(file);
    }
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

  private closeHandle(handle: OpenFile): void {
    try {
      this.storage.close(handle.file);
    } catch (error) {
      throw ioError(`cannot close consume queue file ${handle.file.path}`, error, 'other');
    }
  }

  /** Closes the least recently used handle without syncing it; a dirty one is remembered. */
  private evictOldest(): void {
    const [oldestPath, oldest] = this.openFiles.entries().next().value as [string, OpenFile];
    this.openFiles.delete(oldestPath);
    if (oldest.dirty) this.dirtyClosed.add(oldestPath);
    this.closeHandle(oldest);
  }

  private handleOf(queue: QueueState, fileStart: number, create: boolean): OpenFile {
    const file = path.join(queue.dir, segmentName(fileStart));
    const cached = this.openFiles.get(file);
    if (cached !== undefined) {
      this.openFiles.delete(file);
      this.openFiles.set(file, cached);
      return cached;
    }
    while (this.openFiles.size >= this.openFilesMax) this.evictOldest();
    let opened: StorageFile;
    try {
      opened = this.storage.open(file, create);
    } catch (error) {
      throw ioError(`cannot open consume queue file ${file}`, error, create ? 'create-segment' : 'other');
    }
    // A file evicted dirty is dirty again under its new handle: one fdatasync covers both.
    const handle: OpenFile = { file: opened, dirty: this.dirtyClosed.delete(file) };
    this.openFiles.set(file, handle);
    assert(this.openFiles.size <= this.openFilesMax);
    return handle;
  }

  private queueOf(topic: string, queueId: number, create: true): QueueState;
  private queueOf(topic: string, queueId: number, create: false): QueueState | undefined;
  private queueOf(topic: string, queueId: number, create: boolean): QueueState | undefined {
    // Runs of messages to one queue are common: skip building the key for them.
    const last = this.lastQueue;
    if (last !== null && last.queueId === queueId && last.topic === topic && this.queueTable.get(last.key) === last) return last;
    const key = queueKey(topic, queueId);
    let queue = this.queueTable.get(key);
    if (queue === undefined && create) {
      assertTopic(topic);
      queue = {
        key,
        topic,
        queueId,
        dir: path.join(this.rootDir, topicDirName(topic), String(queueId)),
        fileStarts: [],
        minBytes: 0,
        endBytes: 0,
        maxPhysicalOffset: -1,
        pendingStartBytes: 0,
        pending: EMPTY_BUFFER,
        fillerBytes: 0,
      };
      this.queueTable.set(key, queue);
    }
    if (queue !== undefined) this.lastQueue = queue;
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

/**
 * Any non-empty topic: one that is not a safe RocketMQ directory name gets an encoded
 * directory (../format/topic_dir.ts).
 */
function assertTopic(topic: string): void {
  assert(topic.length > 0, 'topic must not be empty');
}
