// DispatcherService: everything the dispatcher worker does, as a plain class (the worker file
// only wires it to its port). RocketMQ's ReputMessageService + FlushConsumeQueueService +
// derived-file recovery (reference 2c, 2d, 2e):
//
//   start():  load consume queues and index files ─► cut them to the CommitLog's end ─►
//             re-dispatch from the checkpoint's dispatchedPhyOffset ─► check every queue against
//             the writer's queue offset table, rebuild the ones that disagree ─► READY
//   run():    wait on the positions board ─► read records up to the visible end ─► consume
//             queue units + index keys ─► publish dispatchedWhere, post changed queue ranges;
//             every flushIntervalConsumeQueue: fdatasync, publish dispatchDurableWhere
//
// Visible end: flushedWhere in SYNC_FLUSH, wroteWhere in ASYNC_FLUSH (reference 2c, 5.x).
// The writer never waits for this class; it only reads the durable position from the board
// when it writes a checkpoint.

import path from 'node:path';
import type { MessageStoreConfig } from '../config.js';
import { ioError, serializeError, StoreError } from '../errors.js';
import { consumeQueueFileSizeBytes } from '../format/consume_queue_entry.js';
import type { Storage } from '../io/storage.js';
import { takesQueueOffset } from '../recovery/queue_offset_table.js';
import type { DerivedRecoveryReport, DispatcherInit, DispatcherToMain, MainToDispatcher, QueueRange } from '../shared/messages.js';
import { Positions } from '../shared/positions.js';
import { assertNever } from '../assert.js';
import { CommitLogTail, type DispatchRequest } from './commit_log_tail.js';
import { ConsumeQueueStore } from './consume_queue_store.js';
import { IndexService } from './index_service.js';
import { RecordChecker } from './record_checker.js';

/** Records read per round; a round ends with one commit of every touched file. */
const ROUND_RECORDS_MAX = 4096;
/** Consume queue file handles kept open (the rest of the 1024 default fd limit stays free). */
const CQ_OPEN_FILES_MAX = 256;
/** Longest idle wait: bounds how late a changed flush interval is noticed. */
const IDLE_WAIT_MS_MAX = 100;

export const CONSUME_QUEUE_DIR = 'consumequeue';
export const INDEX_DIR = 'index';
/**
 * The index files the dispatcher last knew of (JSON list of names), so a file deleted by hand
 * is noticed at the next open. Kept under config/: RocketMQ would try to load any file in index/.
 */
export const INDEX_MANIFEST_FILE = path.join('config', 'mqstoreIndexFiles.json');

function queueKey(topic: string, queueId: number): string {
  return `${queueId}\u0000${topic}`;
}

export class DispatcherService {
  private readonly storage: Storage;
  private config: MessageStoreConfig;
  private readonly positions: Positions;
  private readonly post: (message: DispatcherToMain) => void;
  private readonly cq: ConsumeQueueStore;
  private readonly index: IndexService | null;
  private readonly tail: CommitLogTail;
  private readonly syncFlush: boolean;
  private dispatchedWhere: number;
  private durableWhere: number;
  private lastStoreTimestamp = 0;
  /** The index manifest as last written (JSON), to write it again only when files changed. */
  private indexManifest = '';
  private durableStoreTimestamp = 0;
  private nextFlushMs: number;
  private stopping = false;
  /** The fsyncs of a flush, running on the thread pool while dispatch goes on. */
  private flushing: Promise<void> | null = null;
  private failed: StoreError | null = null;
  private readonly running: Promise<void>;

  private constructor(
    storage: Storage,
    config: MessageStoreConfig,
    positions: Positions,
    post: (message: DispatcherToMain) => void,
    files: { cq: ConsumeQueueStore; index: IndexService | null; tail: CommitLogTail; storeTimestamp: number },
  ) {
    this.storage = storage;
    this.config = config;
    this.positions = positions;
    this.post = post;
    this.cq = files.cq;
    this.index = files.index;
    this.tail = files.tail;
    this.syncFlush = config.flushDiskType === 'SYNC_FLUSH';
    this.dispatchedWhere = this.tail.position();
    this.durableWhere = this.dispatchedWhere;
    this.lastStoreTimestamp = files.storeTimestamp;
    this.durableStoreTimestamp = files.storeTimestamp;
    this.writeIndexManifest();
    this.nextFlushMs = performance.now() + config.flushIntervalConsumeQueue;
    this.publish();
    this.running = this.run().catch((error: unknown) => this.fail(error));
  }

