// GroupCommitter: drains the write ring into the CommitLog and makes it durable per policy.
//
//   ring:  [ staged (walked, acknowledged in transient-pool mode) | new bytes ... ]
//           ^ read position                  ^ stagedRingBytes
//   stage():  walk new records, check each one, group them into runs of contiguous file bytes
//   commit(): pwritev each run straight from the shared memory, then release it
//   flush():  fdatasync the dirty segments on the thread pool while the next group is written
//
// The main thread is the sequencer: it assigns physical offsets, writes BLANK records at segment
// ends and never lets a record or batch straddle a segment. This class checks all of that
// before any byte reaches a file (a record whose PHYSICALOFFSET is not where it lands is a bug).

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { assert } from '../assert.js';
import { StoreError } from '../errors.js';
import type { Checkpoint } from '../format/checkpoint.js';
import {
  BLANK_RECORD_BYTES,
  MAGIC_BLANK,
  POS_BODYCRC,
  MAGIC_V1,
  MAGIC_V2,
  bodyLengthPosition,
  POS_PHYSICALOFFSET,
  POS_SYSFLAG,
  RECORD_FIXED_BYTES,
  storeTimestampPosition,
} from '../format/commit_log_record.js';
import { CRC32_RESERVED_BYTES, isCrcReserve, writeCrcDigits } from '../format/record_crc.js';
import type { RingConsumer } from '../shared/ring_consumer.js';
import type { CheckpointFile } from './checkpoint_file.js';
import type { CommitLogFiles } from './commit_log_files.js';
import { enoughPages, type FlushSettings, PeriodicRounds } from './flush_policy.js';
import { SegmentWarmer } from './segment_warmer.js';
import type { Storage } from '../io/storage.js';
import type { DispatcherPositions } from '../shared/positions.js';

/** Largest single pwritev: big enough to amortise the syscall, small enough to ack early. */
export const WRITE_GROUP_BYTES_MAX = 256 * 1024;
/** How often the checkpoint is rewritten while positions move (RocketMQ: every second). */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** Longest idle wait; bounds how late a changed setting or a stuck flush is noticed. */
const IDLE_WAIT_MS_MAX = 100;
/** The single pending ring wait is renewed this often even with nothing to do. */
const RING_WAIT_MS = 1000;
/** How long the writer keeps polling the ring after the last new bytes before it sleeps. */
const LINGER_MS = 0.5;
const TWO_POW_32 = 4294967296;

export interface WriterProgress {
  /** Bytes a put may be acknowledged for without a flush (staged or written). */
  acceptedWhere: number;
  /** Bytes in the file, readable (RocketMQ's max physical offset). */
  wroteWhere: number;
  /** Bytes known durable. */
  flushedWhere: number;
  /** ms spent in pwritev for the last group (AppendMessageResult.pagecacheRT). */
  pagecacheRtMs: number;
  fsyncCount: number;
}

interface Run {
  physicalOffset: number;
  lengthBytes: number;
  /** Where the log continues after this run: the segment end when it closes with a BLANK. */
  endPhysicalOffset: number;
}

interface FlushWaiter {
  targetPhysicalOffset: number;
  resolve: () => void;
}

export interface GroupCommitterOptions {
  ring: RingConsumer;
  files: CommitLogFiles;
  checkpoint: CheckpointFile;
  settings: FlushSettings;
  /** Where the recovered log ends; the main thread continues from here. */
  endPhysicalOffset: number;
  baseCheckpoint: Checkpoint;
  onProgress: (progress: WriterProgress) => void;
  now?: () => number;
  /** Set to keep zero-filled blocks ahead of the writer (warmMapedFileEnable). */
  warmStorage?: Storage | undefined;
  /** enabledAppendPropCRC: records end with the appended CRC reserve, which the writer fills. */
  appendRecordCrc?: boolean;
  /** Told (epoch ms) when a write to the files begins and (0) when it ends: pageCacheLockTimeMills. */
  onCommitBusy?: (beganAtMs: number) => void;
  /** The dispatcher's durable progress, written into every checkpoint (positions board). */
  dispatcherPositions?: (() => DispatcherPositions) | undefined;
}

