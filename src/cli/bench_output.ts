// How `mqstore bench` prints: its own layout (default), RocketMQ's benchmark producer/consumer
// lines (`--format rocketmq`) or kafka-producer-perf-test's and kafka-consumer-perf-test's
// (`--format kafka`). The effective configuration comes first in every format; group commit,
// baselines and warnings follow every final summary. `--json` bypasses this module.

import type { MessageStoreConfig } from '../config.js';
import type { BenchInterval, BenchResult, BenchStart } from '../bench/bench_run.js';
import type { LatencySummaryMs } from '../bench/latency.js';
import { kafkaTime, rocketmqTime } from '../human_time.js';

export type BenchFormat = 'mqstore' | 'rocketmq' | 'kafka';
export const BENCH_FORMATS: readonly BenchFormat[] = ['mqstore', 'rocketmq', 'kafka'];

/** The knobs that decide how the CommitLog is written and flushed, printed first. */
export const FLUSH_KEYS: readonly (keyof MessageStoreConfig)[] = [
  'flushDiskType',
  'flushIntervalCommitLog',
  'flushCommitLogLeastPages',
  'flushCommitLogThoroughInterval',
  'flushCommitLogTimed',
  'transientStorePoolEnable',
  'commitIntervalCommitLog',
  'commitCommitLogLeastPages',
  'commitCommitLogThoroughInterval',
  'syncFlushTimeout',
  'mappedFileSizeCommitLog',
  'warmMapedFileEnable',
  'messageIndexEnable',
];

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits: number): string => n.toFixed(digits);
const KIB = 1024;
const MIB = 1024 * 1024;

function bytes(n: number): string {
  if (n >= MIB) return `${fixed(n / MIB, 1)} MiB`;
  if (n >= KIB) return `${fixed(n / KIB, 1)} KiB`;
  return `${Math.round(n)} B`;
}

function latencyLine(l: LatencySummaryMs): string {
  return `avg ${fixed(l.avg, 3)}  p50 ${fixed(l.p50, 3)}  p95 ${fixed(l.p95, 3)}  p99 ${fixed(l.p99, 3)}  p99.9 ${fixed(l.p999, 3)}  max ${fixed(l.max, 3)}`;
}

export function configLine(config: MessageStoreConfig): string {
  return FLUSH_KEYS.map((key) => `${key}=${String(config[key])}`).join(' ');
}

export function formatStart(start: BenchStart, format: BenchFormat): string[] {
  const w = start.workload;
  const lines: string[] = [];
  if (format === 'rocketmq') {
    lines.push(
      `topic: ${w.topic}, threadCount: ${w.concurrency}, messageSize: ${w.sizeBytes}, keyEnable: ${w.keys}, propertySize: 0, ` +
        `tagCount: ${w.tags}, traceEnable: false, aclEnable: false, messageQuantity: ${w.count}, delayEnable: false, ` +
        `delayLevel: 1, asyncEnable: false, batchSize: ${w.batch}, topicCount: ${w.topics}, queueCount: ${w.queuesPerTopic}`,
    );
    lines.push(`storeConfig: ${configLine(start.config)}`);
  } else if (format === 'kafka') {
    lines.push(`# mqstore bench (kafka-producer-perf-test output): --num-records ${w.count} --record-size ${w.sizeBytes} --throughput ${w.tps > 0 ? w.tps : -1}`);
    lines.push(`# producer-props: ${configLine(start.config)}`);
  } else {
    lines.push(`# mqstore bench`);
    lines.push(`config      ${configLine(start.config)}`);
    lines.push(
      `workload    concurrency=${w.concurrency} size=${w.sizeBytes} keys=${w.keys} topic=${w.topic} topics=${w.topics} ` +
        `queues=${w.queuesPerTopic} tags=${w.tags} batch=${w.batch} ` +
        `${w.count > 0 ? `count=${w.count}` : `duration=${w.durationMs / 1000}s`} tps=${w.tps > 0 ? w.tps : 'unthrottled'} ` +
        `consume=${w.consume} warmup=${w.warmupMs / 1000}s`,
    );
    lines.push(`store       ${start.config.storePathRootDir} (${start.filesystem})`);
    lines.push(`machine     ${start.machine.cpus} × ${start.machine.cpuModel}, node ${start.machine.node}, ${start.machine.platform}`);
  }
  for (const warning of start.warnings) lines.push(`${format === 'mqstore' ? 'WARNING     ' : 'WARNING: '}${warning}`);
  return lines;
}