  /** Stops dispatching for good and tells the main thread (which fences the store). */
  private fail(error: unknown): void {
    if (this.failed !== null) return;
    this.failed = error instanceof StoreError ? error : new StoreError('E_WORKER_FAILED', String(error));
    this.stopping = true;
    this.post({ type: 'FATAL', error: serializeError(this.failed) });
  }

  /** Recovers the derived files, catches up with the CommitLog, posts READY and starts tailing. */
  static start(storage: Storage, init: DispatcherInit, post: (message: DispatcherToMain) => void): DispatcherService {
    const { config, recovery } = init;
    const startedMs = performance.now();
    const positions = new Positions(init.positionsSab);
    const report: DerivedRecoveryReport = {
      consumeQueueCount: 0,
      consumeQueuesTrimmed: 0,
      consumeQueuesRebuilt: [],
      indexFileCount: 0,
      indexSlotsRepaired: 0,
      indexRebuilt: false,
      redispatchFromPhysicalOffset: recovery.endPhysicalOffset,
      redispatchedBytes: 0,
      events: [],
      durationMs: 0,
    };
    const end = recovery.endPhysicalOffset;
    const logMin = recovery.minPhysicalOffset < 0 ? end : recovery.minPhysicalOffset;

    const opened = openConsumeQueues(storage, config, report);
    const cq = opened.cq;
    if (opened.rebuilt) report.consumeQueuesRebuilt = recovery.queueOffsets.map(([topic, queueId]) => [topic, queueId]);
    const trimmedUnits = cq.truncateAfter(end);
    if (trimmedUnits > 0) report.events.push(`dropped ${trimmedUnits} consume queue units at or past the CommitLog end ${end}`);

    let index: IndexService | null = null;
    // Wiped consume queues or index files are rebuilt from the first message of the log.
    let rebuildFrom = opened.rebuilt ? logMin : Number.POSITIVE_INFINITY;
    if (config.messageIndexEnable) {
      const openedIndex = openIndex(storage, config, !recovery.lastExitOK, logMin < end, report);
      index = openedIndex.index;
      index.truncateAfter(end);
      if (openedIndex.rebuild) rebuildFrom = logMin;
    }

    // Re-dispatch from where the consume queues and index were last known durable. Both skip
    // what they already hold (consume queue: offset + size ≤ its max; index: offset < its end).
    const durable = recovery.dispatchedPhyOffset;
    let from = durable > 0 && durable >= logMin ? Math.min(durable, end) : logMin;
    from = Math.min(from, rebuildFrom);
    report.redispatchFromPhysicalOffset = from;
    report.redispatchedBytes = end - from;
    // A queue the CommitLog has messages for but no consume queue file at all (deleted by hand)
    // would be re-created by the re-dispatch below from `from` on only, with a filler head where
    // its older units were: such queues are rebuilt whole afterwards.
    const missing = new Map<string, [string, number]>();
    for (const [topic, queueId, next] of recovery.queueOffsets) {
      if (next > 0 && cq.maxQueueOffset(topic, queueId) === 0) missing.set(queueKey(topic, queueId), [topic, queueId]);
    }
    const tail = new CommitLogTail(storage, { commitLogDir: config.storePathCommitLog, segmentSizeBytes: config.mappedFileSizeCommitLog }, from);
    const gaps = new Map<string, [string, number]>();
    const apply = dispatcherOf(cq, index, null, gaps);
    const storeTimestamp = catchUp(tail, cq, end, apply);

    // Check every queue against the writer's table; rebuild the ones that disagree.
    const rebuild = queuesToRebuild(storage, config, cq, recovery.queueOffsets, logMin, report);
    for (const [key, queue] of gaps) {
      if (rebuild.has(key)) continue;
      report.events.push(`consume queue ${queue[0]}/${queue[1]} lost units below the durable dispatch position: rebuilding it`);
      rebuild.set(key, queue);
    }
    for (const [key, queue] of missing) {
      if (rebuild.has(key) || from <= logMin) continue; // Already rebuilt, or re-dispatched whole.
      report.events.push(`consume queue ${queue[0]}/${queue[1]} had no files: rebuilding it`);
      rebuild.set(key, queue);
    }
    if (rebuild.size > 0) {
      for (const key of rebuild.keys()) {
        const [topic, queueId] = rebuild.get(key)!;
        cq.deleteQueue(topic, queueId);
        report.consumeQueuesRebuilt.push([topic, queueId]);
      }
      const rebuildTail = new CommitLogTail(storage, { commitLogDir: config.storePathCommitLog, segmentSizeBytes: config.mappedFileSizeCommitLog }, logMin);
      try {
        catchUp(rebuildTail, cq, end, dispatcherOf(cq, null, new Set(rebuild.keys())));
      } finally {
        rebuildTail.close();
      }
      for (const [topic, queueId, next] of recovery.queueOffsets) {
        if (rebuild.has(queueKey(topic, queueId)) && cq.maxQueueOffset(topic, queueId) !== next) {
          throw new StoreError(
            'E_STORE_CORRUPT',
            `consume queue ${topic}/${queueId} rebuilt from the CommitLog ends at ${cq.maxQueueOffset(topic, queueId)}, expected ${next}`,
          );
        }
      }
    }
    // Units below the log's first offset (retention) are not readable: RocketMQ's
    // correctMinOffset at load, and the files wholly below go.
    cq.deleteExpiredFiles(logMin);
    if (from < end || rebuild.size > 0 || report.indexRebuilt || report.consumeQueuesTrimmed > 0) {
      cq.flush();
      index?.flush();
    }
    report.indexFileCount = index?.fileCount() ?? 0;
    report.consumeQueueCount = cq.queueCount();
    report.durationMs = performance.now() - startedMs;

    const service = new DispatcherService(storage, config, positions, post, { cq, index, tail, storeTimestamp });
    const queues = cq.takeChanged();
    // Every queue, not just the changed ones: the main thread starts with an empty table.
    const all = new Map<string, QueueRange>();
    for (const [topic, queueId] of cq.queues()) {
      all.set(queueKey(topic, queueId), {
        topic,
        queueId,
        minQueueOffset: cq.minQueueOffset(topic, queueId),
        maxQueueOffset: cq.maxQueueOffset(topic, queueId),
      });
    }
    for (const range of queues) all.set(queueKey(range.topic, range.queueId), range);
    post({ type: 'READY', dispatchedWhere: end, queues: [...all.values()], report });
    return service;
  }