export class GroupCommitter {
  settings: FlushSettings;
  private readonly ring: RingConsumer;
  private readonly files: CommitLogFiles;
  private readonly checkpointFile: CheckpointFile;
  private readonly onProgress: (progress: WriterProgress) => void;
  private readonly dispatcherPositions: (() => DispatcherPositions) | undefined;
  private readonly onCommitBusy: ((beganAtMs: number) => void) | undefined;
  private readonly appendRecordCrc: boolean;
  private readonly now: () => number;
  private readonly runs: Run[] = [];
  private stagedRingBytes = 0;
  private stagedWhere: number;
  private wroteWhere: number;
  private flushedWhere: number;
  private lastStoreTimestamp = 0;
  private flushedStoreTimestamp = 0;
  private pagecacheRtMs = 0;
  private fsyncCount = 0;
  /** Scratch for a record's last 20 bytes (the appended CRC). */
  private readonly crcTail = Buffer.alloc(CRC32_RESERVED_BYTES);
  private flushing: Promise<void> | null = null;
  private readonly flushRounds: PeriodicRounds;
  private readonly commitRounds: PeriodicRounds;
  private nextCheckpointMs: number;
  private checkpoint: Checkpoint;
  private readonly flushWaiters: FlushWaiter[] = [];
  private progressDirty = true;
  private closing = false;
  private failure: StoreError | null = null;
  private wake: (() => void) | null = null;
  private dataWait: Promise<boolean> | null = null;
  private readonly warmer: SegmentWarmer | null;
  private lastNewBytesMs = 0;
  /** The last commit stopped at a run that reaches into a zero-fill burst still in flight. */
  private heldByWarmer = false;

  constructor(options: GroupCommitterOptions) {
    this.ring = options.ring;
    this.files = options.files;
    this.checkpointFile = options.checkpoint;
    this.settings = options.settings;
    this.onProgress = options.onProgress;
    this.dispatcherPositions = options.dispatcherPositions;
    this.onCommitBusy = options.onCommitBusy;
    this.appendRecordCrc = options.appendRecordCrc === true;
    this.now = options.now ?? (() => performance.now());
    this.stagedWhere = options.endPhysicalOffset;
    this.wroteWhere = options.endPhysicalOffset;
    this.flushedWhere = options.endPhysicalOffset;
    this.checkpoint = { ...options.baseCheckpoint, flushedPhyOffset: this.flushedWhere };
    const nowMs = this.now();
    this.flushRounds = new PeriodicRounds(nowMs);
    this.commitRounds = new PeriodicRounds(nowMs);
    this.nextCheckpointMs = nowMs + CHECKPOINT_INTERVAL_MS;
    this.warmer =
      options.warmStorage === undefined
        ? null
        : new SegmentWarmer(options.warmStorage, this.files, (error) => {
            if (error !== null) this.fail(error);
            this.kick();
          });
  }

  /** The loop: runs until close() has drained everything, or a failure. */
  async run(): Promise<void> {
    while (this.failure === null) {
      this.step();
      if (this.failure !== null) break;
      if (this.closing && this.drained()) break;
      if (this.stagedRingBytes < this.ring.availableBytes() && !this.heldByWarmer) {
        await yieldToLoop(); // More is waiting: let fsync completions and messages in, then go on.
      } else if (!this.heldByWarmer && this.now() - this.lastNewBytesMs < LINGER_MS) {
        // Poll a little before sleeping: under load the next sends arrive within microseconds,
        // and a producer that finds the writer awake skips Atomics.notify, whose wake-up of a
        // waitAsync waiter costs the main thread far more than this poll costs the writer.
        await yieldToLoop();
      } else {
        // Held by a zero-fill burst, unstaged ring bytes are no news: wait for its kick only.
        await this.idle(this.idleTimeoutMs(), !this.heldByWarmer);
      }
    }
    if (this.failure !== null) throw this.failure;
    await this.finish();
  }

  /** Asks the loop to drain the ring, flush everything and stop. */
  close(): void {
    this.closing = true;
    this.kick();
  }

  /** Resolves once the log is durable up to `targetPhysicalOffset` (published by the main thread). */
  flush(targetPhysicalOffset: number): Promise<void> {
    return new Promise((resolve) => {
      this.flushWaiters.push({ targetPhysicalOffset, resolve });
      this.kick();
    });
  }

  /** New flush/commit knobs apply at once: a shorter interval also shortens the current wait. */
  updateSettings(settings: FlushSettings): void {
    this.settings = settings;
    const nowMs = this.now();
    this.flushRounds.nextRoundMs = Math.min(this.flushRounds.nextRoundMs, nowMs + settings.flushIntervalMs);
    this.commitRounds.nextRoundMs = Math.min(this.commitRounds.nextRoundMs, nowMs + settings.commitIntervalMs);
    this.kick();
  }

  progress(): WriterProgress {
    return {
      acceptedWhere: this.settings.transientStorePool ? this.stagedWhere : this.wroteWhere,
      wroteWhere: this.wroteWhere,
      flushedWhere: this.flushedWhere,
      pagecacheRtMs: this.pagecacheRtMs,
      fsyncCount: this.fsyncCount,
    };
  }