export function formatInterval(i: BenchInterval, format: BenchFormat): string[] {
  const lines: string[] = [];
  const failed = i.sendFailed + i.responseFailed;
  if (format === 'rocketmq') {
    // As RocketMQ's Producer/Consumer: TPS and average over the interval; Max RT and the failure
    // counts are running totals since the start.
    const total = i.sinceStart;
    lines.push(
      `Current Time: ${rocketmqTime(Date.now())} | Send TPS: ${Math.round(i.msgsPerSec)} | Max RT(ms): ${Math.round(total.maxLatencyMs)} | ` +
        `Average RT(ms): ${fixed(i.latencyMs.avg, 3).padStart(7)} | Send Failed: ${total.sendFailed} | Response Failed: ${total.responseFailed}`,
    );
    if (i.consume !== undefined) {
      const c = i.consume;
      lines.push(
        `Current Time: ${rocketmqTime(Date.now())} | Consume TPS: ${Math.round(c.msgsPerSec)} | ` +
          `AVG(B2C) RT(ms): ${fixed(c.bornToConsumeMs.avg, 3).padStart(7)} | AVG(S2C) RT(ms): ${fixed(c.storeToConsumeMs.avg, 3).padStart(7)} | ` +
          `MAX(B2C) RT(ms): ${Math.round(c.sinceStart.maxBornToConsumeMs)} | MAX(S2C) RT(ms): ${Math.round(c.sinceStart.maxStoreToConsumeMs)} | ` +
          `Consume Fail: ${c.sinceStart.failed}`,
      );
    }
  } else if (format === 'kafka') {
    const mbPerSec = (i.mbPerSec * 1e6) / MIB; // Kafka's MB is 2^20 bytes.
    lines.push(
      `${i.messages} records sent, ${fixed(i.msgsPerSec, 1)} records/sec (${fixed(mbPerSec, 2)} MB/sec), ` +
        `${fixed(i.latencyMs.avg, 1)} ms avg latency, ${fixed(i.latencyMs.max, 1)} ms max latency.`,
    );
  } else {
    let line =
      `${fixed(i.tSec, 1).padStart(6)} s ${int(i.msgsPerSec).padStart(10)} msgs/s ${fixed(i.mbPerSec, 1).padStart(7)} MB/s` +
      `  avg ${fixed(i.latencyMs.avg, 3)} p99 ${fixed(i.latencyMs.p99, 3)} max ${fixed(i.latencyMs.max, 3)} ms` +
      `  fsyncs ${int(i.fsyncsPerSec)}/s  failed ${failed}`;
    if (i.consume !== undefined) {
      line += ` | consumed ${int(i.consume.msgsPerSec)} msgs/s S2C avg ${fixed(i.consume.storeToConsumeMs.avg, 1)} max ${fixed(i.consume.storeToConsumeMs.max, 1)} ms`;
    }
    lines.push(line);
  }
  return lines;
}

