// WriterService: everything the writer worker does, as a plain class (the worker file only
// wires it to its ports). Start-up runs recovery, marks the store as running (`abort` file),
// and starts the GroupCommitter; shutdown drains, flushes, writes the checkpoint and the queue
// offset snapshot, and removes `abort` last, so only a complete shutdown counts as clean.

import path from 'node:path';
import type { MessageStoreConfig } from '../config.js';
import type { Checkpoint } from '../format/checkpoint.js';
import type { QueueOffsetEntry } from '../recovery/queue_offset_table.js';
import { ioError, serializeError, StoreError } from '../errors.js';
import type { Storage } from '../io/storage.js';
import { encodeQueueOffsetSnapshot, QUEUE_OFFSETS_FILE } from '../recovery/queue_offset_table.js';
import { probeReadRate, scanSegmentsInParallel, scanThreadsFor } from '../recovery/parallel_scan.js';
import { ABORT_FILE_NAME, Recovery } from '../recovery/recovery.js';
import type { MainToWriter, RecoverySummary, WriterInit, WriterToMain } from '../shared/messages.js';
import { Positions } from '../shared/positions.js';
import { RingConsumer } from '../shared/ring_consumer.js';
import { RING_STATE_FAILED } from '../shared/ring_layout.js';
import { assertNever } from '../assert.js';
import { CheckpointFile } from './checkpoint_file.js';
import { CommitLogFiles } from './commit_log_files.js';
import { flushSettingsFrom } from './flush_policy.js';
import { GroupCommitter } from './group_commit.js';

export class WriterService {
  private readonly storage: Storage;
  private readonly rootDir: string;
  private readonly post: (message: WriterToMain) => void;
  private readonly ring: RingConsumer;
  private readonly files: CommitLogFiles;
  private readonly checkpoint: CheckpointFile;
  private readonly committer: GroupCommitter;
  private readonly running: Promise<void>;
  private readonly positions: Positions;
  private failed: StoreError | null = null;
  private drained: Promise<void> | null = null;
  private closed = false;

  private constructor(
    storage: Storage,
    config: MessageStoreConfig,
    ringSab: SharedArrayBuffer,
    positions: Positions,
    post: (message: WriterToMain) => void,
    recovery: RecoverySummary & { checkpoint: Checkpoint },
  ) {
    this.storage = storage;
    this.positions = positions;
    this.rootDir = config.storePathRootDir;
    this.post = post;
    this.ring = new RingConsumer(ringSab);
    this.files = new CommitLogFiles(storage, config.storePathCommitLog, config.mappedFileSizeCommitLog);
    this.checkpoint = new CheckpointFile(storage, this.rootDir);
    this.checkpoint.writeSync(recovery.checkpoint);
    const end = recovery.endPhysicalOffset;
    const fresh = end % config.mappedFileSizeCommitLog === 0;
    if (config.warmMapedFileEnable && fresh) this.files.warmSync(end, config.flushLeastPagesWhenWarmMapedFile);
    this.files.segmentFor(end, end);
    this.files.preallocateNext(end);
    this.committer = new GroupCommitter({
      ring: this.ring,
      files: this.files,
      checkpoint: this.checkpoint,
      settings: flushSettingsFrom(config),
      endPhysicalOffset: end,
      baseCheckpoint: recovery.checkpoint,
      onProgress: (progress) => {
        positions.publishWriter(progress);
        post({ type: 'PROGRESS', progress });
      },
      warmStorage: config.warmMapedFileEnable ? storage : undefined,
      dispatcherPositions: () => positions.dispatcher(),
      onCommitBusy: (beganAtMs) => positions.publishCommitBusy(beganAtMs),
      appendRecordCrc: config.enabledAppendPropCRC,
    });
    this.running = this.committer.run().catch((error: unknown) => {
      this.failed = error instanceof StoreError ? error : new StoreError('E_WORKER_FAILED', String(error));
      this.ring.stateAdvance(RING_STATE_FAILED);
      post({ type: 'FATAL', error: serializeError(this.failed) });
    });
  }

