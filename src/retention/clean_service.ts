// CleanService: RocketMQ's CleanCommitLogService + CleanConsumeQueueService schedule (reference
// 2h), run from the main thread with timers and asynchronous calls only. Each run:
//
//   disk ratio ─► above diskSpaceWarningLevelRatio: refuse puts (disk full), clean at once
//             ─► above diskSpaceCleanForciblyRatio: clean at once (unexpired segments too)
//             ─► above diskMaxUsedSpaceRatio: delete expired segments now, whatever the hour
//   hour in deleteWhen, disk pressure, or a manual request ─► the writer deletes expired
//   segments (oldest first, never the active one, at most deleteFileBatchMax) ─► the
//   dispatcher deletes consume queue and index files wholly below the new minimum.
//
// The first scheduled run is 60 s after open (RocketMQ); manual runs start at once. The disk
// ratio alone is checked sooner and more often (1 s after open, then every
// min(cleanResourceInterval, 10 s)), so a full disk stops puts, and its end resumes them,
// without waiting for a clean-up run.

import type { MessageStoreConfig } from '../config.js';
import { deleteWhenHours } from '../config.js';

/** RocketMQ MAX_MANUAL_DELETE_FILE_TIMES: a manual request also covers the next scheduled runs. */
export const MANUAL_DELETE_RUNS = 20;
/** Delay of the first scheduled run after open (RocketMQ). */
export const FIRST_CLEAN_DELAY_MS = 60_000;
/** Delay of the first disk check after open, and the longest period between two (RocketMQ). */
export const FIRST_DISK_CHECK_DELAY_MS = 1000;
export const DISK_CHECK_PERIOD_MS_MAX = 10_000;
const HOUR_MS = 3600 * 1000;

export interface CleanDeps {
  config(): MessageStoreConfig;
  /** Used share of the disk (0…1) holding each store directory; the largest counts. */
  diskUsedRatio(): Promise<number>;
  /** Asks the writer to delete segments; resolves with the new minimum physical offset. */
  deleteSegments(options: { expiredBeforeMs: number; force: boolean; batchMax: number; pauseMs: number }): Promise<{
    deletedCount: number;
    minPhysicalOffset: number;
  }>;
  /** Asks the dispatcher to drop consume queue and index files below the new minimum. */
  deleteDerivedBelow(minPhysicalOffset: number): Promise<void>;
  /** Puts are refused while the disk is above the warning level (message names the ratio), or null. */
  setDiskFull(reason: string | null): void;
  now?: () => Date;
}

export interface CleanRunResult {
  /** Why the run deleted, or null when it had no reason to. */
  trigger: 'time' | 'disk' | 'manual' | null;
  deletedSegments: number;
  diskUsedRatio: number;
}

export class CleanService {
  private readonly deps: CleanDeps;
  private manualRunsLeft = 0;
  private timer: NodeJS.Timeout | null = null;
  private diskTimer: NodeJS.Timeout | null = null;
  /** Runs never overlap: a run requested while one is going waits for it. */
  /** Share of the disk in use at the last check (0…1), −1 before the first. */
  lastDiskUsedRatio = -1;
  private running: Promise<CleanRunResult> = Promise.resolve({ trigger: null, deletedSegments: 0, diskUsedRatio: 0 });
  private stopped = false;

  constructor(deps: CleanDeps) {
    this.deps = deps;
  }

  start(): void {
    this.schedule(FIRST_CLEAN_DELAY_MS);
    this.scheduleDiskCheck(FIRST_DISK_CHECK_DELAY_MS);
  }

  stop(): Promise<unknown> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.diskTimer !== null) clearTimeout(this.diskTimer);
    this.timer = null;
    this.diskTimer = null;
    return this.running.catch(() => undefined);
  }

  private scheduleDiskCheck(delayMs: number): void {
    if (this.stopped) return;
    this.diskTimer = setTimeout(() => {
      this.diskTimer = null;
      this.deps
        .diskUsedRatio()
        .then((ratio) => {
          if (!this.stopped) this.assessDisk(ratio);
        })
        .catch(() => undefined) // An unreadable disk ratio changes nothing; the next check retries.
        .finally(() => this.scheduleDiskCheck(Math.min(this.deps.config().cleanResourceInterval, DISK_CHECK_PERIOD_MS_MAX)));
    }, delayMs);
    this.diskTimer.unref();
  }

  /** Sets or clears the disk-full state; true when the disk asks for deletion at once. */
  private assessDisk(ratio: number): boolean {
    this.lastDiskUsedRatio = ratio;
    const config = this.deps.config();
    const warning = clamp(config.diskSpaceWarningLevelRatio, 35, 90) / 100;
    const forcibly = clamp(config.diskSpaceCleanForciblyRatio, 30, 85) / 100;
    if (ratio > warning) {
      this.deps.setDiskFull(`disk usage ${percent(ratio)} is above diskSpaceWarningLevelRatio ${percent(warning)}; puts resume below it`);
      return true;
    }
    this.deps.setDiskFull(null);
    return ratio > forcibly;
  }

  /** RocketMQ executeDeleteFilesManually: runs now, and the next scheduled runs delete too. */
  runManually(): Promise<CleanRunResult> {
    this.manualRunsLeft = MANUAL_DELETE_RUNS;
    return this.enqueue();
  }

  /** Runs one check now (tests, and the disk check after a put was refused). */
  runOnce(): Promise<CleanRunResult> {
    return this.enqueue();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.enqueue()
        .catch(() => undefined) // A failed run is retried on the next period; the store fences itself on I/O errors.
        .finally(() => this.schedule(this.deps.config().cleanResourceInterval));
    }, delayMs);
    this.timer.unref();
  }

  private enqueue(): Promise<CleanRunResult> {
    const run = this.running.catch(() => undefined).then(() => this.run());
    this.running = run;
    return run;
  }

  private async run(): Promise<CleanRunResult> {
    const config = this.deps.config();
    const ratio = await this.deps.diskUsedRatio();
    const maxUsed = clamp(config.diskMaxUsedSpaceRatio, 10, 95) / 100;
    const cleanImmediately = this.assessDisk(ratio);
    const diskPressure = cleanImmediately || ratio > maxUsed;
    const hours = deleteWhenHours(config.deleteWhen) ?? new Set<number>();
    const timeUp = hours.has((this.deps.now?.() ?? new Date()).getHours());
    const manual = this.manualRunsLeft > 0;
    const trigger = manual ? 'manual' : diskPressure ? 'disk' : timeUp ? 'time' : null;
    if (trigger === null) return { trigger, deletedSegments: 0, diskUsedRatio: ratio };
    if (manual) this.manualRunsLeft -= 1;
    const nowMs = (this.deps.now?.() ?? new Date()).getTime();
    const { deletedCount, minPhysicalOffset } = await this.deps.deleteSegments({
      expiredBeforeMs: nowMs - config.fileReservedTime * HOUR_MS,
      force: config.cleanFileForciblyEnable && cleanImmediately,
      batchMax: config.deleteFileBatchMax,
      pauseMs: config.deleteCommitLogFilesInterval,
    });
    if (deletedCount > 0 && minPhysicalOffset >= 0) await this.deps.deleteDerivedBelow(minPhysicalOffset);
    return { trigger, deletedSegments: deletedCount, diskUsedRatio: ratio };
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}