export function formatSummary(r: BenchResult, format: BenchFormat): string[] {
  const lines: string[] = [];
  const l = r.latencyMs;
  if (format === 'rocketmq') {
    lines.push(
      // RocketMQ's total: sends answered plus sends that failed to go out (Response Failed not included).
      `[Complete] Send Total: ${r.messages + r.sendFailed} | Send TPS: ${Math.round(r.msgsPerSec)} | ` +
        `Max RT(ms): ${Math.round(l.max)} | Average RT(ms): ${fixed(l.avg, 3).padStart(7)} | Send Failed: ${r.sendFailed} | Response Failed: ${r.responseFailed}`,
    );
    if (r.consume !== undefined) {
      const c = r.consume;
      lines.push(
        `[Complete] Consume Total: ${c.messages} | Consume TPS: ${Math.round(c.msgsPerSec)} | AVG(B2C) RT(ms): ${fixed(c.bornToConsumeMs.avg, 3).padStart(7)} | ` +
          `AVG(S2C) RT(ms): ${fixed(c.storeToConsumeMs.avg, 3).padStart(7)} | MAX(B2C) RT(ms): ${Math.round(c.bornToConsumeMs.max)} | ` +
          `MAX(S2C) RT(ms): ${Math.round(c.storeToConsumeMs.max)} | Consume Fail: ${Object.values(c.failures).reduce((a, b) => a + b, 0)}`,
      );
    }
  } else if (format === 'kafka') {
    const recordMbPerSec = (r.msgsPerSec * r.workload.sizeBytes) / MIB;
    const ms = (n: number): number => Math.floor(n);
    lines.push(
      `${r.messages} records sent, ${fixed(r.msgsPerSec, 6)} records/sec (${fixed(recordMbPerSec, 2)} MB/sec), ` +
        `${fixed(l.avg, 2)} ms avg latency, ${fixed(l.max, 2)} ms max latency, ${ms(l.p50)} ms 50th, ${ms(l.p95)} ms 95th, ` +
        `${ms(l.p99)} ms 99th, ${ms(l.p999)} ms 99.9th.`,
    );
    if (r.consume !== undefined) {
      const c = r.consume;
      const consumedMb = (c.messages * r.workload.sizeBytes) / MIB;
      const seconds = Math.max(1e-9, (c.endTimeMs - c.startTimeMs) / 1000);
      lines.push('start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec');
      lines.push(
        `${kafkaTime(c.startTimeMs)}, ${kafkaTime(c.endTimeMs)}, ${fixed(consumedMb, 4)}, ${fixed(consumedMb / seconds, 4)}, ${c.messages}, ` +
          `${fixed(c.messages / seconds, 4)}, 0, ${Math.round(seconds * 1000)}, ${fixed(consumedMb / seconds, 4)}, ${fixed(c.messages / seconds, 4)}`,
      );
    }
  } else {
    lines.push('');
    lines.push(
      `sent        ${int(r.messages)} messages in ${fixed(r.durationSec, 2)} s: ${int(r.msgsPerSec)} msgs/s, ${fixed(r.mbPerSec, 1)} MB/s of bodies ` +
        `(${fixed(r.logMbPerSec, 1)} MB/s into the CommitLog)`,
    );
    lines.push(`latency ms  ${latencyLine(l)}  (${int(l.count)} sends)`);
    if (r.intendedLatencyMs !== undefined) lines.push(`intended ms ${latencyLine(r.intendedLatencyMs)}  (from each send's scheduled time)`);
    if (r.consume !== undefined) {
      const c = r.consume;
      lines.push(`consumed    ${int(c.messages)} messages: ${int(c.msgsPerSec)} msgs/s, ${fixed(c.mbPerSec, 1)} MB/s${c.timedOut ? ' (gave up waiting)' : ''}`);
      lines.push(`S2C ms      ${latencyLine(c.storeToConsumeMs)}  (store time → read)`);
      lines.push(`B2C ms      ${latencyLine(c.bornToConsumeMs)}  (born time → read)`);
    }
  }
  lines.push(...commonTail(r, format === 'mqstore' ? '' : '# '));
  return lines;
}

/** Group commit, failures, baselines and warnings: printed after every format's summary. */
function commonTail(r: BenchResult, prefix: string): string[] {
  const lines: string[] = [];
  const label = (name: string): string => prefix + name.padEnd(12);
  lines.push(
    `${label('fsyncs')}${int(r.fsyncs)} fsyncs, ${fixed(r.fsyncsPerSec, 1)}/s, ${fixed(r.msgsPerFsync, 1)} msgs and ${bytes(r.bytesPerFsync)} per fsync`,
  );
  const failures = Object.entries(r.failures);
  lines.push(`${label('failures')}${failures.length === 0 ? 'none' : failures.map(([status, n]) => `${status} ${n}`).join(', ')}`);
  const pageCache = r.baselines.pageCacheWrite;
  if (pageCache !== undefined) {
    const ratio = r.efficiency.logWriteVsPageCache;
    lines.push(
      `${label('baseline')}page-cache write ${fixed(pageCache.mbPerSec, 0)} MB/s (${bytes(pageCache.chunkBytes)} pwrites, ${fixed(pageCache.durationMs / 1000, 1)} s)` +
        (ratio !== undefined ? ` → engine ${fixed(ratio, 2)}× of it` : ''),
    );
  }
  const fdatasync = r.baselines.writeFdatasync;
  if (fdatasync !== undefined) {
    const ratio = r.efficiency.fsyncsVsWriteFdatasync;
    const paced = r.config.flushDiskType === 'ASYNC_FLUSH' ? ' (no ratio: ASYNC_FLUSH fsyncs follow flushIntervalCommitLog, not the disk)' : '';
    lines.push(
      `${label('baseline')}write+fdatasync of ${bytes(fdatasync.bytesPerWrite)} (${fdatasync.file} file) ${fixed(fdatasync.opsPerSec, 0)}/s, ` +
        `${fixed(fdatasync.mbPerSec, 1)} MB/s, p99 ${fixed(fdatasync.latencyMs.p99, 3)} ms` +
        (ratio !== undefined ? ` → engine fsyncs ${fixed(ratio, 2)}× of it` : paced),
    );
  }
  for (const warning of r.warnings) lines.push(`${prefix}WARNING     ${warning}`);
  return lines;
}
