// The pure half of `mqstore sweep`: expand grid axes (and/or an explicit list) into the
// configurations worth running, collapse knobs a configuration ignores and drop duplicates,
// parse a latency objective (`p99<=5ms`) and pick the configuration to recommend. No I/O, so
// every rule here is unit-tested (test/bench/sweep_grid.test.ts); src/cli/commands/sweep.ts runs
// the configurations.
//
//   axes:  flushDiskType ASYNC_FLUSH,SYNC_FLUSH × flushIntervalCommitLog 100,500 × concurrency 16
//   grid:  #1 ASYNC 100 16   #2 ASYNC 500 16   #3 SYNC 16
//          (SYNC × 500 is #3 again: SYNC_FLUSH has no flush timer, so it is skipped, with a reason)

import { CONFIG_KEYS, type MessageStoreConfig } from '../config.js';
import type { LatencySummaryMs } from './latency.js';

export type KnobValue = string | number | boolean;
/** One configuration as the sweep sets it: store configuration keys and workload knobs. */
export type Knobs = Readonly<Record<string, KnobValue>>;

/** Workload knobs that may be axes; each is the `mqstore bench` flag of the same name. */
export const WORKLOAD_KNOBS: readonly string[] = ['concurrency', 'size', 'batch', 'keys', 'topics', 'queues', 'tags'];

/** A usage mistake in the grid or the objective (the CLI exits 2 with its message). */
export class SweepUsageError extends Error {}

export interface GridAxis {
  knob: string;
  values: readonly KnobValue[];
}

export interface GridPoint {
  /** The knobs that take effect: the combination minus the ones meaningless in it. */
  knobs: Knobs;
  /** `flushDiskType=…` and every varied knob as `key=value`, in knob order. */
  label: string;
}

export interface SkippedPoint {
  /** The combination as the axes or the list gave it. */
  knobs: Knobs;
  /** Index (0-based) of the point that runs the same effective configuration. */
  sameAs: number;
  reason: string;
}

export interface Grid {
  points: GridPoint[];
  skipped: SkippedPoint[];
  /** Knobs with more than one effective value across the points, in knob order. */
  varied: string[];
}

export function isStoreKey(knob: string): knob is keyof MessageStoreConfig {
  return (CONFIG_KEYS as readonly string[]).includes(knob);
}

/** Sort rank: flushDiskType first, then the store keys in schema order, then the workload. */
export function knobRank(knob: string): number {
  if (knob === 'flushDiskType') return -1;
  const store = (CONFIG_KEYS as readonly string[]).indexOf(knob);
  if (store >= 0) return store;
  const workload = WORKLOAD_KNOBS.indexOf(knob);
  if (workload >= 0) return CONFIG_KEYS.length + workload;
  return CONFIG_KEYS.length + WORKLOAD_KNOBS.length;
}

export function byKnobOrder(a: string, b: string): number {
  return knobRank(a) - knobRank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Splits an axis flag value (`100,500`) into its trimmed, non-empty items. */
export function splitAxis(text: string): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item.length === 0)) throw new SweepUsageError(`empty value in the list ${JSON.stringify(text)}`);
  return items;
}

const FLUSH_TIMER_KEYS = ['flushIntervalCommitLog', 'flushCommitLogLeastPages', 'flushCommitLogThoroughInterval'];
const COMMIT_KEYS = ['commitIntervalCommitLog', 'commitCommitLogLeastPages', 'commitCommitLogThoroughInterval'];

/**
 * The knobs a resolved configuration ignores, each with the reason. These follow the writer
 * (src/writer/flush_policy.ts, group_commit.ts):
 *
 *   flushDiskType  transientStorePoolEnable  ignored
 *   SYNC_FLUSH     any                       flush timer keys, flushCommitLogTimed, the pool, commit keys
 *   ASYNC_FLUSH    false                     commit keys, flushCommitLogTimed (nothing is committed), syncFlushTimeout
 *   ASYNC_FLUSH    true                      syncFlushTimeout
 */
export function ignoredKnobs(resolved: Knobs): Map<string, string> {
  const ignored = new Map<string, string>();
  if (resolved.flushDiskType === 'SYNC_FLUSH') {
    const reason = 'SYNC_FLUSH fsyncs every group commit: no flush timer, no transient store pool';
    for (const key of [...FLUSH_TIMER_KEYS, 'flushCommitLogTimed', 'transientStorePoolEnable', ...COMMIT_KEYS]) ignored.set(key, reason);
    return ignored;
  }
  ignored.set('syncFlushTimeout', 'only SYNC_FLUSH waits for an fsync');
  if (resolved.transientStorePoolEnable !== true) {
    const reason = 'only the transient store pool (transientStorePoolEnable=true) commits';
    for (const key of [...COMMIT_KEYS, 'flushCommitLogTimed']) ignored.set(key, reason);
  }
  return ignored;
}