  /** One round: stage new bytes, commit and flush per policy, report. Never throws. */
  step(): void {
    try {
      this.stage();
      const nowMs = this.now();
      if (this.shouldCommit(nowMs)) this.commit();
      this.maybeFlush(nowMs);
      this.maybeCheckpoint(nowMs);
      if (this.flushWaiters.length > 0) this.settleFlushWaiters();
      if (!this.closing) this.warmer?.step(this.wroteWhere);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.progressDirty) {
      this.progressDirty = false;
      this.onProgress(this.progress());
    }
  }

  /** Walks newly published records into runs, checking each against the sequencer's rules. */
  private stage(): void {
    const available = this.ring.availableBytes();
    let relative = this.stagedRingBytes;
    let physical = this.stagedWhere;
    let lastRecordRelative = -1;
    const limit = this.settings.transientStorePool ? available : Math.min(available, WRITE_GROUP_BYTES_MAX);
    while (relative < available && relative < limit) {
      assert(available - relative >= BLANK_RECORD_BYTES, 'the ring holds whole records only');
      const totalSize = this.ring.readInt32BE(relative);
      const magic = this.ring.readInt32BE(relative + 4);
      const segmentEnd = this.files.segmentStartOf(physical) + this.files.segmentSizeBytes;
      if (magic === MAGIC_BLANK) {
        assert(totalSize === segmentEnd - physical, 'a BLANK record covers the rest of its segment');
        this.appendRun(physical, BLANK_RECORD_BYTES, segmentEnd);
        relative += BLANK_RECORD_BYTES;
        physical = segmentEnd;
        continue;
      }
      assert(magic === MAGIC_V1 || magic === MAGIC_V2, 'the ring holds records or BLANKs');
      assert(totalSize >= RECORD_FIXED_BYTES, 'record size is at least the fixed overhead');
      assert(relative + totalSize <= available, 'records are published whole');
      const recordPhysical = this.ringInt64(relative + POS_PHYSICALOFFSET);
      assert(recordPhysical === physical, 'a record carries its own physical offset');
      assert(physical + totalSize + BLANK_RECORD_BYTES <= segmentEnd, 'a record leaves room for a BLANK');
      this.fillBodyCrc(relative);
      if (this.appendRecordCrc) this.fillRecordCrc(relative, totalSize); // Last: it covers the body CRC too.
      this.appendRun(physical, totalSize, physical + totalSize);
      lastRecordRelative = relative;
      relative += totalSize;
      physical += totalSize;
    }
    if (relative === this.stagedRingBytes) return;
    this.lastNewBytesMs = this.now();
    if (lastRecordRelative >= 0) this.lastStoreTimestamp = this.storeTimestampAt(lastRecordRelative);
    this.stagedRingBytes = relative;
    this.stagedWhere = physical;
    if (this.settings.transientStorePool) this.progressDirty = true;
  }

  private appendRun(physicalOffset: number, lengthBytes: number, endPhysicalOffset: number): void {
    const last = this.runs[this.runs.length - 1];
    // A run is one pwritev into one file: it never crosses a segment boundary, not even when
    // an 8-byte BLANK ends exactly where the next segment's first record begins.
    const contiguous =
      last !== undefined &&
      last.endPhysicalOffset === physicalOffset &&
      last.physicalOffset + last.lengthBytes === physicalOffset &&
      this.files.segmentStartOf(last.physicalOffset) === this.files.segmentStartOf(physicalOffset) &&
      last.lengthBytes + lengthBytes <= WRITE_GROUP_BYTES_MAX;
    if (contiguous) {
      last.lengthBytes += lengthBytes;
      last.endPhysicalOffset = endPhysicalOffset;
    } else {
      this.runs.push({ physicalOffset, lengthBytes, endPhysicalOffset });
    }
  }

  private shouldCommit(nowMs: number): boolean {
    if (this.runs.length === 0) return false;
    if (!this.settings.transientStorePool || this.closing || this.flushWaiters.length > 0) return true;
    // Keep room in the ring: staged bytes must never block the producer for long.
    if (this.stagedRingBytes * 2 >= this.ring.capacityBytes) return true;
    const s = this.settings;
    // Woken on put (RocketMQ 5 wakeCommitWhenPutMessage): commit once enough pages are staged.
    if (enoughPages(this.stagedWhere, this.wroteWhere, s.commitLeastPages)) return true;
    const leastPages = this.commitRounds.takeRound(nowMs, s.commitIntervalMs, s.commitLeastPages, s.commitThoroughIntervalMs);
    return leastPages >= 0 && enoughPages(this.stagedWhere, this.wroteWhere, leastPages);
  }

