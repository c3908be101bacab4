// Latency recording for the benchmarks: an HdrHistogram (hdr-histogram-js) of microseconds,
// summarised in milliseconds with the percentiles users of RocketMQ's and Kafka's benchmark
// tools read (avg, 50th, 95th, 99th, 99.9th, max).

import * as hdr from 'hdr-histogram-js';

export interface LatencySummaryMs {
  count: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** One hour in microseconds: any latency above is clamped (and is a result in itself). */
const HIGHEST_US = 3_600_000_000;

export class LatencyRecorder {
  private histogram: hdr.Histogram = LatencyRecorder.build();

  private static build(): hdr.Histogram {
    return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
  }

  /** Records `count` samples of `elapsedMs` (sub-millisecond precision kept as microseconds). */
  recordMs(elapsedMs: number, count = 1): void {
    const us = Math.min(HIGHEST_US, Math.max(1, Math.round(elapsedMs * 1000)));
    if (count === 1) this.histogram.recordValue(us);
    else this.histogram.recordValueWithCount(us, count);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** The largest value recorded (ms), 0 when empty. */
  get maxMs(): number {
    return this.histogram.totalCount === 0 ? 0 : this.histogram.maxValue / 1000;
  }

  add(other: LatencyRecorder): void {
    this.histogram.add(other.histogram);
  }

  reset(): void {
    this.histogram.reset();
  }

  summary(): LatencySummaryMs {
    const h = this.histogram;
    if (h.totalCount === 0) return { count: 0, avg: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 };
    const ms = (us: number): number => us / 1000;
    // A percentile is reported as the top of its bucket, which can lie above the largest value
    // recorded: never report a percentile above the max.
    const at = (percentile: number): number => ms(Math.min(h.getValueAtPercentile(percentile), h.maxValue));
    return {
      count: h.totalCount,
      avg: ms(h.mean),
      p50: at(50),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      max: ms(h.maxValue),
    };
  }
}