  handle(message: MainToDispatcher): void {
    switch (message.type) {
      case 'QUERY_INDEX': {
        this.reply(message.requestId, () => {
          if (this.index === null) return { physicalOffsets: [], indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0 };
          return this.index.queryOffsets(message.topic, message.key, message.maxNum, message.beginMs, message.endMs);
        });
        return;
      }
      case 'DELETE_EXPIRED':
        this.reply(message.requestId, () => this.deleteExpired(message.minPhysicalOffset));
        return;
      case 'UPDATE_CONFIG':
        this.config = message.config;
        this.reply(message.requestId, () => undefined);
        return;
      case 'CLOSE':
        this.close(message.endPhysicalOffset).then(
          () => this.post({ type: 'REPLY', requestId: message.requestId, error: null }),
          (error: unknown) => this.post({ type: 'REPLY', requestId: message.requestId, error: serializeError(error) }),
        );
        return;
      default:
        assertNever(message, 'unknown message to the dispatcher');
    }
  }

  private reply(requestId: number, work: () => unknown): void {
    try {
      if (this.failed !== null) throw this.failed;
      const result = work();
      this.post({ type: 'REPLY', requestId, error: null, result });
    } catch (error) {
      this.post({ type: 'REPLY', requestId, error: serializeError(error) });
    }
  }

  /** The visible end of the CommitLog: flushed bytes in SYNC_FLUSH, written bytes otherwise. */
  private limit(): number {
    return this.syncFlush ? this.positions.flushedWhere() : this.positions.wroteWhere();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const seenSeq = this.positions.writerSeq();
      const progressed = this.round(this.limit());
      this.maybeFlush();
      if (progressed) {
        // Let requests from the main thread in between rounds.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const untilFlushMs = Math.max(1, this.nextFlushMs - performance.now());
      await this.positions.waitForWriter(seenSeq, Math.min(untilFlushMs, IDLE_WAIT_MS_MAX));
    }
  }

