// MessageStore: the main-thread facade. It validates sends, acts as the sequencer (assigns queue
// offsets and physical offsets, closes segments with BLANK records), copies record bytes into the
// write ring, and resolves each put when the writer worker reports that its bytes are written
// (ASYNC_FLUSH), staged (ASYNC_FLUSH with transientStorePoolEnable) or fsynced (SYNC_FLUSH). It
// never blocks its event loop: a full ring parks sends in a FIFO (at most one ring's worth) until
// the writer frees space or osPageCacheBusyTimeOutMills passes.
//
//   putMessage ─► PutPreparer ─► sequence() ─► ring ─► writer worker ─► PROGRESS ─► resolve
//                 (validate)     (offsets)      (SAB)   (pwritev/fsync)

import { stat, statfs, mkdir, realpath } from 'node:fs/promises';
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
import { describeValue, deserializeError, type SerializedError, StoreError } from './errors.js';
import {
  BLANK_RECORD_BYTES,
  type MessageExt,
  offsetHex,
  offsetMsgId,
  writeBlankRecord,
  writeRecord,
} from './format/commit_log_record.js';
import { encodeHostAddress } from './format/host_address.js';
import { ExpiryTimer, Fifo } from './fifo.js';
import type { StorageSpec } from './io/storage.js';
import { type BatchInput, isStringArray, type MessageInput, type PreparedPut, PutPreparer } from './put_request.js';
import type { QueueOffsetEntry } from './recovery/queue_offset_table.js';
import type {
  DerivedRecoveryReport,
  DispatcherInit,
  DispatcherToMain,
  MainToDispatcher,
  MainToWriter,
  QueueRange,
  RecoverySummary,
  WriterInit,
  WriterToMain,
} from './shared/messages.js';
import { Positions } from './shared/positions.js';
import { RequestChannel, type WithoutRequestId } from './shared/request_channel.js';
import { ringCreate } from './shared/ring_layout.js';
import { type BoundaryType, type GetMessageRequest, type IndexQueryAnswer, MessageReads } from './read/message_reads.js';
import { CleanService } from './retention/clean_service.js';
import { rocketmqTime } from './human_time.js';
import { StoreStats } from './stats/store_stats.js';
import { RingProducer } from './shared/ring_producer.js';
import {
  failedResult,
  type GetMessageResult,
  GetMessageStatus,
  PutMessageStatus,
  type PutMessageResult,
  type QueryMessageResult,
} from './status.js';
import { StoreLock } from './store_lock.js';
import type { WriterProgress } from './writer/group_commit.js';

/** Internal options, for tests and tools. */
export interface MessageStoreInternals {
  /** A fault-injecting storage for both workers. */
  storage?: StorageSpec;
  /** Replaces the disk usage probe (share of the disk in use, 0…1) of the clean-up service. */
  diskUsedRatio?: () => number | Promise<number>;
  /** Threads for a full recovery scan (default: by data size and cores; 1 = no thread pool). */
  recoveryScanThreads?: number;
  /** Length of a statistics window (RocketMQ: one minute), for tests of the [PAGECACHERT] cycle. */
  statsWindowMs?: number;
}

/** The store's ring: at least 16 MiB, at least 4 of the largest records, at most 1 GiB. */
const STORE_RING_BYTES_MIN = 16 * 1024 * 1024;
const STORE_RING_BYTES_MAX = 1024 * 1024 * 1024;
/** Unpublished ring bytes that make a burst of sends publish before its end. */
const PUBLISH_EARLY_BYTES = 64 * 1024;

interface PendingPut {
  endPhysicalOffset: number;
  result: PutMessageResult;
  resolve: (result: PutMessageResult) => void;
  /** performance.now() deadline for FLUSH_DISK_TIMEOUT (SYNC_FLUSH waits only). */
  deadlineMs: number;
  /** performance.now() when putMessage was called (runtime statistics). */
  startedMs: number;
}

interface ParkedPut {
  prepared: PreparedPut;
  resolve: (result: PutMessageResult) => void;
  deadlineMs: number;
  startedMs: number;
  /** Called when the send leaves the line (sequenced, expired or failed): flush() waits on it. */
  onLeave?: () => void;
}

/** getRuntimeInfo(): RocketMQ's brokerStatus names; numbers, except the distribution string. */
export interface RuntimeInfo {
  /** Messages stored per second (last 10 s). */
  putTps: number;
  /** getMessage calls that found messages, per second (last 10 s). */
  getFoundTps: number;
  getMissTps: number;
  getTotalTps: number;
  /** Messages returned by getMessage per second (last 10 s). */
  getTransferredTps: number;
  /** Longest put so far, call to acknowledgement (ms). */
  putMessageEntireTimeMax: number;
  getMessageEntireTimeMax: number;
  /** Messages stored (PUT_OK or FLUSH_DISK_TIMEOUT: stored, flush late). */
  putMessageTimesTotal: number;
  /** Sends refused or failed (any other status, or a thrown argument error). */
  putMessageFailedTimes: number;
  /** CommitLog bytes of the stored messages. */
  putMessageSizeTotal: number;
  putMessageAverageSize: number;
  /** This minute's puts in RocketMQ's buckets: `[<=0ms]:n [0~10ms]:n … [10s~]:n`. */
  putMessageDistributeTime: string;
  /** Put latency percentiles (ms), interpolated in RocketMQ's fine buckets. */
  putLatency99: number;
  putLatency999: number;
  /** CommitLog bytes not yet readable by queue offset or key. */
  dispatchBehindBytes: number;
  /** CommitLog bytes accepted but not yet fsynced (RocketMQ 5: rocketmq_storage_flush_behind_bytes). */
  flushBehindBytes: number;
  /** Accepted but not yet written to the files (in the write ring or staged). */
  remainHowManyDataToCommit: number;
  /** Written to the files but not yet fsynced. */
  remainHowManyDataToFlush: number;
  /** First CommitLog offset still stored (−1 when empty). */
  commitLogMinOffset: number;
  /** End of the CommitLog bytes written. */
  commitLogMaxOffset: number;
  /** Share of the disk in use at the last check (0…1; −1 before the first, about 1 s after open). */
  commitLogDiskRatio: number;
  /** How long the write in progress has been running (ms), 0 when the writer is not writing. */
  pageCacheLockTimeMills: number;
  /** fsyncs of CommitLog segments since open (mqstore's addition). */
  commitLogFsyncTimesTotal: number;
}

