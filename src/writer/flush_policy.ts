// Flush and commit policy: RocketMQ's FlushRealTimeService, GroupCommitService and
// CommitRealTimeService rules as pure functions of positions and clocks. The GroupCommitter
// asks these every loop round, and re-reads the settings each time (they are runtime-tunable).

import type { MessageStoreConfig } from '../config.js';

export const OS_PAGE_BYTES = 4096;

export interface FlushSettings {
  syncFlush: boolean;
  /** Transient store pool in effect: only with ASYNC_FLUSH, as in RocketMQ 4.x. */
  transientStorePool: boolean;
  flushIntervalMs: number;
  flushLeastPages: number;
  flushThoroughIntervalMs: number;
  flushTimed: boolean;
  commitIntervalMs: number;
  commitLeastPages: number;
  commitThoroughIntervalMs: number;
}

export function flushSettingsFrom(config: MessageStoreConfig): FlushSettings {
  const syncFlush = config.flushDiskType === 'SYNC_FLUSH';
  return {
    syncFlush,
    transientStorePool: config.transientStorePoolEnable && !syncFlush,
    flushIntervalMs: config.flushIntervalCommitLog,
    flushLeastPages: config.flushCommitLogLeastPages,
    flushThoroughIntervalMs: config.flushCommitLogThoroughInterval,
    flushTimed: config.flushCommitLogTimed,
    commitIntervalMs: config.commitIntervalCommitLog,
    commitLeastPages: config.commitCommitLogLeastPages,
    commitThoroughIntervalMs: config.commitCommitLogThoroughInterval,
  };
}

/**
 * RocketMQ's page rule (MappedFile.isAbleToFlush/Commit): with leastPages > 0, at least that
 * many 4 KiB page boundaries lie between the durable and the written position; with 0, any
 * byte at all.
 */
export function enoughPages(aheadWhere: number, behindWhere: number, leastPages: number): boolean {
  if (aheadWhere <= behindWhere) return false;
  if (leastPages <= 0) return true;
  return Math.floor(aheadWhere / OS_PAGE_BYTES) - Math.floor(behindWhere / OS_PAGE_BYTES) >= leastPages;
}

/** A periodic service's clock: when the next round is due and when the last thorough one ran. */
export class PeriodicRounds {
  nextRoundMs: number;
  lastThoroughMs: number;

  constructor(nowMs: number) {
    this.nextRoundMs = nowMs;
    this.lastThoroughMs = nowMs;
  }

  /**
   * If a round is due, returns the page minimum for it (0 when the thorough interval passed)
   * and schedules the next round; otherwise returns -1.
   */
  takeRound(nowMs: number, intervalMs: number, leastPages: number, thoroughIntervalMs: number): number {
    if (nowMs < this.nextRoundMs) return -1;
    this.nextRoundMs = nowMs + intervalMs;
    if (nowMs - this.lastThoroughMs >= thoroughIntervalMs) {
      this.lastThoroughMs = nowMs;
      return 0;
    }
    return leastPages;
  }
}