  /** Writes every staged run from the ring to its segment, then releases the ring bytes. */
  private commit(): void {
    this.onCommitBusy?.(Date.now());
    try {
      this.commitRuns();
    } finally {
      this.onCommitBusy?.(0);
    }
  }

  private commitRuns(): void {
    const startedMs = this.now();
    const wroteBefore = this.wroteWhere;
    this.heldByWarmer = false;
    while (this.runs.length > 0) {
      const run = this.runs[0]!;
      // Never write into zeros still being written: the burst's completion kicks the loop,
      // which sleeps meanwhile instead of spinning.
      if (this.warmer?.waitsFor(run.physicalOffset, run.lengthBytes) === true) {
        this.heldByWarmer = true;
        break;
      }
      const views = this.ring.readable(run.lengthBytes);
      let viewBytes = 0;
      for (const view of views) viewBytes += view.length;
      assert(viewBytes === run.lengthBytes, 'a staged run is readable in full');
      this.files.write(run.physicalOffset, views, run.lengthBytes, this.flushedWhere);
      this.ring.release(run.lengthBytes);
      this.stagedRingBytes -= run.lengthBytes;
      this.runs.shift();
      if (run.endPhysicalOffset % this.files.segmentSizeBytes === 0) {
        // The run closed its segment with a BLANK: create the one after next ahead of need.
        this.files.preallocateNext(run.endPhysicalOffset);
      }
      this.wroteWhere = run.endPhysicalOffset;
    }
    if (this.wroteWhere === wroteBefore) return;
    this.pagecacheRtMs = this.now() - startedMs;
    this.progressDirty = true;
    if (this.settings.transientStorePool && !this.settings.flushTimed) this.startFlush();
  }

  private maybeFlush(nowMs: number): void {
    const s = this.settings;
    if (s.syncFlush || this.closing || this.flushWaiters.length > 0) {
      this.startFlush();
      return;
    }
    const leastPages = this.flushRounds.takeRound(nowMs, s.flushIntervalMs, s.flushLeastPages, s.flushThoroughIntervalMs);
    if (leastPages >= 0 && enoughPages(this.wroteWhere, this.flushedWhere, leastPages)) this.startFlush();
  }

  /** Starts an fdatasync of everything written so far unless one is already running. */
  private startFlush(): void {
    if (this.flushing !== null || this.wroteWhere <= this.flushedWhere) return;
    const targetPhysicalOffset = this.wroteWhere;
    const storeTimestamp = this.lastStoreTimestamp;
    this.flushing = this.files.flushAsync().then(
      () => {
        this.flushing = null;
        this.fsyncCount++;
        this.flushedWhere = targetPhysicalOffset;
        this.flushedStoreTimestamp = storeTimestamp;
        this.progressDirty = true;
        this.files.closeBefore(this.files.segmentStartOf(this.wroteWhere), this.warmer?.busySegmentStart() ?? -1);
        this.settleFlushWaiters();
        this.kick();
      },
      (error: unknown) => {
        this.flushing = null;
        this.fail(error);
        this.kick();
      },
    );
  }

  private settleFlushWaiters(): void {
    for (let i = 0; i < this.flushWaiters.length; ) {
      const waiter = this.flushWaiters[i]!;
      if (this.flushedWhere >= waiter.targetPhysicalOffset) {
        this.flushWaiters.splice(i, 1);
        waiter.resolve();
      } else {
        i++;
      }
    }
  }

  private maybeCheckpoint(nowMs: number): void {
    if (nowMs < this.nextCheckpointMs) return;
    this.nextCheckpointMs = nowMs + CHECKPOINT_INTERVAL_MS;
    const next = this.currentCheckpoint();
    if (next.flushedPhyOffset === this.checkpoint.flushedPhyOffset && next.dispatchedPhyOffset === this.checkpoint.dispatchedPhyOffset) return;
    this.checkpoint = next;
    this.checkpointFile.writeAsync(this.checkpoint).catch((error: unknown) => this.fail(error));
  }

  currentCheckpoint(): Checkpoint {
    const checkpoint: Checkpoint = {
      ...this.checkpoint,
      physicMsgTimestamp: Math.max(this.checkpoint.physicMsgTimestamp, this.flushedStoreTimestamp),
      confirmPhyOffset: this.flushedWhere,
      flushedPhyOffset: this.flushedWhere,
    };
    const dispatcher = this.dispatcherPositions?.();
    if (dispatcher !== undefined) {
      // Never above the durable CommitLog end: a crash may cut the log below what was dispatched.
      checkpoint.dispatchedPhyOffset = Math.min(dispatcher.dispatchDurableWhere, this.flushedWhere);
      checkpoint.logicsMsgTimestamp = dispatcher.logicsMsgTimestamp;
      checkpoint.indexMsgTimestamp = dispatcher.indexMsgTimestamp;
    }
    return checkpoint;
  }