  /** One round: dispatches up to ROUND_RECORDS_MAX records below `limit`; false if none. */
  private round(limit: number): boolean {
    if (this.tail.position() >= limit) return false;
    const before = this.tail.position();
    const requests = this.tail.readUpTo(limit, ROUND_RECORDS_MAX);
    const apply = dispatcherOf(this.cq, this.index, null);
    for (const request of requests) apply(request);
    const last = requests[requests.length - 1];
    if (last !== undefined) this.lastStoreTimestamp = last.storeTimestamp;
    // Index slots and header are written at flush time only: one write per dirty 4 KiB page per
    // second instead of per round (queries read the index image in memory either way).
    this.cq.commit();
    const where = this.tail.position();
    if (where === before) return false;
    this.dispatchedWhere = where;
    this.publish();
    this.post({ type: 'DISPATCHED', dispatchedWhere: where, queues: this.cq.takeChanged() });
    return true;
  }

  private maybeFlush(): void {
    const nowMs = performance.now();
    if (nowMs < this.nextFlushMs || this.flushing !== null) return;
    this.nextFlushMs = nowMs + this.config.flushIntervalConsumeQueue;
    if (this.durableWhere === this.dispatchedWhere) return;
    this.flushing = this.flushDerived()
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.flushing = null;
      });
  }

  /**
   * Makes everything dispatched so far durable, then publishes the durable position (which the
   * writer puts into the checkpoint). Writes are committed here; the fsyncs run on the thread
   * pool through fresh descriptors, so dispatch is not held up by them (a consume queue file
   * may be evicted from the handle cache meanwhile).
   */
  private async flushDerived(): Promise<void> {
    const where = this.dispatchedWhere;
    const storeTimestamp = this.lastStoreTimestamp;
    const cq = this.cq.takeFlushTargets();
    const index = this.index?.takeFlushTargets() ?? { files: [], dirs: [] };
    for (const file of [...cq.files, ...index.files]) await fdatasyncByPath(this.storage, file);
    for (const dir of [...cq.dirs, ...index.dirs]) {
      try {
        this.storage.fsyncDir(dir);
      } catch (error) {
        throw ioError(`cannot fsync directory ${dir}`, error, 'fsync');
      }
    }
    this.writeIndexManifest();
    this.durableWhere = where;
    this.durableStoreTimestamp = storeTimestamp;
    this.publish();
  }

  /** Records the index file names (config/mqstoreIndexFiles.json) when they changed. */
  private writeIndexManifest(): void {
    if (this.index === null) return;
    const manifest = JSON.stringify(this.index.fileNames());
    if (manifest === this.indexManifest) return;
    const file = path.join(this.config.storePathRootDir, INDEX_MANIFEST_FILE);
    try {
      this.storage.mkdirp(path.dirname(file));
      this.storage.writeFileAtomic(file, Buffer.from(manifest));
    } catch (error) {
      throw ioError(`cannot write ${file}`, error, 'other');
    }
    this.indexManifest = manifest;
  }

  private publish(): void {
    this.positions.publishDispatcher({
      dispatchedWhere: this.dispatchedWhere,
      dispatchDurableWhere: this.durableWhere,
      logicsMsgTimestamp: this.durableStoreTimestamp,
      indexMsgTimestamp: this.index?.fullFileEndTimestamp() ?? 0,
    });
  }

  /** Retention: drops consume queue and index files wholly below the CommitLog's new minimum. */
  private deleteExpired(minPhysicalOffset: number): { consumeQueueFiles: number; indexFiles: number } {
    const consumeQueueFiles = this.cq.deleteExpiredFiles(minPhysicalOffset);
    const indexFiles = this.index?.deleteExpiredFiles(minPhysicalOffset) ?? 0;
    const queues = this.cq.takeChanged();
    if (queues.length > 0) this.post({ type: 'DISPATCHED', dispatchedWhere: this.dispatchedWhere, queues });
    return { consumeQueueFiles, indexFiles };
  }

  /** Dispatches everything below `endPhysicalOffset` (the drained CommitLog), flushes, closes. */
  private async close(endPhysicalOffset: number): Promise<void> {
    this.stopping = true;
    await this.running;
    await this.flushing;
    if (this.failed !== null) throw this.failed;
    while (this.round(endPhysicalOffset)) {
      // Catching up with the last writes before the CommitLog closed.
    }
    if (this.durableWhere !== this.dispatchedWhere) await this.flushDerived();
    this.tail.close();
    this.cq.close();
    this.index?.close();
  }
}

/** fdatasync of a file through a fresh descriptor, on the thread pool; a deleted file needs none. */
async function fdatasyncByPath(storage: Storage, file: string): Promise<void> {
  let handle;
  try {
    handle = storage.open(file, false);
  } catch (error) {
    if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return; // Deleted by retention since.
    throw ioError(`cannot open ${file} to fdatasync it`, error, 'fsync');
  }
  try {
    await storage.fdatasyncAsync(handle);
  } catch (error) {
    throw ioError(`cannot fdatasync ${file}`, error, 'fsync');
  } finally {
    storage.close(handle);
  }
}

