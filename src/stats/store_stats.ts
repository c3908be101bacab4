// Runtime statistics of a store, RocketMQ's StoreStatsService on the main thread: counters of
// puts and gets, put latency in RocketMQ's distribution buckets and in its fine buckets (for
// putLatency99/999), and one sample of the counters a second so TPS can be read over the last
// 10 s, 1 min and 10 min. Every minute the latency window rolls over (RocketMQ's [PAGECACHERT]
// cycle): the finished window feeds putLatency99/999 and, when enabled, the log line.
//
// Cost on the put path: one performance.now() at the call and one at the acknowledgement, and
// a few array increments. The sampling timer is unref'd.

/** RocketMQ's putMessageDistributeTime buckets (StoreStatsService.PUT_MESSAGE_ENTIRE_TIME_MAX_DESC). */
export const PUT_DISTRIBUTE_LABELS: readonly string[] = [
  '<=0ms', '0~10ms', '10~50ms', '50~100ms', '100~200ms', '200~500ms', '500ms~1s',
  '1~2s', '2~3s', '3~4s', '4~5s', '5~10s', '10s~',
];
/** Upper bounds (exclusive, ms) of the buckets after `<=0ms`; the last bucket is open. */
const PUT_DISTRIBUTE_BOUNDS_MS = [10, 50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10000];

/**
 * RocketMQ 5's fine latency buckets for the percentiles, as inclusive upper bounds in ms:
 * 1 ms steps to 20, 2 ms to 50, 5 ms to 100, 10 ms to 200, 50 ms to 500, 100 ms to 1 s, 1 s to 10 s.
 */
export const PUT_LATENCY_BUCKET_BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  const steps: Array<[stepMs: number, count: number]> = [[1, 20], [2, 15], [5, 10], [10, 10], [50, 6], [100, 5], [1000, 9]];
  let bound = 0;
  for (const [stepMs, count] of steps) {
    for (let i = 0; i < count; i++) bounds.push((bound += stepMs));
  }
  return bounds;
})();

/** Samples kept: ten minutes and one at one a second. */
const SAMPLES_KEPT = 601;

interface Sample {
  atMs: number;
  putTimes: number;
  getFound: number;
  getMiss: number;
  getTransferred: number;
}

class LatencyWindow {
  readonly distribution = new Array<number>(PUT_DISTRIBUTE_LABELS.length).fill(0);
  /** Counts per fine bucket; the extra last slot holds everything above 10 s. */
  readonly fine = new Array<number>(PUT_LATENCY_BUCKET_BOUNDS_MS.length + 1).fill(0);
  total = 0;

  record(elapsedMs: number): void {
    const ms = Math.floor(elapsedMs); // RocketMQ measures whole milliseconds.
    let bucket = 0;
    if (ms > 0) {
      bucket = 1;
      while (bucket <= PUT_DISTRIBUTE_BOUNDS_MS.length && ms >= PUT_DISTRIBUTE_BOUNDS_MS[bucket - 1]!) bucket++;
    }
    this.distribution[bucket]!++;
    this.fine[fineBucketOf(ms)]!++;
    this.total++;
  }

  /** RocketMQ's findPutMessageEntireTimePX: linear interpolation inside the fine bucket. */
  percentile(px: number): number {
    if (this.total === 0) return 0;
    const target = Math.floor(this.total * px);
    let passed = 0;
    for (let i = 0; i < this.fine.length; i++) {
      const count = this.fine[i]!;
      if (target <= passed + count) {
        const lower = i === 0 ? 0 : PUT_LATENCY_BUCKET_BOUNDS_MS[i - 1]!;
        const upper = PUT_LATENCY_BUCKET_BOUNDS_MS[i] ?? lower; // Above 10 s: reported as 10 s.
        return count === 0 ? lower : lower + ((upper - lower) * (target - passed)) / count;
      }
      passed += count;
    }
    return PUT_LATENCY_BUCKET_BOUNDS_MS[PUT_LATENCY_BUCKET_BOUNDS_MS.length - 1]!;
  }

  /** `[<=0ms]:n [0~10ms]:n …` as RocketMQ prints it. */
  distributionString(): string {
    return PUT_DISTRIBUTE_LABELS.map((label, i) => `[${label}]:${this.distribution[i]}`).join(' ');
  }
}

function fineBucketOf(ms: number): number {
  // Binary search: first bound ≥ ms.
  let low = 0;
  let high = PUT_LATENCY_BUCKET_BOUNDS_MS.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (PUT_LATENCY_BUCKET_BOUNDS_MS[mid]! >= ms) high = mid;
    else low = mid + 1;
  }
  return low;
}