/** Every combination of the axes (first axis outermost), each merged into every list entry. */
export function combinations(axes: readonly GridAxis[], list: readonly Knobs[] | null): Knobs[] {
  const entries = list ?? [{}];
  for (const axis of axes) {
    if (axis.values.length === 0) throw new SweepUsageError(`--${axis.knob} has no values`);
    const inList = entries.find((entry) => Object.hasOwn(entry, axis.knob));
    if (inList !== undefined) throw new SweepUsageError(`${axis.knob} is both an axis and a key in the --list entries`);
  }
  let product: Knobs[] = [{}];
  for (const axis of [...axes].sort((a, b) => byKnobOrder(a.knob, b.knob))) {
    product = product.flatMap((partial) => axis.values.map((value) => ({ ...partial, [axis.knob]: value })));
  }
  return entries.flatMap((entry) => product.map((partial) => ({ ...entry, ...partial })));
}

/**
 * Expands axes × list into the configurations to run. `base` holds the value every knob takes
 * when a combination does not set it (store defaults or --config, bench defaults); it decides
 * what a combination ignores and whether two combinations are the same run.
 */
export function expandGrid(axes: readonly GridAxis[], list: readonly Knobs[] | null, base: Knobs): Grid {
  const combos = combinations(axes, list);
  const knobs = [...new Set(combos.flatMap((combo) => Object.keys(combo)))].sort(byKnobOrder);
  const kept: { knobs: Knobs; resolved: Knobs; ignored: Map<string, string> }[] = [];
  const keyIndex = new Map<string, number>();
  const skipped: SkippedPoint[] = [];
  for (const combo of combos) {
    const resolved: Knobs = { ...base, ...combo };
    const ignored = ignoredKnobs(resolved);
    // Knobs the run ignores take no part in its identity; the rest count at their resolved value.
    const identity = JSON.stringify(knobs.filter((knob) => !ignored.has(knob)).map((knob) => [knob, resolved[knob] ?? null]));
    const same = keyIndex.get(identity);
    if (same !== undefined) {
      skipped.push({ knobs: combo, sameAs: same, reason: skipReason(combo, ignored, same) });
      continue;
    }
    keyIndex.set(identity, kept.length);
    const effective = Object.fromEntries(Object.entries(combo).filter(([knob]) => !ignored.has(knob)));
    kept.push({ knobs: effective, resolved, ignored });
  }
  const varied = knobs.filter((knob) => {
    const values = new Set(kept.filter((point) => !point.ignored.has(knob)).map((point) => JSON.stringify(point.resolved[knob] ?? null)));
    return values.size > 1;
  });
  const points = kept.map((point) => ({ knobs: point.knobs, label: pointLabel(point.resolved, point.ignored, varied) }));
  return { points, skipped, varied };
}

function skipReason(combo: Knobs, ignored: Map<string, string>, sameAs: number): string {
  const dropped = Object.keys(combo).filter((knob) => ignored.has(knob));
  if (dropped.length === 0) return `same configuration as #${sameAs + 1}`;
  const reasons = [...new Set(dropped.map((knob) => ignored.get(knob)))].join('; ');
  return `same run as #${sameAs + 1}: ${dropped.join(', ')} ignored (${reasons})`;
}

function pointLabel(resolved: Knobs, ignored: Map<string, string>, varied: readonly string[]): string {
  const shown = ['flushDiskType', ...varied.filter((knob) => knob !== 'flushDiskType' && !ignored.has(knob))];
  return shown.map((knob) => `${knob}=${String(resolved[knob])}`).join(' ');
}

/** `knob=value` pairs of a combination, in knob order (for messages). */
export function knobsText(knobs: Knobs): string {
  return Object.keys(knobs)
    .sort(byKnobOrder)
    .map((knob) => `${knob}=${String(knobs[knob])}`)
    .join(' ');
}

/**
 * Parses `--list`: a JSON array of objects {knob: value}. Each value is checked by `parse`
 * (given its text form), exactly as the same knob on an axis.
 */