/** Applies one record: its consume queue unit (NOT/COMMIT only) and its index keys. */
/**
 * Applies dispatch requests to the consume queues (all, or `onlyQueues`) and the index. With
 * `gaps`, a unit that would leave a hole in its queue is not put and the queue is noted there
 * (start-up: such queues are rebuilt from the CommitLog); without, a hole is a StoreError.
 */
function dispatcherOf(
  cq: ConsumeQueueStore,
  index: IndexService | null,
  onlyQueues: Set<string> | null,
  gaps?: Map<string, [string, number]>,
): (request: DispatchRequest) => void {
  return (request) => {
    const key = queueKey(request.topic, request.queueId);
    if (takesQueueOffset(request.sysFlag) && (onlyQueues === null || onlyQueues.has(key)) && gaps?.has(key) !== true) {
      const unit = { physicalOffset: request.physicalOffset, sizeBytes: request.sizeBytes, tagsCode: request.tagsCode };
      if (cq.put(request.topic, request.queueId, request.queueOffset, unit, gaps !== undefined) === 'gap') gaps!.set(key, [request.topic, request.queueId]);
    }
    if (index !== null) {
      index.buildIndex({
        topic: request.topic,
        keys: request.keys,
        uniqKey: request.uniqKey,
        physicalOffset: request.physicalOffset,
        storeTimestamp: request.storeTimestamp,
        sysFlag: request.sysFlag,
      });
    }
  };
}

/** Dispatches every record below `end`, committing every round; returns the last store time. */
function catchUp(tail: CommitLogTail, cq: ConsumeQueueStore, end: number, apply: (request: DispatchRequest) => void): number {
  let storeTimestamp = 0;
  while (tail.position() < end) {
    const before = tail.position();
    const requests = tail.readUpTo(end, ROUND_RECORDS_MAX);
    for (const request of requests) apply(request);
    cq.commit(); // Bounded memory: units are written every round, not all at the end.
    const last = requests[requests.length - 1];
    if (last !== undefined) storeTimestamp = last.storeTimestamp;
    if (tail.position() === before) {
      throw new StoreError('E_STORE_CORRUPT', `the CommitLog cannot be read past physical offset ${before} (recovered end ${end})`);
    }
  }
  return storeTimestamp;
}

/** The consume queues, loaded; `rebuilt` when they were unreadable and removed (rebuild all). */
function openConsumeQueues(storage: Storage, config: MessageStoreConfig, report: DerivedRecoveryReport): { cq: ConsumeQueueStore; rebuilt: boolean } {
  const rootDir = path.join(config.storePathRootDir, CONSUME_QUEUE_DIR);
  const options = { rootDir, fileSizeBytes: consumeQueueFileSizeBytes(config.mappedFileSizeConsumeQueue), openFilesMax: CQ_OPEN_FILES_MAX };
  let cq = new ConsumeQueueStore(storage, options);
  let rebuilt = false;
  try {
    const summary = cq.load();
    report.consumeQueuesTrimmed = summary.repairedQueueCount;
    if (summary.repairedQueueCount > 0) report.events.push(`cut the damaged tail of ${summary.repairedQueueCount} consume queue(s)`);
    for (const file of summary.emptyFilesRemoved) report.events.push(`removed the zero-length consume queue file ${file} (a crash while creating it)`);
  } catch (error) {
    if (!(error instanceof StoreError) || error.code !== 'E_STORE_CORRUPT') throw error;
    // A file with a wrong name or size: the layout cannot be trusted; rebuild every queue.
    report.events.push(`consume queues unreadable (${error.message}); rebuilding all of them from the CommitLog`);
    storage.removeTree(rootDir);
    cq = new ConsumeQueueStore(storage, options);
    cq.load();
    rebuilt = true;
  }
  storage.mkdirp(rootDir);
  return { cq, rebuilt };
}