export interface StoreStatsOptions {
  /** Length of a latency window (RocketMQ: one minute). */
  windowMs?: number;
  /** Called with the [STORETPS] and [PAGECACHERT] lines at every window end, when set. */
  log?: (line: string) => void;
  now?: () => number;
}

export class StoreStats {
  putMessageTimesTotal = 0;
  putMessageSizeTotal = 0;
  putMessageFailedTimes = 0;
  putMessageEntireTimeMax = 0;
  getMessageTimesTotalFound = 0;
  getMessageTimesTotalMiss = 0;
  getMessageTransferredMsgCount = 0;
  getMessageEntireTimeMax = 0;
  private current = new LatencyWindow();
  private last: LatencyWindow | null = null;
  private readonly samples: Sample[] = [];
  private readonly now: () => number;
  private readonly windowMs: number;
  private windowStartMs: number;
  private timer: NodeJS.Timeout | null = null;
  private log: ((line: string) => void) | undefined;

  constructor(options: StoreStatsOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.windowMs = options.windowMs ?? 60_000;
    this.log = options.log;
    this.windowStartMs = this.now();
    this.sample();
  }

  /** Starts the one-second sampling (unref'd: it never keeps the process alive). */
  start(): void {
    this.timer ??= setInterval(() => this.tick(), Math.min(1000, this.windowMs));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  setLog(log: ((line: string) => void) | undefined): void {
    this.log = log;
  }

  /** A put acknowledged as stored (PUT_OK, or FLUSH_DISK_TIMEOUT: stored, not yet flushed). */
  recordPut(messages: number, bytes: number, elapsedMs: number): void {
    this.putMessageTimesTotal += messages;
    this.putMessageSizeTotal += bytes;
    if (elapsedMs > this.putMessageEntireTimeMax) this.putMessageEntireTimeMax = elapsedMs;
    this.current.record(elapsedMs);
  }

  recordPutFailed(): void {
    this.putMessageFailedTimes++;
  }

  recordGet(found: boolean, messages: number, elapsedMs: number): void {
    if (found) this.getMessageTimesTotalFound++;
    else this.getMessageTimesTotalMiss++;
    this.getMessageTransferredMsgCount += messages;
    if (elapsedMs > this.getMessageEntireTimeMax) this.getMessageEntireTimeMax = elapsedMs;
  }

  /** Per second over the last `seconds` (or since the store opened, when younger). */
  tps(field: keyof Omit<Sample, 'atMs'>, seconds: number): number {
    const nowMs = this.now();
    const latest = this.snapshot(nowMs);
    let base = this.samples[0]!;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      if (nowMs - this.samples[i]!.atMs >= seconds * 1000) {
        base = this.samples[i]!;
        break;
      }
    }
    const elapsedSec = (nowMs - base.atMs) / 1000;
    return elapsedSec <= 0 ? 0 : (latest[field] - base[field]) / elapsedSec;
  }

  /**
   * p99/p999 of put latency (ms) over the last full window (a minute), or over the current one
   * while the store is younger than a window.
   */
  putLatencyPercentile(px: number): number {
    return (this.last ?? this.current).percentile(px);
  }

  /** The current window's distribution, RocketMQ's putMessageDistributeTime string. */
  putMessageDistributeTime(): string {
    return this.current.distributionString();
  }

  /** The samples and the window roll-over: called every second by the timer, or by tests. */
  tick(): void {
    this.sample();
    if (this.now() - this.windowStartMs >= this.windowMs) this.rollWindow();
  }

  private snapshot(nowMs: number): Sample {
    return {
      atMs: nowMs,
      putTimes: this.putMessageTimesTotal,
      getFound: this.getMessageTimesTotalFound,
      getMiss: this.getMessageTimesTotalMiss,
      getTransferred: this.getMessageTransferredMsgCount,
    };
  }

  private sample(): void {
    this.samples.push(this.snapshot(this.now()));
    if (this.samples.length > SAMPLES_KEPT) this.samples.shift();
  }

  private rollWindow(): void {
    const finished = this.current;
    if (this.log !== undefined) {
      const tps = (field: keyof Omit<Sample, 'atMs'>): string => this.tps(field, this.windowMs / 1000).toFixed(2);
      this.log(`[STORETPS] put_tps ${tps('putTimes')} get_found_tps ${tps('getFound')} get_miss_tps ${tps('getMiss')} get_transferred_tps ${tps('getTransferred')}`);
      this.log(`[PAGECACHERT] TotalPut ${finished.total}, PutMessageDistributeTime ${finished.distributionString()}`);
    }
    this.last = finished;
    this.current = new LatencyWindow();
    this.windowStartMs = this.now();
  }
}
