// MessageStore: the main-thread facade. It validates sends, acts as the sequencer (assigns queue
// offsets and physical offsets, closes segments with BLANK records), copies record bytes into the
// write ring, and resolves each put when the writer worker reports that its bytes are written
// (ASYNC_FLUSH), staged (ASYNC_FLUSH with transientStorePoolEnable) or fsynced (SYNC_FLUSH). It
// never blocks its event loop: a full ring parks sends in a FIFO (at most one ring's worth) until
// the writer frees space or osPageCacheBusyTimeOutMills passes.
//
//   putMessage ─► PutPreparer ─► sequence() ─► ring ─► writer worker ─► PROGRESS ─► resolve
//                 (validate)     (offsets)      (SAB)   (pwritev/fsync)

import { stat, mkdir, open as openFile, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { assert, assertNever } from './assert.js';
import {
  checkRuntimeUpdate,
  type MessageStoreConfig,
  type MessageStoreOptions,
  recordBytesMax,
  resolveConfig,
} from './config.js';
import { StoreError, type StoreErrorCode } from './errors.js';
import {
  BLANK_RECORD_BYTES,
  decodeMessage,
  type MessageExt,
  offsetMsgId,
  RECORD_FIXED_BYTES,
  writeBlankRecord,
  writeRecord,
} from './format/commit_log_record.js';
import { encodeHostAddress } from './format/host_address.js';
import { segmentName } from './format/segment_name.js';
import { ExpiryTimer, Fifo } from './fifo.js';
import type { StorageSpec } from './io/storage.js';
import { type BatchInput, type MessageInput, type PreparedPut, PutPreparer } from './put_request.js';
import type { QueueOffsetEntry } from './recovery/queue_offset_table.js';
import type { MainToWriter, RecoverySummary, SerializedError, WriterInit, WriterToMain } from './shared/messages.js';
import { ringCreate } from './shared/ring_layout.js';
import { RingProducer } from './shared/ring_producer.js';
import { failedResult, PutMessageStatus, type PutMessageResult } from './status.js';
import { StoreLock } from './store_lock.js';
import type { WriterProgress } from './writer/group_commit.js';

/** Internal options, for tests and tools: a fault-injecting storage for the writer worker. */
export interface MessageStoreInternals {
  storage?: StorageSpec;
}

/** The store's ring: at least 16 MiB, at least 4 of the largest records, at most 1 GiB. */
const STORE_RING_BYTES_MIN = 16 * 1024 * 1024;
const STORE_RING_BYTES_MAX = 1024 * 1024 * 1024;
/** Upper-case two-digit hex of every byte value, for message ids. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));
/** Unpublished ring bytes that make a burst of sends publish before its end. */
const PUBLISH_EARLY_BYTES = 64 * 1024;
/** Segment read handles kept open by lookMessageByOffset. */
const READ_FILES_MAX = 64;

interface PendingPut {
  endPhysicalOffset: number;
  result: PutMessageResult;
  resolve: (result: PutMessageResult) => void;
  /** performance.now() deadline for FLUSH_DISK_TIMEOUT (SYNC_FLUSH waits only). */
  deadlineMs: number;
}

interface ParkedPut {
  prepared: PreparedPut;
  resolve: (result: PutMessageResult) => void;
  deadlineMs: number;
  /** Called when the send leaves the line (sequenced, expired or failed): flush() waits on it. */
  onLeave?: () => void;
}

interface Request {
  resolve: () => void;
  reject: (error: StoreError) => void;
}

type State = 'open' | 'closing' | 'closed' | 'failed';
type WriterRequest = MainToWriter extends infer T ? (T extends unknown ? Omit<T, 'requestId'> : never) : never;

function ringCapacityFor(maxMessageSize: number): number {
  let capacity = STORE_RING_BYTES_MIN;
  while (capacity < 4 * recordBytesMax(maxMessageSize) && capacity < STORE_RING_BYTES_MAX) capacity *= 2;
  return capacity;
}

function errorFrom(serialized: SerializedError): StoreError {
  return new StoreError(serialized.code as StoreErrorCode, serialized.message, {
    syscallCode: serialized.syscallCode,
    operation: serialized.operation,
  });
}

export class MessageStore {
  private config: MessageStoreConfig;
  private readonly worker: Worker;
  private readonly ring: RingProducer;
  private readonly lock: StoreLock;
  private readonly preparer: PutPreparer;
  private readonly storeHostBytes: Uint8Array;
  private readonly segmentSizeBytes: number;
  private readonly recovery: RecoverySummary;
  private readonly queueOffsets = new Map<string, Map<number, number>>();
  private scratch: Buffer;
  private scratchView: DataView;
  private nextPhysicalOffset: number;
  private minPhysicalOffset: number;
  private progress: WriterProgress;
  private readonly pendingWrite = new Fifo<PendingPut>();
  private readonly pendingFlush = new Fifo<PendingPut>();
  private readonly parked = new Fifo<ParkedPut>();
  private readonly requests = new Map<number, Request>();
  private nextRequestId = 1;
  /** SYNC_FLUSH puts not fsynced by their deadline resolve FLUSH_DISK_TIMEOUT (still stored). */
  private readonly flushExpiry = new ExpiryTimer(this.pendingFlush, (p) => {
    p.result.putMessageStatus = PutMessageStatus.FLUSH_DISK_TIMEOUT;
    p.resolve(p.result);
  }, () => this.updateRef());
  /** Sends parked on a full ring past osPageCacheBusyTimeOutMills resolve OS_PAGE_CACHE_BUSY. */
  private readonly parkExpiry = new ExpiryTimer(this.parked, (p) => {
    this.parkedBytes -= p.prepared.sizeBytes;
    p.resolve(failedResult(PutMessageStatus.OS_PAGE_CACHE_BUSY));
    p.onLeave?.();
  }, () => this.updateRef());
  /** Bytes of the sends waiting in `parked`. */
  private parkedBytes = 0;
  private state: State = 'open';
  private failure: StoreError | null = null;
  private closing: Promise<void> | null = null;
  private readonly readFiles = new Map<number, Promise<FileHandle>>();
  private workerRefed = true;
  private publishScheduled = false;
  private readonly syncFlush: boolean;
  private readonly msgIdPrefix: string;

  private constructor(config: MessageStoreConfig, worker: Worker, ringSab: SharedArrayBuffer, lock: StoreLock, recovery: RecoverySummary) {
    this.config = config;
    this.worker = worker;
    this.ring = new RingProducer(ringSab);
    this.lock = lock;
    this.recovery = recovery;
    this.segmentSizeBytes = config.mappedFileSizeCommitLog;
    this.syncFlush = config.flushDiskType === 'SYNC_FLUSH';
    this.storeHostBytes = encodeHostAddress(config.storeHost, 'storeHost');
    this.msgIdPrefix = Buffer.from(this.storeHostBytes).toString('hex').toUpperCase();
    for (const sample of [0, 0xabcdef, 2 ** 40 + 123]) {
      assert(this.msgIdAt(sample) === offsetMsgId(this.storeHostBytes, sample), 'fast msgId agrees with the codec');
    }
    this.preparer = new PutPreparer({
      maxMessageSize: config.maxMessageSize,
      segmentSizeBytes: this.segmentSizeBytes,
      storeHost: this.storeHostBytes,
    });
    this.scratch = Buffer.allocUnsafe(recordBytesMax(config.maxMessageSize) + 64);
    this.scratchView = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
    this.nextPhysicalOffset = recovery.endPhysicalOffset;
    this.minPhysicalOffset = recovery.minPhysicalOffset;
    const end = recovery.endPhysicalOffset;
    this.progress = { acceptedWhere: end, wroteWhere: end, flushedWhere: end, pagecacheRtMs: 0, fsyncCount: 0 };
    for (const [topic, queueId, next] of recovery.queueOffsets) this.queueTable(topic).set(queueId, next);
    worker.on('message', (message: WriterToMain) => this.onWriterMessage(message));
    worker.on('error', (error) => this.fence(new StoreError('E_WORKER_FAILED', `writer worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (this.state !== 'closed') this.fence(new StoreError('E_WORKER_FAILED', `writer worker exited with code ${code}`));
    });
    this.updateRef();
  }

  /**
   * Opens (creating if needed) the store at `storePathRootDir`, recovers it, and starts the
   * writer worker. Rejects with E_CONFIG_INVALID, E_STORE_DIR, E_STORE_LOCKED, E_STORE_CORRUPT
   * or E_STORE_IO.
   */
  static async open(options: MessageStoreOptions, internals: MessageStoreInternals = {}): Promise<MessageStore> {
    const config = await resolveConfig(options);
    const root = await prepareRootDir(config.storePathRootDir);
    const lock = await StoreLock.acquire(root);
    try {
      const ringSab = ringCreate(ringCapacityFor(config.maxMessageSize));
      const init: WriterInit = { config, ringSab, storage: internals.storage };
      // The worker must not inherit flags meant for the parent's entry script (--input-type, -e).
      const execArgv = workerExecArgv(process.execArgv);
      const worker = new Worker(new URL('./writer/writer_worker.js', import.meta.url), { workerData: init, execArgv });
      const recovery = await waitForReady(worker);
      const store = new MessageStore(config, worker, ringSab, lock, recovery);
      store.reportRecovery();
      return store;
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sends

  putMessage(msg: MessageInput): Promise<PutMessageResult> {
    return this.put(msg, false);
  }

  putMessages(batch: BatchInput): Promise<PutMessageResult> {
    return this.put(batch, true);
  }

  private put(input: MessageInput | BatchInput, batch: boolean): Promise<PutMessageResult> {
    if (this.state !== 'open') return Promise.resolve(this.unavailable());
    let prepared: PreparedPut | PutMessageStatus;
    try {
      prepared = batch ? this.preparer.prepareBatch(input as BatchInput) : this.preparer.prepareMessage(input as MessageInput);
    } catch (error) {
      return Promise.reject(error);
    }
    if (typeof prepared === 'string') return Promise.resolve(failedResult(prepared));
    const sequenced = prepared;
    return new Promise((resolve) => {
      if (this.parked.length === 0 && this.hasRoomFor(sequenced)) {
        this.sequence(sequenced, resolve);
      } else if (this.parkedBytes + sequenced.sizeBytes > this.ring.capacityBytes) {
        // Memory stays bounded under any load: at most one ring's worth of sends wait in line.
        resolve(failedResult(PutMessageStatus.OS_PAGE_CACHE_BUSY));
      } else {
        this.parkedBytes += sequenced.sizeBytes;
        // Keep a private copy: the caller may reuse its buffer while the send is parked, and the
        // bytes stored must be the bytes sent.
        for (const record of sequenced.records) record.body = Buffer.from(record.body);
        this.parked.push({ prepared: sequenced, resolve, deadlineMs: performance.now() + this.config.osPageCacheBusyTimeOutMills });
        this.parkExpiry.arm();
      }
      this.updateRef();
    });
  }

  private hasRoomFor(prepared: PreparedPut): boolean {
    return this.ring.freeBytes() >= prepared.sizeBytes + BLANK_RECORD_BYTES;
  }

  /**
   * The sequencer: closes the segment with a BLANK when the put does not fit, stamps queue and
   * physical offsets and the store time, copies the records into the ring and publishes them.
   */
  private sequence(prepared: PreparedPut, resolve: (result: PutMessageResult) => void): void {
    let physical = this.nextPhysicalOffset;
    const segmentEnd = physical - (physical % this.segmentSizeBytes) + this.segmentSizeBytes;
    if (physical + prepared.sizeBytes + BLANK_RECORD_BYTES > segmentEnd) {
      const blank = this.stage(BLANK_RECORD_BYTES);
      writeBlankRecord(this.scratch, blank, segmentEnd - physical);
      this.ring.write(this.scratch.subarray(blank, blank + BLANK_RECORD_BYTES));
      physical = segmentEnd;
    }
    if (this.minPhysicalOffset < 0) this.minPhysicalOffset = physical - (physical % this.segmentSizeBytes);
    const queues = this.queueTable(prepared.topic);
    const firstQueueOffset = prepared.takesOffsets ? queues.get(prepared.queueId) ?? 0 : 0;
    const storeTimestamp = Date.now();
    const start = this.stage(prepared.sizeBytes);
    let position = start;
    let msgId = '';
    for (let i = 0; i < prepared.records.length; i++) {
      const parts = prepared.records[i]!;
      parts.queueOffset = prepared.takesOffsets ? firstQueueOffset + i : 0;
      parts.physicalOffset = physical + (position - start);
      parts.storeTimestamp = storeTimestamp;
      msgId += (i === 0 ? '' : ',') + this.msgIdAt(parts.physicalOffset);
      position += writeRecord(this.scratch, position, parts, this.scratchView);
    }
    assert(position - start === prepared.sizeBytes, 'prepared size matches the encoded records');
    this.ring.write(this.scratch.subarray(start, position));
    this.schedulePublish();
    if (prepared.takesOffsets) queues.set(prepared.queueId, firstQueueOffset + prepared.records.length);
    this.nextPhysicalOffset = physical + prepared.sizeBytes;
    const result: PutMessageResult = {
      putMessageStatus: PutMessageStatus.PUT_OK,
      appendMessageResult: {
        wroteOffset: physical,
        wroteBytes: prepared.sizeBytes,
        msgId,
        storeTimestamp,
        logicsOffset: firstQueueOffset,
        msgNum: prepared.records.length,
        pagecacheRT: 0,
      },
      ok: true,
    };
    const waitFlush = this.config.flushDiskType === 'SYNC_FLUSH' && prepared.waitFlush;
    const deadlineMs = waitFlush ? performance.now() + this.config.syncFlushTimeout : 0;
    const pending: PendingPut = { endPhysicalOffset: this.nextPhysicalOffset, result, resolve, deadlineMs };
    if (waitFlush) {
      this.pendingFlush.push(pending);
      this.flushExpiry.arm();
    } else {
      this.pendingWrite.push(pending);
    }
  }

  /**
   * Publishes once per turn of the event loop rather than once per put: sends issued together
   * (a burst of resolutions re-sending at once) reach the writer as one group, and the writer is
   * woken (a futex syscall) once, not once per message.
   */
  private schedulePublish(): void {
    // A long burst publishes as it goes, so the writer works while this thread still encodes.
    // Not in SYNC_FLUSH: there a burst published in parts is split across two fsyncs, and the
    // senders of the second part wait a whole extra fsync.
    if (!this.syncFlush && this.ring.unpublishedBytes() >= PUBLISH_EARLY_BYTES) this.ring.publish();
    if (this.publishScheduled) return;
    this.publishScheduled = true;
    queueMicrotask(this.publishNow);
  }

  private readonly publishNow = (): void => {
    this.publishScheduled = false;
    this.ring.publish();
  };

  /** offsetMsgId without a Buffer round trip: store-host hex + 16 hex digits of the offset. */
  private msgIdAt(physicalOffset: number): string {
    const high = Math.floor(physicalOffset / 4294967296);
    const low = physicalOffset >>> 0;
    return (
      this.msgIdPrefix +
      HEX_BYTE[(high >>> 24) & 0xff]! + HEX_BYTE[(high >>> 16) & 0xff]! + HEX_BYTE[(high >>> 8) & 0xff]! + HEX_BYTE[high & 0xff]! +
      HEX_BYTE[low >>> 24]! + HEX_BYTE[(low >>> 16) & 0xff]! + HEX_BYTE[(low >>> 8) & 0xff]! + HEX_BYTE[low & 0xff]!
    );
  }

  /**
   * Returns a scratch position with the ring's alignment mod 8 for `sizeBytes` bytes: V8 copies
   * into shared memory word by word only when source and target agree on that alignment.
   */
  private stage(sizeBytes: number): number {
    const position = this.ring.writeAlignment();
    if (this.scratch.length < position + sizeBytes) {
      this.scratch = Buffer.allocUnsafe(position + sizeBytes + 64);
      this.scratchView = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
    }
    return position;
  }

  private queueTable(topic: string): Map<number, number> {
    let queues = this.queueOffsets.get(topic);
    if (queues === undefined) {
      queues = new Map();
      this.queueOffsets.set(topic, queues);
    }
    return queues;
  }

  // ------------------------------------------------------------------------------------------
  // Progress from the writer

  private onWriterMessage(message: WriterToMain): void {
    switch (message.type) {
      case 'PROGRESS':
        this.onProgress(message.progress);
        return;
      case 'REPLY': {
        const request = this.requests.get(message.requestId);
        if (request === undefined) return;
        this.requests.delete(message.requestId);
        if (message.error === null) request.resolve();
        else request.reject(errorFrom(message.error));
        this.updateRef();
        return;
      }
      case 'FATAL':
        this.fence(errorFrom(message.error));
        return;
      case 'READY':
        return;
      default:
        assertNever(message, 'unknown message from the writer');
    }
  }

  private onProgress(progress: WriterProgress): void {
    this.progress = progress;
    const rtMs = Math.round(progress.pagecacheRtMs);
    for (let head = this.pendingWrite.peek(); head !== undefined && head.endPhysicalOffset <= progress.acceptedWhere; head = this.pendingWrite.peek()) {
      this.pendingWrite.shift();
      head.result.appendMessageResult!.pagecacheRT = rtMs;
      head.resolve(head.result);
    }
    for (let head = this.pendingFlush.peek(); head !== undefined && head.endPhysicalOffset <= progress.flushedWhere; head = this.pendingFlush.peek()) {
      this.pendingFlush.shift();
      head.result.appendMessageResult!.pagecacheRT = rtMs;
      head.resolve(head.result);
    }
    this.unpark();
    this.updateRef();
  }

  /** Moves parked sends into the ring, in order, while they fit. */
  private unpark(): void {
    for (let head = this.parked.peek(); head !== undefined && this.hasRoomFor(head.prepared); head = this.parked.peek()) {
      this.parked.shift();
      this.parkedBytes -= head.prepared.sizeBytes;
      this.sequence(head.prepared, head.resolve);
      head.onLeave?.();
    }
    if (this.parked.length === 0) this.parkedBytes = 0;
  }

  /**
   * A write or fsync failed, or the worker died: nothing pending is acknowledged, and every
   * later put gets SERVICE_NOT_AVAILABLE with the error, until the store is reopened.
   */
  private fence(error: StoreError): void {
    if (this.failure !== null || this.state === 'closed') return;
    this.failure = error;
    if (this.state === 'open') this.state = 'failed';
    // RocketMQ's status for a segment that could not be created; any other failure is unknown.
    const status = error.operation === 'create-segment' ? PutMessageStatus.CREATE_MAPPED_FILE_FAILED : PutMessageStatus.UNKNOWN_ERROR;
    const failed = failedResult(status, error);
    for (const p of this.pendingWrite.drain()) p.resolve(failed);
    for (const p of this.pendingFlush.drain()) p.resolve(failed);
    for (const p of this.parked.drain()) {
      p.resolve(failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, error));
      p.onLeave?.();
    }
    this.parkedBytes = 0;
    for (const request of this.requests.values()) request.reject(error);
    this.requests.clear();
    this.updateRef();
  }

  private unavailable(): PutMessageResult {
    if (this.failure !== null) return failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, this.failure);
    return failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, new StoreError('E_STORE_CLOSED', 'the store is closed'));
  }

  /** Keeps the process alive only while something is in flight, like a socket would. */
  private updateRef(): void {
    const busy =
      this.pendingWrite.length + this.pendingFlush.length + this.parked.length + this.requests.size > 0 ||
      this.state === 'closing' ||
      // Transient pool: a put is acknowledged when staged; the process must live until it is written.
      (this.state === 'open' && this.progress.wroteWhere < this.nextPhysicalOffset);
    if (busy === this.workerRefed) return;
    this.workerRefed = busy;
    if (busy) this.worker.ref();
    else this.worker.unref();
  }

  private request(message: WriterRequest): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.requests.set(requestId, { resolve, reject });
      this.worker.postMessage({ ...message, requestId } as MainToWriter);
      this.updateRef();
    });
  }

  // ------------------------------------------------------------------------------------------
  // Positions, flush, config, close

  /** First CommitLog offset still stored, or -1 when the log holds no data (RocketMQ). */
  getMinPhyOffset(): number {
    return this.minPhysicalOffset;
  }

  /** End of the bytes written to the CommitLog files (readable). */
  getMaxPhyOffset(): number {
    return this.progress.wroteWhere;
  }

  /** End of the bytes known durable (fsynced). */
  getFlushedWhere(): number {
    return this.progress.flushedWhere;
  }

  /** Writer counters: fsyncs of CommitLog segments so far, and the last group's pwrite time. */
  getWriterStats(): { fsyncCount: number; pagecacheRtMs: number } {
    return { fsyncCount: this.progress.fsyncCount, pagecacheRtMs: this.progress.pagecacheRtMs };
  }

  /** What recovery found when this store was opened (cuts, removed files, timings). */
  getRecoveryReport(): RecoverySummary {
    return this.recovery;
  }

  /** Resolves once everything sent before the call is fsynced (parked sends included). */
  async flush(): Promise<void> {
    if (this.state === 'closed') throw new StoreError('E_STORE_CLOSED', 'the store is closed');
    const lastParked = this.parked.peekLast();
    if (lastParked !== undefined) {
      await new Promise<void>((resolve) => {
        const previous = lastParked.onLeave;
        lastParked.onLeave = () => {
          previous?.();
          resolve();
        };
      });
    }
    this.ring.publish(); // Sends of this tick are still unpublished (schedulePublish).
    await this.request({ type: 'FLUSH', targetPhysicalOffset: this.nextPhysicalOffset });
  }

  /** Changes runtime-tunable knobs on the live store (flush and commit policy, limits). */
  async updateConfig(partial: Partial<MessageStoreConfig>): Promise<void> {
    const checked = checkRuntimeUpdate(partial as Record<string, unknown>);
    if (checked.maxMessageSize !== undefined && 2 * recordBytesMax(checked.maxMessageSize) > this.ring.capacityBytes) {
      throw new StoreError('E_CONFIG_INVALID', `maxMessageSize ${checked.maxMessageSize} needs a larger write ring; reopen the store with it`);
    }
    if (this.state !== 'open') throw new StoreError('E_STORE_CLOSED', 'the store is not open');
    const previous = this.config;
    this.config = { ...this.config, ...checked };
    this.preparer.limits = { ...this.preparer.limits, maxMessageSize: this.config.maxMessageSize };
    // A shorter timeout applies to puts already waiting too; shifting every deadline by the same
    // amount keeps each queue in deadline order, which the expiry timers rely on.
    this.flushExpiry.shorten(previous.syncFlushTimeout - this.config.syncFlushTimeout);
    this.parkExpiry.shorten(previous.osPageCacheBusyTimeOutMills - this.config.osPageCacheBusyTimeOutMills);
    await this.request({ type: 'UPDATE_CONFIG', config: this.config });
  }

  getConfig(): Readonly<MessageStoreConfig> {
    return this.config;
  }

  /**
   * Stops accepting sends, writes and flushes everything already in the ring, then shuts the
   * writer down cleanly (checkpoint, queue offsets, no `abort` file). Sends still parked for room
   * in the ring resolve SERVICE_NOT_AVAILABLE (not stored). Safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const failed = this.state === 'failed';
    this.state = 'closing';
    for (const p of this.parked.drain()) {
      p.resolve(this.unavailable());
      p.onLeave?.();
    }
    this.parkedBytes = 0;
    this.ring.publish(); // Sends of this tick are accepted: the writer must see them before CLOSE.
    this.updateRef();
    try {
      if (!failed) {
        const queueOffsets: QueueOffsetEntry[] = [];
        for (const [topic, queues] of this.queueOffsets) {
          for (const [queueId, next] of queues) queueOffsets.push([topic, queueId, next]);
        }
        await this.request({ type: 'CLOSE', queueOffsets });
      }
    } finally {
      this.state = 'closed';
      this.flushExpiry.clear();
      this.parkExpiry.clear();
      const leftover = this.failure ?? new StoreError('E_STORE_CLOSED', 'the store closed before this put completed');
      for (const p of this.pendingWrite.drain()) p.resolve(failedResult(PutMessageStatus.UNKNOWN_ERROR, leftover));
      for (const p of this.pendingFlush.drain()) p.resolve(failedResult(PutMessageStatus.UNKNOWN_ERROR, leftover));
      for (const request of this.requests.values()) request.reject(leftover);
      this.requests.clear();
      await this.worker.terminate();
      for (const handle of this.readFiles.values()) await handle.then((h) => h.close(), () => undefined);
      this.readFiles.clear();
      this.lock.release();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Reads

  /**
   * The message whose record starts at `commitLogOffset`, or null when there is none (offset out
   * of range, not a record boundary, or the record fails its checks). `size` is the record size
   * if known (as in a ConsumeQueue unit); it must match the record.
   */
  async lookMessageByOffset(commitLogOffset: number, size?: number): Promise<MessageExt | null> {
    if (typeof commitLogOffset !== 'number' || !Number.isSafeInteger(commitLogOffset)) {
      throw new StoreError('E_INVALID_ARGUMENT', `commitLogOffset must be a safe integer, got ${String(commitLogOffset)}`);
    }
    if (size !== undefined && (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0)) {
      throw new StoreError('E_INVALID_ARGUMENT', `size must be a positive integer, got ${String(size)}`);
    }
    if (this.state === 'closed') throw new StoreError('E_STORE_CLOSED', 'the store is closed');
    const readableEnd = this.progress.wroteWhere;
    if (this.minPhysicalOffset < 0 || commitLogOffset < this.minPhysicalOffset || commitLogOffset + RECORD_FIXED_BYTES > readableEnd) {
      return null;
    }
    const segmentStart = commitLogOffset - (commitLogOffset % this.segmentSizeBytes);
    const segmentEnd = Math.min(segmentStart + this.segmentSizeBytes, readableEnd);
    const position = commitLogOffset - segmentStart;
    let totalSize = size;
    if (totalSize === undefined) {
      const header = await this.readSegment(segmentStart, position, 4);
      if (header === null) return null;
      totalSize = header.readInt32BE(0);
    }
    if (totalSize < RECORD_FIXED_BYTES || commitLogOffset + totalSize > segmentEnd) return null;
    const record = await this.readSegment(segmentStart, position, totalSize);
    if (record === null) return null;
    try {
      const message = decodeMessage(record, 0, true);
      return message.commitLogOffset === commitLogOffset && message.storeSize === totalSize ? message : null;
    } catch (error) {
      if (error instanceof StoreError && error.code === 'E_RECORD_INVALID') return null;
      throw error;
    }
  }

  /**
   * Reads `length` bytes of a segment, or null if the segment is gone or too short. Retries once
   * when the handle was closed under it (evicted from the handle cache by a concurrent read).
   */
  private async readSegment(segmentStart: number, position: number, length: number): Promise<Buffer | null> {
    for (let attempt = 0; ; attempt++) {
      const handle = await this.readFile(segmentStart);
      if (handle === null) return null;
      try {
        const out = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(out, 0, length, position);
        return bytesRead === length ? out : null;
      } catch (error) {
        if (attempt > 0) throw new StoreError('E_STORE_IO', `CommitLog read failed: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  /** A read handle for a segment; at most READ_FILES_MAX stay open (least recently used go). */
  private readFile(segmentStart: number): Promise<FileHandle | null> {
    let handle = this.readFiles.get(segmentStart);
    if (handle === undefined) {
      handle = openFile(path.join(this.config.storePathCommitLog, segmentName(segmentStart)), 'r');
      if (this.readFiles.size >= READ_FILES_MAX) {
        const [oldest, oldHandle] = this.readFiles.entries().next().value as [number, Promise<FileHandle>];
        this.readFiles.delete(oldest);
        oldHandle.then((h) => h.close(), () => undefined).catch(() => undefined);
      }
    } else {
      this.readFiles.delete(segmentStart); // Re-insert: Map order is the recency order.
    }
    this.readFiles.set(segmentStart, handle);
    return handle.catch((error: NodeJS.ErrnoException) => {
      this.readFiles.delete(segmentStart);
      if (error.code === 'ENOENT') return null;
      throw new StoreError('E_STORE_IO', `cannot read CommitLog segment: ${error.message}`, { cause: error });
    });
  }

  private reportRecovery(): void {
    for (const event of this.recovery.events) {
      if (!event.loud) continue;
      process.emitWarning(`mqstore recovery: ${event.kind} ${event.file} at CommitLog offset ${event.physicalOffset}: ${event.reason}`, {
        code: 'MQSTORE_RECOVERY',
      });
    }
  }
}

async function prepareRootDir(root: string): Promise<string> {
  try {
    const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (info !== null && !info.isDirectory()) {
      throw new StoreError('E_STORE_DIR', `storePathRootDir ${root} exists and is not a directory`);
    }
    await mkdir(root, { recursive: true, mode: 0o755 });
    return await realpath(root);
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError('E_STORE_DIR', `cannot use storePathRootDir ${root}: ${(error as Error).message}`, { cause: error });
  }
}

/** The parent's flags minus those only valid for an --eval entry (both `--x=v` and `--x v`). */
function workerExecArgv(parentArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < parentArgv.length; i++) {
    const arg = parentArgv[i]!;
    if (arg === '--input-type') {
      i++;
      continue;
    }
    if (!arg.startsWith('--input-type=')) out.push(arg);
  }
  return out;
}

function waitForReady(worker: Worker): Promise<RecoverySummary> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (message: WriterToMain): void => {
      if (message.type === 'READY') {
        cleanup();
        resolve(message.recovery);
      } else if (message.type === 'FATAL') {
        cleanup();
        void worker.terminate();
        reject(errorFrom(message.error));
      }
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new StoreError('E_WORKER_FAILED', `writer worker failed to start: ${error.message}`, { cause: error }));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new StoreError('E_WORKER_FAILED', `writer worker exited during start-up with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