function openIndex(
  storage: Storage,
  config: MessageStoreConfig,
  afterCrash: boolean,
  logHasData: boolean,
  report: DerivedRecoveryReport,
): { index: IndexService; rebuild: boolean } {
  const indexDir = path.join(config.storePathRootDir, INDEX_DIR);
  const options = { indexDir, hashSlotNum: config.maxHashSlotNum, indexNum: config.maxIndexNum };
  // The directory is created at first open, so its absence later means someone removed it.
  let rebuild = logHasData && !storage.exists(indexDir);
  let index = new IndexService(storage, options);
  try {
    const loaded = index.load({ afterCrash });
    report.indexSlotsRepaired = loaded.slotsRepaired;
    if (loaded.slotsRepaired > 0) report.events.push(`repaired ${loaded.slotsRepaired} index slot(s) left ahead of the header by a crash`);
    const present = new Set(index.fileNames());
    const missing = readIndexManifest(storage, config.storePathRootDir).filter((name) => !present.has(name));
    if (missing.length > 0 && !rebuild) {
      report.events.push(`index file(s) ${missing.join(', ')} missing; rebuilding the index from the CommitLog`);
      storage.removeTree(indexDir);
      index = new IndexService(storage, options);
      index.load({ afterCrash: false });
      rebuild = true;
    }
  } catch (error) {
    if (!(error instanceof StoreError) || error.code !== 'E_STORE_CORRUPT') throw error;
    report.events.push(`index files unreadable (${error.message}); rebuilding them from the CommitLog`);
    storage.removeTree(indexDir);
    index = new IndexService(storage, options);
    index.load({ afterCrash: false });
    rebuild = true;
  }
  if (rebuild) {
    report.indexRebuilt = true;
    if (!report.events.some((event) => event.startsWith('index file'))) report.events.push('index directory missing; rebuilding it from the CommitLog');
  }
  storage.mkdirp(indexDir);
  return { index, rebuild };
}

/** The index file names of the manifest; [] when there is none or it cannot be read. */
function readIndexManifest(storage: Storage, rootDir: string): string[] {
  const bytes = storage.readFile(path.join(rootDir, INDEX_MANIFEST_FILE));
  if (bytes === null) return [];
  try {
    const names: unknown = JSON.parse(bytes.toString('utf8'));
    return Array.isArray(names) ? names.filter((name): name is string => typeof name === 'string') : [];
  } catch {
    return []; // A torn manifest only loses the check, never data.
  }
}

/**
 * The queues whose consume queue disagrees with the CommitLog once caught up: a max offset
 * other than the writer's table says, or a last unit that does not point at that queue's
 * last message. Queues with files but no message in the live log are dropped when their last
 * unit points into the live log (they cannot be right).
 */
function queuesToRebuild(
  storage: Storage,
  config: MessageStoreConfig,
  cq: ConsumeQueueStore,
  queueOffsets: ReadonlyArray<readonly [string, number, number]>,
  logMin: number,
  report: DerivedRecoveryReport,
): Map<string, [string, number]> {
  const rebuild = new Map<string, [string, number]>();
  const expected = new Set<string>();
  const checker = new RecordChecker(storage, config.storePathCommitLog, config.mappedFileSizeCommitLog);
  try {
    for (const [topic, queueId, next] of queueOffsets) {
      const key = queueKey(topic, queueId);
      expected.add(key);
      const max = cq.maxQueueOffset(topic, queueId);
      if (max !== next) {
        report.events.push(`consume queue ${topic}/${queueId} ends at queue offset ${max}, the CommitLog holds ${next}: rebuilding it`);
        rebuild.set(key, [topic, queueId]);
        continue;
      }
      // The last unit must point at that queue's last message (unless retention removed it).
      const last = cq.lastUnit(topic, queueId);
      if (last === null || last.entry.physicalOffset < logMin) continue;
      const problem = checker.unitMismatch(last.entry.physicalOffset, last.entry.sizeBytes, topic, queueId, last.queueOffset, last.entry.tagsCode);
      if (problem !== null) {
        report.events.push(`consume queue ${topic}/${queueId}: unit ${last.queueOffset} ${problem}: rebuilding it`);
        rebuild.set(key, [topic, queueId]);
      }
    }
    for (const [topic, queueId] of cq.queues()) {
      const key = queueKey(topic, queueId);
      if (expected.has(key)) continue;
      const last = cq.lastUnit(topic, queueId);
      if (last !== null && last.entry.physicalOffset >= logMin) {
        report.events.push(`consume queue ${topic}/${queueId} points at CommitLog offset ${last.entry.physicalOffset}, where it has no message: rebuilding it`);
        rebuild.set(key, [topic, queueId]);
      }
    }
  } finally {
    checker.close();
  }
  return rebuild;
}