/** [STORETPS] / [PAGECACHERT] lines, formatted as in RocketMQ's store.log, on stderr. */
function logStatsLine(line: string): void {
  process.stderr.write(`${rocketmqTime(Date.now())} INFO StoreStatsService - ${line}\n`);
}

/** What recovery found and did when the store was opened: the CommitLog, then the derived files. */
export type RecoveryReport = RecoverySummary & { derived: DerivedRecoveryReport };

type State = 'open' | 'closing' | 'closed' | 'failed';
type WriterRequest = WithoutRequestId<MainToWriter>;
type DispatcherRequest = WithoutRequestId<MainToDispatcher>;

function ringCapacityFor(maxMessageSize: number): number {
  let capacity = STORE_RING_BYTES_MIN;
  while (capacity < 4 * recordBytesMax(maxMessageSize) && capacity < STORE_RING_BYTES_MAX) capacity *= 2;
  return capacity;
}


/** The two workers of an open store and what their start-up reported. */
interface StartedWorkers {
  writer: Worker;
  dispatcher: Worker;
  positions: Positions;
  recovery: RecoverySummary;
  derived: { dispatchedWhere: number; queues: QueueRange[]; report: DerivedRecoveryReport };
}

export class MessageStore {
  private config: MessageStoreConfig;
  private readonly worker: Worker;
  private readonly dispatcher: Worker;
  private readonly positions: Positions;
  /** Readable consume queue ranges, as the dispatcher reports them: topic → queueId → range. */
  private readonly queueRanges = new Map<string, Map<number, QueueRange>>();
  /**
   * How far the queue ranges above reach: the dispatch position of the last DISPATCHED message
   * applied here (the positions board runs ahead of it until the message arrives).
   */
  private dispatchedWhere: number;
  private readonly reads: MessageReads;
  private readonly derivedReport: DerivedRecoveryReport;
  private readonly clean: CleanService;
  private readonly stats: StoreStats;
  /** Set while the disk is above diskSpaceWarningLevelRatio: puts are refused with this reason. */
  private diskFull: string | null = null;
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
  private readonly writerChannel: RequestChannel<MainToWriter>;
  private readonly dispatcherChannel: RequestChannel<MainToDispatcher>;
  /** SYNC_FLUSH puts not fsynced by their deadline resolve FLUSH_DISK_TIMEOUT (still stored). */
  private readonly flushExpiry = new ExpiryTimer(this.pendingFlush, (p) => {
    p.result.putMessageStatus = PutMessageStatus.FLUSH_DISK_TIMEOUT;
    // Stored, only not flushed in time: RocketMQ counts it as a put, not as a failure.
    this.stats.recordPut(p.result.appendMessageResult!.msgNum, p.result.appendMessageResult!.wroteBytes, performance.now() - p.startedMs);
    p.resolve(p.result);
  }, () => this.updateRef());
  /** Sends parked on a full ring past osPageCacheBusyTimeOutMills resolve OS_PAGE_CACHE_BUSY. */
  private readonly parkExpiry = new ExpiryTimer(this.parked, (p) => {
    this.parkedBytes -= p.prepared.sizeBytes;
    this.stats.recordPutFailed();
    p.resolve(failedResult(PutMessageStatus.OS_PAGE_CACHE_BUSY));
    p.onLeave?.();
  }, () => this.updateRef());
  /** Bytes of the sends waiting in `parked`. */
  private parkedBytes = 0;
  private state: State = 'open';
  /** Why puts are refused: the first failure of either worker. */
  private failure: StoreError | null = null;
  /** The writer failed: nothing more can be written or flushed. */
  private writerFailure: StoreError | null = null;
  /** The dispatcher failed: reads by queue offset and key stop following the log. */
  private dispatcherFailure: StoreError | null = null;
  private closing: Promise<void> | null = null;
  private workerRefed = true;
  private dispatcherRefed = true;
  private publishScheduled = false;
  private readonly syncFlush: boolean;
  private readonly msgIdPrefix: string;