  /**
   * Recovers the store and starts writing; posts READY with what recovery found. A full scan
   * of several segments runs on a piscina pool first (./../recovery/parallel_scan.ts).
   */
  static async start(storage: Storage, init: WriterInit, post: (message: WriterToMain) => void): Promise<WriterService> {
    const startedMs = performance.now();
    const { config, ringSab, positionsSab } = init;
    const recoverer = new Recovery(storage, {
      rootDir: config.storePathRootDir,
      commitLogDir: config.storePathCommitLog,
      segmentSizeBytes: config.mappedFileSizeCommitLog,
      checkCrc: config.checkCRCOnRecover,
      requireRecordCrc: config.forceVerifyPropCRC,
    });
    const scan = {
      segments: recoverer.segmentsToScan(),
      segmentSizeBytes: config.mappedFileSizeCommitLog,
      verifyCrc: config.checkCRCOnRecover,
      requireRecordCrc: config.forceVerifyPropCRC,
      storage: init.storage,
      threads: init.recoveryScanThreads,
    };
    const first = scan.segments[0];
    const threads = scanThreadsFor(scan, first === undefined ? undefined : () => probeReadRate(storage, first.path));
    const prescanned = threads > 1 ? await scanSegmentsInParallel(scan, threads) : undefined;
    const recovery = recoverer.run(prescanned);
    const abortFile = path.join(config.storePathRootDir, ABORT_FILE_NAME);
    try {
      storage.writeFileAtomic(abortFile, Buffer.from(String(process.pid)));
    } catch (error) {
      throw ioError(`cannot create ${abortFile}`, error);
    }
    const summary: RecoverySummary = {
      lastExitOK: recovery.lastExitOK,
      mode: recovery.mode,
      fullScan: recovery.fullScan,
      minPhysicalOffset: recovery.minPhysicalOffset,
      endPhysicalOffset: recovery.endPhysicalOffset,
      queueOffsets: recovery.queueOffsets,
      events: recovery.events,
      scannedBytes: recovery.scannedBytes,
      durationMs: performance.now() - startedMs,
      scanThreads: threads,
      dispatchedPhyOffset: Math.min(recovery.checkpoint.dispatchedPhyOffset, recovery.endPhysicalOffset),
    };
    const positions = new Positions(positionsSab);
    positions.publishWriter({ wroteWhere: summary.endPhysicalOffset, flushedWhere: summary.endPhysicalOffset });
    const service = new WriterService(storage, config, ringSab, positions, post, { ...summary, checkpoint: recovery.checkpoint });
    post({ type: 'READY', recovery: summary });
    return service;
  }

  handle(message: MainToWriter): void {
    switch (message.type) {
      case 'FLUSH':
        this.replyWhen(message.requestId, this.flush(message.targetPhysicalOffset));
        return;
      case 'UPDATE_CONFIG':
        this.committer.updateSettings(flushSettingsFrom(message.config));
        this.post({ type: 'REPLY', requestId: message.requestId, error: null });
        return;
      case 'DRAIN':
        this.replyWhen(message.requestId, this.drain());
        return;
      case 'DELETE_EXPIRED': {
        // Never the segment being written nor the preallocated one after it, nor one the
        // dispatcher has not read yet (its consume queues would get a gap).
        const activePhysicalOffset = Math.min(this.committer.progress().acceptedWhere, this.positions.dispatchedWhere());
        this.replyWhen(message.requestId, this.files.deleteExpired({ ...message, activePhysicalOffset }));
        return;
      }
      case 'CLOSE':
        this.replyWhen(message.requestId, this.close(message.queueOffsets, message.keepAbort));
        return;
      default:
        assertNever(message, 'unknown message to the writer');
    }
  }

  private async flush(targetPhysicalOffset: number): Promise<void> {
    if (this.failed !== null) throw this.failed;
    await Promise.race([this.committer.flush(targetPhysicalOffset), this.running]);
    if (this.failed !== null) throw this.failed;
  }

  /** Writes and flushes everything in the ring, then stops taking new bytes. */
  private drain(): Promise<void> {
    this.drained ??= (async () => {
      this.committer.close();
      await this.running;
      await this.checkpoint.settle().catch(() => undefined);
      if (this.failed !== null) throw this.failed;
    })();
    return this.drained;
  }

  /**
   * Shuts down after drain() (run here if it was not requested) and after the dispatcher has
   * caught up: a final checkpoint with the dispatcher's durable position, the queue offset
   * snapshot, and the `abort` file removed last.
   */
  private async close(queueOffsets: QueueOffsetEntry[], keepAbort: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.drain().catch(() => undefined);
    if (this.failed === null) {
      this.checkpoint.writeSync(this.committer.currentCheckpoint());
      const end = this.committer.progress().flushedWhere;
      this.storage.mkdirp(path.join(this.rootDir, 'config'));
      this.storage.writeFileAtomic(path.join(this.rootDir, QUEUE_OFFSETS_FILE), encodeQueueOffsetSnapshot(end, queueOffsets));
    }
    this.files.closeAll();
    this.checkpoint.close();
    // A store that failed keeps its `abort` file: the next open recovers abnormally (also when
    // only the dispatcher failed: its files are then re-dispatched).
    if (this.failed === null && !keepAbort) {
      this.storage.unlink(path.join(this.rootDir, ABORT_FILE_NAME));
      this.storage.fsyncDir(this.rootDir);
    }
  }

  private replyWhen(requestId: number, work: Promise<unknown>): void {
    work.then(
      (result) => this.post({ type: 'REPLY', requestId, error: null, result }),
      (error: unknown) => this.post({ type: 'REPLY', requestId, error: serializeError(error) }),
    );
  }
}