export function parseList(text: string, parse: (knob: string, text: string) => KnobValue): Knobs[] {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (error) {
    throw new SweepUsageError(`--list is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(list) || list.length === 0) throw new SweepUsageError('--list must be a non-empty JSON array of objects {knob: value}');
  return list.map((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new SweepUsageError(`--list entry ${i + 1} is not an object {knob: value}`);
    }
    const knobs: Record<string, KnobValue> = {};
    for (const [knob, value] of Object.entries(entry)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new SweepUsageError(`--list entry ${i + 1}: ${knob} must be a string, number or boolean`);
      }
      try {
        knobs[knob] = parse(knob, String(value));
      } catch (error) {
        throw new SweepUsageError(`--list entry ${i + 1}: ${(error as Error).message}`);
      }
    }
    return knobs;
  });
}

/** The broker.conf lines for a point: flushDiskType, then every store key the sweep set. */
export function brokerConfLines(point: GridPoint, base: Knobs): string[] {
  const lines = [`flushDiskType=${String(point.knobs.flushDiskType ?? base.flushDiskType)}`];
  for (const knob of Object.keys(point.knobs).sort(byKnobOrder)) {
    if (knob !== 'flushDiskType' && isStoreKey(knob)) lines.push(`${knob}=${String(point.knobs[knob])}`);
  }
  return lines;
}

export type SloMetric = 'p50' | 'p95' | 'p99' | 'p999' | 'max';

/** A latency objective on the send latency: `metric < thresholdMs` (or `<=` when inclusive). */
export interface Slo {
  text: string;
  metric: SloMetric;
  thresholdMs: number;
  inclusive: boolean;
}

const SLO_PATTERN = /^(p50|p95|p99|p99\.9|p999|max)(<=|≤|<)(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|μs|s)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, us: 0.001, 'µs': 0.001, 'μs': 0.001, s: 1000 };

/** Parses `p99<=5ms`, `p999<2.5ms`, `max<=1s`, `p50<800us`. */
export function parseSlo(text: string): Slo {
  const match = SLO_PATTERN.exec(text.replace(/\s+/g, '').toLowerCase());
  if (match === null) {
    throw new SweepUsageError(
      `--slo must look like p99<=5ms (p50, p95, p99, p999 or max; <= or <; a number with ms, us or s), got ${JSON.stringify(text)}`,
    );
  }
  const [, metricText, operator, number, unit] = match as unknown as [string, string, string, string, string];
  const thresholdMs = Number(number) * (UNIT_MS[unit] ?? Number.NaN);
  if (!(thresholdMs > 0)) throw new SweepUsageError(`--slo needs a threshold above 0, got ${JSON.stringify(text)}`);
  const metric = (metricText === 'p99.9' ? 'p999' : metricText) as SloMetric;
  return { text, metric, thresholdMs, inclusive: operator !== '<' };
}

export function sloLatencyMet(slo: Slo, latencyMs: LatencySummaryMs): boolean {
  const valueMs = latencyMs[slo.metric];
  return slo.inclusive ? valueMs <= slo.thresholdMs : valueMs < slo.thresholdMs;
}

/** What the recommendation looks at in one run. */
export interface Outcome {
  messages: number;
  msgsPerSec: number;
  failures: number;
  latencyMs: LatencySummaryMs;
}

export interface Choice {
  /** Per outcome: messages acknowledged, none failed, and the latency objective met. */
  meets: boolean[];
  /** The fastest outcome that meets the objective, or null. */
  recommended: number | null;
  /** When none meets it: the run nearest to the objective (failure-free ones first), else null. */
  closest: number | null;
}

export function recommend(slo: Slo, outcomes: readonly Outcome[]): Choice {
  const meets = outcomes.map((o) => o.messages > 0 && o.failures === 0 && sloLatencyMet(slo, o.latencyMs));
  const metric = (i: number): number => outcomes[i]!.latencyMs[slo.metric];
  const rate = (i: number): number => outcomes[i]!.msgsPerSec;
  const indexes = outcomes.map((_, i) => i);
  // Highest rate; on a tie the lower latency, then the earlier run.
  const fastest = indexes.filter((i) => meets[i]).sort((a, b) => rate(b) - rate(a) || metric(a) - metric(b) || a - b);
  if (fastest.length > 0) return { meets, recommended: fastest[0]!, closest: null };
  const measured = indexes.filter((i) => outcomes[i]!.messages > 0);
  const clean = measured.filter((i) => outcomes[i]!.failures === 0);
  const pool = clean.length > 0 ? clean : measured;
  const nearest = pool.sort((a, b) => metric(a) - metric(b) || rate(b) - rate(a) || a - b);
  return { meets, recommended: null, closest: nearest[0] ?? null };
}