  private constructor(
    config: MessageStoreConfig,
    started: StartedWorkers,
    ringSab: SharedArrayBuffer,
    lock: StoreLock,
    internals: MessageStoreInternals,
  ) {
    const { writer: worker, recovery } = started;
    this.config = config;
    this.worker = worker;
    this.dispatcher = started.dispatcher;
    this.writerChannel = new RequestChannel(worker);
    this.dispatcherChannel = new RequestChannel(started.dispatcher);
    this.positions = started.positions;
    this.ring = new RingProducer(ringSab);
    this.lock = lock;
    this.recovery = recovery;
    this.derivedReport = started.derived.report;
    this.dispatchedWhere = started.derived.dispatchedWhere;
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
      appendRecordCrc: config.enabledAppendPropCRC,
    });
    this.scratch = Buffer.allocUnsafe(recordBytesMax(config.maxMessageSize) + 64);
    this.scratchView = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
    this.nextPhysicalOffset = recovery.endPhysicalOffset;
    this.minPhysicalOffset = recovery.minPhysicalOffset;
    const end = recovery.endPhysicalOffset;
    this.progress = { acceptedWhere: end, wroteWhere: end, flushedWhere: end, pagecacheRtMs: 0, fsyncCount: 0 };
    for (const [topic, queueId, next] of recovery.queueOffsets) this.queueTable(topic).set(queueId, next);
    // The consume queues also know queues whose messages all left the CommitLog (retention):
    // their offsets continue, they never restart at 0.
    for (const range of started.derived.queues) {
      const queues = this.queueTable(range.topic);
      queues.set(range.queueId, Math.max(queues.get(range.queueId) ?? 0, range.maxQueueOffset));
    }
    this.applyQueueRanges(started.derived.queues);
    const trustedFrom = recovery.fullScan && config.checkCRCOnRecover ? Math.max(0, recovery.minPhysicalOffset) : recovery.endPhysicalOffset;
    this.reads = new MessageReads({
      config: () => this.config,
      minPhysicalOffset: () => this.minPhysicalOffset,
      // The board can run ahead of PROGRESS: the dispatcher may report units whose records the
      // PROGRESS message has not announced yet.
      readableEnd: () => Math.max(this.progress.wroteWhere, this.positions.wroteWhere()),
      queueRange: (topic, queueId) => this.queueRanges.get(topic)?.get(queueId),
      dispatchedWhere: () => this.dispatchedWhere,
      // A full recovery scan checked every record's CRCs; otherwise only what this process writes.
      trustedFrom: () => trustedFrom,
      queryIndex: (topic, key, maxNum, beginMs, endMs) =>
        this.dispatcherRequest({ type: 'QUERY_INDEX', topic, key, maxNum, beginMs, endMs }) as Promise<IndexQueryAnswer>,
    });
    this.stats = new StoreStats({
      ...(internals.statsWindowMs !== undefined ? { windowMs: internals.statsWindowMs } : {}),
      log: config.pageCacheRtLogEnable ? logStatsLine : undefined,
    });
    this.stats.start();
    const probe = internals.diskUsedRatio;
    this.clean = new CleanService({
      config: () => this.config,
      diskUsedRatio: async () => (probe !== undefined ? probe() : diskUsedRatioOf([this.config.storePathCommitLog, this.config.storePathRootDir])),
      deleteSegments: async (options) => {
        const deleted = (await this.request({ type: 'DELETE_EXPIRED', ...options })) as { deletedCount: number; minPhysicalOffset: number };
        if (deleted.deletedCount > 0) {
          this.minPhysicalOffset = deleted.minPhysicalOffset;
        }
        return deleted;
      },
      deleteDerivedBelow: async (minPhysicalOffset) => {
        await this.dispatcherRequest({ type: 'DELETE_EXPIRED', minPhysicalOffset });
        this.reads.forgetDeletedFiles(minPhysicalOffset);
      },
      setDiskFull: (reason) => {
        this.diskFull = reason;
      },
    });
    this.clean.start();
    worker.on('message', (message: WriterToMain) => this.onWriterMessage(message));
    worker.on('error', (error) => this.fence(new StoreError('E_WORKER_FAILED', `writer worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (this.state !== 'closed') this.fence(new StoreError('E_WORKER_FAILED', `writer worker exited with code ${code}`));
    });
    const dispatcher = started.dispatcher;
    dispatcher.on('message', (message: DispatcherToMain) => this.onDispatcherMessage(message));
    dispatcher.on('error', (error) =>
      this.fenceDispatcher(new StoreError('E_WORKER_FAILED', `dispatcher worker failed: ${error.message}`, { cause: error })),
    );
    dispatcher.on('exit', (code) => {
      if (this.state !== 'closed') this.fenceDispatcher(new StoreError('E_WORKER_FAILED', `dispatcher worker exited with code ${code}`));
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
    const root = await prepareDir('storePathRootDir', config.storePathRootDir);
    // Checked here, not first in the writer: a bad CommitLog directory is the caller's mistake
    // (E_STORE_DIR), not a worker failure.
    await prepareDir('storePathCommitLog', config.storePathCommitLog);
    const lock = await StoreLock.acquire(root);
    const workers: Worker[] = [];
    try {
      const ringSab = ringCreate(ringCapacityFor(config.maxMessageSize));
      const positions = Positions.create();
      const init: WriterInit = {
        config,
        ringSab,
        positionsSab: positions.sab,
        storage: internals.storage,
        recoveryScanThreads: internals.recoveryScanThreads,
      };
      // The workers must not inherit flags meant for the parent's entry script (--input-type, -e).
      const execArgv = workerExecArgv(process.execArgv);
      const writer = startWorker(new URL('./writer/writer_worker.js', import.meta.url), init, execArgv);
      workers.push(writer);
      const recovery = await waitForReady(writer, 'writer', (m: WriterToMain) => (m.type === 'READY' ? m.recovery : undefined));
      // The dispatcher starts from the recovered CommitLog: it cuts, re-dispatches and checks
      // the consume queues and index before the store takes its first put.
      positions.publishDispatcher({
        dispatchedWhere: recovery.endPhysicalOffset,
        dispatchDurableWhere: recovery.dispatchedPhyOffset,
        logicsMsgTimestamp: 0,
        indexMsgTimestamp: 0,
      });
      const dispatcherInit: DispatcherInit = {
        config,
        positionsSab: positions.sab,
        storage: internals.storage,
        recovery: {
          lastExitOK: recovery.lastExitOK,
          minPhysicalOffset: recovery.minPhysicalOffset,
          endPhysicalOffset: recovery.endPhysicalOffset,
          dispatchedPhyOffset: recovery.dispatchedPhyOffset,
          queueOffsets: recovery.queueOffsets,
        },
      };
      const dispatcher = startWorker(new URL('./dispatcher/dispatcher_worker.js', import.meta.url), dispatcherInit, execArgv);
      workers.push(dispatcher);
      const derived = await waitForReady(dispatcher, 'dispatcher', (m: DispatcherToMain) =>
        m.type === 'READY' ? { dispatchedWhere: m.dispatchedWhere, queues: m.queues, report: m.report } : undefined,
      );
      const store = new MessageStore(config, { writer, dispatcher, positions, recovery, derived }, ringSab, lock, internals);
      store.reportRecovery();
      return store;
    } catch (error) {
      for (const worker of workers) await worker.terminate();
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
    const startedMs = performance.now();
    if (this.state !== 'open') return this.refused(this.unavailable());
    if (this.diskFull !== null) {
      return this.refused(failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, new StoreError('E_STORE_NO_SPACE', this.diskFull)));
    }
    let prepared: PreparedPut | PutMessageStatus;
    try {
      prepared = batch ? this.preparer.prepareBatch(input as BatchInput) : this.preparer.prepareMessage(input as MessageInput);
    } catch (error) {
      this.stats.recordPutFailed();
      return Promise.reject(error);
    }
    if (typeof prepared === 'string') return this.refused(failedResult(prepared));
    const sequenced = prepared;
    return new Promise((resolve) => {
      if (this.parked.length === 0 && this.hasRoomFor(sequenced)) {
        this.sequence(sequenced, resolve, startedMs);
      } else if (this.parkedBytes + sequenced.sizeBytes > this.ring.capacityBytes) {
        // Memory stays bounded under any load: at most one ring's worth of sends wait in line.
        this.stats.recordPutFailed();
        resolve(failedResult(PutMessageStatus.OS_PAGE_CACHE_BUSY));
      } else {
        this.parkedBytes += sequenced.sizeBytes;
        // Keep a private copy: the caller may reuse its buffer while the send is parked, and the
        // bytes stored must be the bytes sent.
        for (const record of sequenced.records) record.body = Buffer.from(record.body);
        this.parked.push({ prepared: sequenced, resolve, deadlineMs: startedMs + this.config.osPageCacheBusyTimeOutMills, startedMs });
        this.parkExpiry.arm();
      }
      this.updateRef();
    });
  }

  /** A put refused before it reached the ring (counted as RocketMQ's putMessageFailedTimes). */
  private refused(result: PutMessageResult): Promise<PutMessageResult> {
    this.stats.recordPutFailed();
    return Promise.resolve(result);
  }

  private hasRoomFor(prepared: PreparedPut): boolean {
    return this.ring.freeBytes() >= prepared.sizeBytes + BLANK_RECORD_BYTES;
  }

  /**
   * The sequencer: closes the segment with a BLANK when the put does not fit, stamps queue and
   * physical offsets and the store time, copies the records into the ring and publishes them.
   */
  private sequence(prepared: PreparedPut, resolve: (result: PutMessageResult) => void, startedMs: number): void {
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
    const pending: PendingPut = { endPhysicalOffset: this.nextPhysicalOffset, result, resolve, deadlineMs, startedMs };
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
    return this.msgIdPrefix + offsetHex(physicalOffset);
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
      case 'REPLY':
        if (this.writerChannel.settle(message)) this.updateRef();
        return;
      case 'FATAL':
        this.fence(deserializeError(message.error));
        return;
      case 'READY':
        return;
      default:
        assertNever(message, 'unknown message from the writer');
    }
  }

  private onDispatcherMessage(message: DispatcherToMain): void {
    switch (message.type) {
      case 'DISPATCHED':
        this.applyQueueRanges(message.queues);
        this.dispatchedWhere = Math.max(this.dispatchedWhere, message.dispatchedWhere);
        return;
      case 'REPLY':
        if (this.dispatcherChannel.settle(message)) this.updateRef();
        return;
      case 'FATAL':
        this.fenceDispatcher(deserializeError(message.error));
        return;
      case 'READY':
        return;
      default:
        assertNever(message, 'unknown message from the dispatcher');
    }
  }

  private applyQueueRanges(ranges: readonly QueueRange[]): void {
    for (const range of ranges) {
      let queues = this.queueRanges.get(range.topic);
      if (queues === undefined) {
        queues = new Map();
        this.queueRanges.set(range.topic, queues);
      }
      queues.set(range.queueId, range);
    }
  }

  private onProgress(progress: WriterProgress): void {
    this.progress = progress;
    const rtMs = Math.round(progress.pagecacheRtMs);
    const nowMs = performance.now();
    for (let head = this.pendingWrite.peek(); head !== undefined && head.endPhysicalOffset <= progress.acceptedWhere; head = this.pendingWrite.peek()) {
      this.pendingWrite.shift();
      this.acknowledge(head, rtMs, nowMs);
    }
    for (let head = this.pendingFlush.peek(); head !== undefined && head.endPhysicalOffset <= progress.flushedWhere; head = this.pendingFlush.peek()) {
      this.pendingFlush.shift();
      this.acknowledge(head, rtMs, nowMs);
    }
    this.unpark();
    this.updateRef();
  }

  private failPut(pending: { resolve: (result: PutMessageResult) => void }, result: PutMessageResult): void {
    this.stats.recordPutFailed();
    pending.resolve(result);
  }

  private acknowledge(pending: PendingPut, pagecacheRtMs: number, nowMs: number): void {
    const append = pending.result.appendMessageResult!;
    append.pagecacheRT = pagecacheRtMs;
    this.stats.recordPut(append.msgNum, append.wroteBytes, nowMs - pending.startedMs);
    pending.resolve(pending.result);
  }

  /** Moves parked sends into the ring, in order, while they fit. */
  private unpark(): void {
    for (let head = this.parked.peek(); head !== undefined && this.hasRoomFor(head.prepared); head = this.parked.peek()) {
      this.parked.shift();
      this.parkedBytes -= head.prepared.sizeBytes;
      this.sequence(head.prepared, head.resolve, head.startedMs);
      head.onLeave?.();
    }
    if (this.parked.length === 0) this.parkedBytes = 0;
  }

  /**
   * A write or fsync failed, or the worker died: nothing pending is acknowledged, and every
   * later put gets SERVICE_NOT_AVAILABLE with the error, until the store is reopened.
   */
  private fence(error: StoreError): void {
    if (this.writerFailure !== null || this.state === 'closed') return;
    this.writerFailure = error;
    this.failure = error;
    if (this.state === 'open') this.state = 'failed';
    // RocketMQ's status for a segment that could not be created; any other failure is unknown.
    const status = error.operation === 'create-segment' ? PutMessageStatus.CREATE_MAPPED_FILE_FAILED : PutMessageStatus.UNKNOWN_ERROR;
    const failed = failedResult(status, error);
    for (const p of this.pendingWrite.drain()) this.failPut(p, failed);
    for (const p of this.pendingFlush.drain()) this.failPut(p, failed);
    for (const p of this.parked.drain()) {
      this.failPut(p, failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, error));
      p.onLeave?.();
    }
    this.parkedBytes = 0;
    this.writerChannel.rejectAll(error);
    this.dispatcherChannel.rejectAll(error);
    this.updateRef();
  }

  /**
   * The dispatcher failed: the CommitLog is fine but consume queues and index can no longer
   * follow it. Like RocketMQ's "write logics queue error", new puts are refused until the store
   * is reopened; puts already in the ring are still written and acknowledged, and close() still
   * drains the writer, keeping `abort` so the next open re-dispatches.
   */
  private fenceDispatcher(error: StoreError): void {
    if (this.dispatcherFailure !== null || this.state === 'closed') return;
    this.dispatcherFailure = error;
    this.failure ??= error;
    if (this.state === 'open') this.state = 'failed';
    for (const p of this.parked.drain()) {
      this.failPut(p, failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, error));
      p.onLeave?.();
    }
    this.parkedBytes = 0;
    this.dispatcherChannel.rejectAll(error);
    this.updateRef();
  }

  private unavailable(): PutMessageResult {
    if (this.failure !== null) return failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, this.failure);
    return failedResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, new StoreError('E_STORE_CLOSED', 'the store is closed'));
  }

  /** Keeps the process alive only while something is in flight, like a socket would. */
  private updateRef(): void {
    const busy =
      this.pendingWrite.length + this.pendingFlush.length + this.parked.length + this.writerChannel.size > 0 ||
      this.state === 'closing' ||
      // Transient pool: a put is acknowledged when staged; the process must live until it is written.
      (this.state === 'open' && this.progress.wroteWhere < this.nextPhysicalOffset);
    if (busy !== this.workerRefed) {
      this.workerRefed = busy;
      if (busy) this.worker.ref();
      else this.worker.unref();
    }
    const dispatcherBusy = this.dispatcherChannel.size > 0 || this.state === 'closing';
    if (dispatcherBusy !== this.dispatcherRefed) {
      this.dispatcherRefed = dispatcherBusy;
      if (dispatcherBusy) this.dispatcher.ref();
      else this.dispatcher.unref();
    }
  }

  private request(message: WriterRequest): Promise<unknown> {
    if (this.writerFailure !== null) return Promise.reject(this.writerFailure);
    const reply = this.writerChannel.request(message);
    this.updateRef();
    return reply;
  }

  private dispatcherRequest(message: DispatcherRequest): Promise<unknown> {
    if (this.dispatcherFailure !== null) return Promise.reject(this.dispatcherFailure);
    const reply = this.dispatcherChannel.request(message);
    this.updateRef();
    return reply;
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

  /**
   * Runtime statistics under the names of RocketMQ's brokerStatus (`mqadmin brokerStatus`).
   * Rates are per second over the last 10 s; putLatency99/999 (ms) come from RocketMQ's fine
   * buckets over the last full minute (the current one while the store is younger);
   * putMessageDistributeTime counts the current minute in RocketMQ's buckets. Cheap: no I/O.
   */
  getRuntimeInfo(): RuntimeInfo {
    const stats = this.stats;
    const accepted = this.nextPhysicalOffset;
    const wrote = this.progress.wroteWhere;
    const flushed = this.progress.flushedWhere;
    const commitBeganAtMs = this.positions.commitBeganAtMs();
    const getFoundTps = stats.tps('getFound', 10);
    const getMissTps = stats.tps('getMiss', 10);
    return {
      putTps: stats.tps('putTimes', 10),
      getFoundTps,
      getMissTps,
      getTotalTps: getFoundTps + getMissTps,
      getTransferredTps: stats.tps('getTransferred', 10),
      putMessageEntireTimeMax: stats.putMessageEntireTimeMax,
      getMessageEntireTimeMax: stats.getMessageEntireTimeMax,
      putMessageTimesTotal: stats.putMessageTimesTotal,
      putMessageFailedTimes: stats.putMessageFailedTimes,
      putMessageSizeTotal: stats.putMessageSizeTotal,
      putMessageAverageSize: stats.putMessageTimesTotal === 0 ? 0 : stats.putMessageSizeTotal / stats.putMessageTimesTotal,
      putMessageDistributeTime: stats.putMessageDistributeTime(),
      putLatency99: stats.putLatencyPercentile(0.99),
      putLatency999: stats.putLatencyPercentile(0.999),
      dispatchBehindBytes: this.dispatchBehindBytes(),
      flushBehindBytes: Math.max(0, accepted - flushed),
      remainHowManyDataToCommit: Math.max(0, accepted - wrote),
      remainHowManyDataToFlush: Math.max(0, wrote - flushed),
      commitLogMinOffset: this.minPhysicalOffset,
      commitLogMaxOffset: wrote,
      commitLogDiskRatio: this.clean.lastDiskUsedRatio,
      pageCacheLockTimeMills: commitBeganAtMs === 0 ? 0 : Math.max(0, Date.now() - commitBeganAtMs),
      commitLogFsyncTimesTotal: this.progress.fsyncCount,
    };
  }

  /** What recovery found and did when this store was opened (cuts, removed and rebuilt files, timings). */
  getRecoveryReport(): RecoveryReport {
    return { ...this.recovery, derived: this.derivedReport };
  }

  /**
   * CommitLog bytes not yet readable through consume queues and the index: the visible end
   * (flushed in SYNC_FLUSH, written in ASYNC_FLUSH) minus the dispatch position this thread has
   * applied. 0 means every message stored so far can be read by queue offset and by key.
   */
  dispatchBehindBytes(): number {
    if (this.state === 'closed') return 0;
    const visibleEnd = this.syncFlush ? this.positions.flushedWhere() : this.positions.wroteWhere();
    return Math.max(0, visibleEnd - this.dispatchedWhere);
  }

  /**
   * RocketMQ executeDeleteFilesManually: deletes expired CommitLog segments now (whatever the
   * hour; fileReservedTime still applies, 0 = every segment but the active one), then the
   * consume queue and index files below the new minimum. Resolves when that run is done; the
   * next scheduled runs delete expired files too.
   */
  async deleteExpiredFilesManually(): Promise<void> {
    if (this.state !== 'open') throw new StoreError('E_STORE_CLOSED', 'the store is not open');
    await this.clean.runManually();
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
    this.preparer.limits = { ...this.preparer.limits, maxMessageSize: this.config.maxMessageSize, appendRecordCrc: this.config.enabledAppendPropCRC };
    // A shorter timeout applies to puts already waiting too; shifting every deadline by the same
    // amount keeps each queue in deadline order, which the expiry timers rely on.
    this.flushExpiry.shorten(previous.syncFlushTimeout - this.config.syncFlushTimeout);
    this.parkExpiry.shorten(previous.osPageCacheBusyTimeOutMills - this.config.osPageCacheBusyTimeOutMills);
    this.stats.setLog(this.config.pageCacheRtLogEnable ? logStatsLine : undefined);
    await this.request({ type: 'UPDATE_CONFIG', config: this.config });
    await this.dispatcherRequest({ type: 'UPDATE_CONFIG', config: this.config });
  }

  getConfig(): Readonly<MessageStoreConfig> {
    return this.config;
  }

  /**
   * Stops accepting sends, writes and flushes everything already in the ring, lets the
   * dispatcher catch up and flush, then shuts the writer down cleanly (checkpoint, queue
   * offsets, no `abort` file). Sends still parked for room in the ring resolve
   * SERVICE_NOT_AVAILABLE (not stored). Safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const writerFailed = this.writerFailure !== null;
    this.state = 'closing';
    this.stats.stop();
    await this.clean.stop();
    for (const p of this.parked.drain()) {
      this.failPut(p, this.unavailable());
      p.onLeave?.();
    }
    this.parkedBytes = 0;
    this.ring.publish(); // Sends of this tick are accepted: the writer must see them before CLOSE.
    this.updateRef();
    try {
      if (!writerFailed) {
        const queueOffsets: QueueOffsetEntry[] = [];
        for (const [topic, queues] of this.queueOffsets) {
          for (const [queueId, next] of queues) queueOffsets.push([topic, queueId, next]);
        }
        await this.request({ type: 'DRAIN' });
        // Only a dispatcher that caught up with the whole log lets the store close cleanly
        // (RocketMQ keeps `abort` while dispatchBehindBytes() > 0).
        let dispatched = this.dispatcherFailure === null;
        if (dispatched) {
          dispatched = await this.dispatcherRequest({ type: 'CLOSE', endPhysicalOffset: this.positions.wroteWhere() }).then(
            () => true,
            () => false,
          );
        }
        await this.request({ type: 'CLOSE', queueOffsets, keepAbort: !dispatched });
      }
    } finally {
      this.state = 'closed';
      this.flushExpiry.clear();
      this.parkExpiry.clear();
      const leftover = this.failure ?? new StoreError('E_STORE_CLOSED', 'the store closed before this put completed');
      for (const p of this.pendingWrite.drain()) this.failPut(p, failedResult(PutMessageStatus.UNKNOWN_ERROR, leftover));
      for (const p of this.pendingFlush.drain()) this.failPut(p, failedResult(PutMessageStatus.UNKNOWN_ERROR, leftover));
      this.writerChannel.rejectAll(leftover);
      this.dispatcherChannel.rejectAll(leftover);
      await this.worker.terminate();
      await this.dispatcher.terminate();
      await this.reads.close();
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
    checkInteger('commitLogOffset', commitLogOffset);
    if (size !== undefined) checkInteger('size', size, 1);
    this.checkReadable();
    return this.reads.lookMessageByOffset(commitLogOffset, size);
  }

  /**
   * Up to `maxMsgNums` messages of a queue from queue offset `offset` (RocketMQ getMessage):
   * status, the offset to ask for next, and the queue's range. `subscription.tags` filters by
   * tag (absent or containing '*' = all); RocketMQ's transfer limits apply (32 messages /
   * 256 KiB for data in memory, 8 / 64 KiB on disk).
   */
  async getMessage(request: GetMessageRequest): Promise<GetMessageResult> {
    if (request === null || typeof request !== 'object') throw invalidArgument('getMessage needs a request object');
    const { group, topic, queueId, offset, maxMsgNums, subscription } = request;
    if (typeof group !== 'string') throw invalidArgument(`group must be a string, got ${describe(group)}`);
    checkTopic(topic);
    checkInteger('queueId', queueId, 0, 2147483647);
    checkInteger('offset', offset);
    checkInteger('maxMsgNums', maxMsgNums, 1, 2147483647);
    if (subscription !== undefined) {
      if (subscription === null || typeof subscription !== 'object' || !isStringArray(subscription.tags)) {
        throw invalidArgument('subscription must be { tags: string[] }');
      }
    }
    this.checkReadable();
    const startedMs = performance.now();
    const result = await this.reads.getMessage({ group, topic, queueId, offset, maxMsgNums, subscription });
    this.stats.recordGet(result.status === GetMessageStatus.FOUND, result.messages.length, performance.now() - startedMs);
    return result;
  }

  /**
   * The queue's next offset: dispatched messages with `committed` (default), every accepted
   * message (dispatched or not) without. 0 for a queue never written.
   */
  getMaxOffsetInQueue(topic: string, queueId: number, committed = true): number {
    checkTopic(topic);
    checkInteger('queueId', queueId, 0, 2147483647);
    if (typeof committed !== 'boolean') throw invalidArgument(`committed must be a boolean, got ${describe(committed)}`);
    this.checkReadable();
    if (committed) return this.queueRanges.get(topic)?.get(queueId)?.maxQueueOffset ?? 0;
    return this.queueOffsets.get(topic)?.get(queueId) ?? 0;
  }

  /** The queue's first readable offset (moves up when retention deletes old segments). */
  getMinOffsetInQueue(topic: string, queueId: number): number {
    checkTopic(topic);
    checkInteger('queueId', queueId, 0, 2147483647);
    this.checkReadable();
    return this.queueRanges.get(topic)?.get(queueId)?.minQueueOffset ?? 0;
  }

  /**
   * RocketMQ 5.x getOffsetInQueueByTime: with 'LOWER' (default) the first offset stored at or
   * after `timestamp` (max when every message is older); with 'UPPER' the last offset stored at
   * or before it (min when every message is newer).
   */
  async getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary: BoundaryType = 'LOWER'): Promise<number> {
    checkTopic(topic);
    checkInteger('queueId', queueId, 0, 2147483647);
    checkInteger('timestamp', timestamp);
    if (boundary !== 'LOWER' && boundary !== 'UPPER') throw invalidArgument(`boundary must be 'LOWER' or 'UPPER', got ${describe(boundary)}`);
    this.checkReadable();
    return this.reads.getOffsetInQueueByTime(topic, queueId, timestamp, boundary);
  }

  /** Store time (ms) of the message at a queue offset, or −1 if there is none. */
  async getMessageStoreTimeStamp(topic: string, queueId: number, queueOffset: number): Promise<number> {
    checkTopic(topic);
    checkInteger('queueId', queueId, 0, 2147483647);
    checkInteger('queueOffset', queueOffset);
    this.checkReadable();
    return this.reads.getMessageStoreTimeStamp(topic, queueId, queueOffset);
  }

  /** Store time (ms) of the oldest message of the store, or of one queue; −1 if there is none. */
  async getEarliestMessageTime(topic?: string, queueId?: number): Promise<number> {
    if (topic !== undefined || queueId !== undefined) {
      checkTopic(topic);
      checkInteger('queueId', queueId, 0, 2147483647);
    }
    this.checkReadable();
    return this.reads.getEarliestMessageTime(topic, queueId);
  }

  /**
   * Messages of `topic` with `key` among their KEYS (or as UNIQ_KEY) stored in [begin, end] ms,
   * at most `maxNum` (RocketMQ queryMessage; a hash collision never returns a wrong message).
   */
  async queryMessage(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<QueryMessageResult> {
    checkTopic(topic);
    if (typeof key !== 'string' || key.length === 0) throw invalidArgument(`key must be a non-empty string, got ${describe(key)}`);
    checkInteger('maxNum', maxNum, 1, 2147483647);
    checkInteger('begin', begin);
    checkInteger('end', end);
    this.checkReadable();
    return this.reads.queryMessage(topic, key, maxNum, begin, end);
  }

  private checkReadable(): void {
    if (this.state === 'closed') throw new StoreError('E_STORE_CLOSED', 'the store is closed');
  }

  private reportRecovery(): void {
    for (const event of this.recovery.events) {
      if (!event.loud) continue;
      process.emitWarning(`mqstore recovery: ${event.kind} ${event.file} at CommitLog offset ${event.physicalOffset}: ${event.reason}`, {
        code: 'MQSTORE_RECOVERY',
      });
    }
    // Derived files rebuilt or cut are reported too: they cost time, and someone removed or
    // damaged them.
    for (const event of this.derivedReport.events) {
      process.emitWarning(`mqstore recovery: ${event}`, { code: 'MQSTORE_RECOVERY' });
    }
  }
}

/** The largest used share (0…1) of the filesystems holding `dirs`. */
async function diskUsedRatioOf(dirs: readonly string[]): Promise<number> {
  let ratio = 0;
  for (const dir of dirs) {
    const fs = await statfs(dir);
    if (fs.blocks > 0) ratio = Math.max(ratio, (fs.blocks - fs.bfree) / fs.blocks);
  }
  return ratio;
}

function invalidArgument(message: string): StoreError {
  return new StoreError('E_INVALID_ARGUMENT', message);
}

function describe(value: unknown): string {
  return describeValue(value);
}

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) throw invalidArgument(`topic must be a non-empty string, got ${describe(topic)}`);
}

function checkInteger(name: string, value: unknown, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
}

/** Creates the directory `dir` (config key `key`) if needed; its real path. Rejects E_STORE_DIR. */
async function prepareDir(key: string, dir: string): Promise<string> {
  try {
    const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (info !== null && !info.isDirectory()) {
      throw new StoreError('E_STORE_DIR', `${key} ${dir} exists and is not a directory`);
    }
    if (info === null) await mkdirParents(dir, DIR_DEPTH_MAX);
    return await realpath(dir);
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError('E_STORE_DIR', `cannot use ${key} ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

/** More path levels than any real store directory has (PATH_MAX is 4096 bytes). */
const DIR_DEPTH_MAX = 2048;

/**
 * mkdir -p with a bound. Node 20's fs.mkdir({ recursive: true }) loops forever when mkdir keeps
 * failing with ENOENT although the parent exists (a path under /proc/self, some FUSE mounts):
 * the open would hang instead of failing. Here each level is tried once after its parent.
 */
async function mkdirParents(dir: string, depthLeft: number): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o755 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir || depthLeft === 0) throw error;
    await mkdirParents(parent, depthLeft - 1);
    await mkdir(dir, { mode: 0o755 }).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}

/**
 * The flags for the workers: undefined (inherit the parent's, Node's default) unless the parent
 * was started with --input-type, which a worker rejects; then the parent's flags without it.
 */
function workerExecArgv(parentArgv: readonly string[]): string[] | undefined {
  if (!parentArgv.some((arg) => arg === '--input-type' || arg.startsWith('--input-type='))) return undefined;
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

/**
 * Starts a worker; when the flags handed to it are refused (a per-process flag such as
 * --max-old-space-size next to --input-type), starts it with none.
 */
function startWorker(url: URL, workerData: unknown, execArgv: string[] | undefined): Worker {
  try {
    return new Worker(url, { workerData, execArgv });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(url, { workerData, execArgv: [] });
  }
}

/**
 * Resolves with what `ready` extracts from the worker's READY message; rejects on FATAL, on an
 * error or on exit during start-up.
 */
function waitForReady<T, M extends { type: string }>(
  worker: Worker,
  name: string,
  ready: (message: M) => T | undefined,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (message: M): void => {
      const value = ready(message);
      if (value !== undefined) {
        cleanup();
        resolve(value);
      } else if (message.type === 'FATAL') {
        cleanup();
        void worker.terminate();
        reject(deserializeError((message as unknown as { error: SerializedError }).error));
      }
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new StoreError('E_WORKER_FAILED', `${name} worker failed to start: ${error.message}`, { cause: error }));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new StoreError('E_WORKER_FAILED', `${name} worker exited during start-up with code ${code}`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