  private drained(): boolean {
    return (
      this.ring.availableBytes() === 0 &&
      this.runs.length === 0 &&
      this.flushing === null &&
      this.flushedWhere === this.wroteWhere &&
      this.warmer?.busy !== true
    );
  }

  /** After the last flush on close: a final checkpoint that covers everything. */
  private async finish(): Promise<void> {
    await this.checkpointFile.settle();
    this.checkpoint = this.currentCheckpoint();
    this.checkpointFile.writeSync(this.checkpoint);
    this.onProgress(this.progress());
  }

  private idleTimeoutMs(): number {
    const nowMs = this.now();
    let deadlineMs = nowMs + IDLE_WAIT_MS_MAX;
    if (!this.settings.syncFlush && this.wroteWhere > this.flushedWhere) {
      deadlineMs = Math.min(deadlineMs, this.flushRounds.nextRoundMs);
    }
    if (this.settings.transientStorePool && this.runs.length > 0) {
      deadlineMs = Math.min(deadlineMs, this.commitRounds.nextRoundMs);
    }
    return Math.max(1, deadlineMs - nowMs);
  }

  /**
   * Waits for new ring data, a kick (flush done, control message) or the timeout. At most one
   * ring wait is ever pending: two would share the ring's consumer-waiting flag, and the older
   * one clearing it on wake-up would make the producer skip the notify the newer one needs.
   */
  private idle(timeoutMs: number, watchRing: boolean): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.wake = null;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.wake = finish;
      if (!watchRing) return;
      // Data already waiting: come back through the event loop (a macrotask), never through a
      // chain of resolved promises, which would starve fsync completions and control messages.
      if (this.ring.availableBytes() > this.stagedRingBytes) {
        setImmediate(finish);
        return;
      }
      // Wait for bytes beyond the staged ones: staged bytes stay in the ring until committed
      // (transient pool, or a run waiting for a zero-fill burst), and must not count as news.
      this.dataWait ??= this.ring.waitForDataAsync(RING_WAIT_MS, () => this.stagedRingBytes).finally(() => {
        this.dataWait = null;
      });
      this.dataWait.then(finish, finish);
    });
  }

  private kick(): void {
    this.wake?.();
  }

  private fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure =
      error instanceof StoreError
        ? error
        : new StoreError('E_WORKER_FAILED', `writer failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }

  get failed(): StoreError | null {
    return this.failure;
  }

  private ringInt64(relative: number): number {
    return this.ring.readInt32BE(relative) * TWO_POW_32 + (this.ring.readInt32BE(relative + 4) >>> 0);
  }

  /**
   * The main thread leaves BODYCRC for the writer to fill (it has a core to spare; the main
   * thread is the bottleneck under load). Computed here, before the record reaches any file.
   */
  private fillBodyCrc(relative: number): void {
    const sysFlag = this.ring.readInt32BE(relative + POS_SYSFLAG);
    const bodyLengthRelative = relative + bodyLengthPosition(sysFlag);
    const bodyBytes = this.ring.readInt32BE(bodyLengthRelative);
    const crc = this.ring.crc32(bodyLengthRelative + 4, bodyBytes) & 0x7fffffff;
    this.ring.writeInt32BE(relative + POS_BODYCRC, crc);
  }

  /** RocketMQ 5's appended CRC (enabledAppendPropCRC): filled when the record reserved it. */
  private fillRecordCrc(relative: number, totalSize: number): void {
    if (totalSize < RECORD_FIXED_BYTES + CRC32_RESERVED_BYTES) return;
    const tail = this.crcTail;
    this.ring.copyOut(tail, 0, relative + totalSize - CRC32_RESERVED_BYTES, CRC32_RESERVED_BYTES);
    if (!isCrcReserve(tail)) return;
    writeCrcDigits(tail, this.ring.crc32(relative, totalSize - CRC32_RESERVED_BYTES) & 0x7fffffff);
    this.ring.copyIn(tail, relative + totalSize - CRC32_RESERVED_BYTES);
  }

  private storeTimestampAt(relative: number): number {
    return this.ringInt64(relative + storeTimestampPosition(this.ring.readInt32BE(relative + POS_SYSFLAG)));
  }
}
