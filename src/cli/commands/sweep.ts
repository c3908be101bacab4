// `mqstore sweep`: runs `mqstore bench` over a grid of store and workload configurations
// (comma lists per knob, or --list), one fresh temporary store each, then writes results.csv,
// results.json and two SVG charts into --out, prints a table, and with --slo recommends the
// fastest configuration that meets a latency objective as broker.conf lines. Grid expansion,
// collapsing and the recommendation are pure (src/bench/sweep_grid.ts); the charts are
// src/bench/sweep_charts.ts; each run is src/bench/bench_run.ts's runBench().
//
// Every knob is checked by the `mqstore bench` option of the same name (its parser is read off
// the registered bench command), so a value the bench refuses is refused here too, exit code 2.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, type Option } from 'commander';
import { CONFIG_KEYS, resolveConfig } from '../../config.js';
import { runBench, type BenchInterval, type BenchResult } from '../../bench/bench_run.js';
import { filesystemOf, machineInfo, type MachineInfo } from '../../bench/environment.js';
import type { ChartContext, ChartPoint } from '../../bench/sweep_charts.js';
import {
  brokerConfLines,
  expandGrid,
  ignoredKnobs,
  knobsText,
  parseList,
  parseSlo,
  recommend,
  splitAxis,
  SweepUsageError,
  WORKLOAD_KNOBS,
  type Choice,
  type Grid,
  type GridAxis,
  type GridPoint,
  type KnobValue,
  type Knobs,
  type Slo,
} from '../../bench/sweep_grid.js';
import { addConfigFlags, checkConfigFlag, configFromFlags, positiveNumber, registerBench, workloadFromFlags, type BenchFlags } from './bench.js';

interface SweepFlags {
  out: string;
  duration: number;
  warmup: number;
  slo?: Slo;
  list?: string;
  dir?: string;
  config?: string;
  baselines: boolean;
  expectFs?: string;
  /** Axes: every workload knob and store key given, as its checked values. */
  [knob: string]: unknown;
}

interface SweepRun {
  /** 1-based, as printed. */
  index: number;
  point: GridPoint;
  result: BenchResult;
}

interface Sweep {
  flags: SweepFlags;
  grid: Grid;
  axes: GridAxis[];
  list: Knobs[] | null;
  base: Knobs;
  /** Every bench option's default (topic, count 0, tps 0, …): the runs differ only in the knobs. */
  benchDefaults: Record<string, unknown>;
  date: string;
  machine: MachineInfo;
  filesystem: string;
  runs: SweepRun[];
  interrupted: boolean;
}

/** Columns every results row has, after the varied knobs. */
const ALWAYS_KNOBS = ['flushDiskType', 'concurrency', 'size'];
const SHORT_FLAGS: Readonly<Record<string, string>> = { concurrency: '-w', size: '-s', batch: '-b' };

const HELP_AFTER = `
Axes are comma lists named after the knobs: every store configuration key (as for mqstore bench:
--flushDiskType ASYNC_FLUSH,SYNC_FLUSH --flushIntervalCommitLog 100,500 --flushCommitLogLeastPages 0,4
--transientStorePoolEnable false,true --commitIntervalCommitLog 50,200 ...) and the workload knobs
--concurrency --size --batch --keys --topics --queues --tags. The grid is their product; --list
runs an explicit JSON array of objects {knob: value} (crossed with any axes given). Knobs a
configuration ignores (the flush timer under SYNC_FLUSH, commit* without the transient store pool,
syncFlushTimeout under ASYNC_FLUSH) collapse, and identical runs are made once.

--slo takes p50, p95, p99, p999 or max, <= or <, and a number with ms, us or s. Quote it: < is
a shell redirection.

Examples:
  mqstore sweep --out sweep --duration 10 --flushDiskType ASYNC_FLUSH,SYNC_FLUSH --concurrency 16,256 \\
    --flushIntervalCommitLog 100,500 --slo 'p99<=5ms'
  mqstore sweep --out sweep --list configs.json --size 1024 --slo 'p999<20ms'`;

export function registerSweep(program: Command): void {
  const bench = benchOptions();
  const command = program
    .command('sweep')
    .description('run mqstore bench over a grid of flush-policy and workload configurations; chart them and recommend one for a latency objective')
    .requiredOption('-o, --out <dir>', 'directory for results.csv, results.json, the SVG charts and recommended-broker.conf (created if missing)')
    .option('-d, --duration <seconds>', 'measured seconds per configuration', positiveNumber('--duration'), 10)
    .option('--warmup <seconds>', 'untimed sends before each measured run', (text: string) => (text === '0' ? 0 : positiveNumber('--warmup')(text)), 0)
    .option('--slo <objective>', 'latency objective, e.g. "p99<=5ms": recommend the fastest configuration meeting it', usageParser(parseSlo))
    .option('--list <file.json>', 'run the configurations in this JSON array of objects {knob: value}')
    .option('--dir <dir>', 'where the temporary stores go (default: the OS temp dir); put it on the disk to measure')
    .option('--config <broker.conf>', 'base store configuration under every configuration')
    .option('--no-baselines', 'skip the disk baselines (otherwise measured once, with the first configuration)')
    .option('--expect-fs <type>', 'warn unless the stores are on this filesystem (e.g. xfs, ext2/3/4)')
    .addHelpText('after', HELP_AFTER);
  for (const knob of WORKLOAD_KNOBS) {
    const short = SHORT_FLAGS[knob];
    const flags = `${short === undefined ? '' : `${short}, `}--${knob} <list>`;
    const parse = usageParser((text) => splitAxis(text).map((item) => parseKnob(bench, knob, item)));
    command.option(flags, `axis: ${bench.get(knob)?.description ?? knob}`, parse);
  }
  addConfigFlags(command, (key, text) => usageParser((list) => splitAxis(list).map((item) => checkConfigFlag(key, item)))(text));
  command.action(async function (this: Command, flags: SweepFlags) {
    let sweep: Sweep;
    try {
      sweep = await planSweep(flags, bench);
    } catch (error) {
      if (error instanceof SweepUsageError) this.error(`error: ${error.message}`, { exitCode: 2, code: 'mqstore.usage' });
      throw error;
    }
    await runSweep(sweep);
    await finishSweep(sweep);
  });
}

/** The `mqstore bench` options by attribute name: each knob's parser and default. */
function benchOptions(): Map<string, Option> {
  const program = new Command();
  registerBench(program);
  const bench = program.commands.find((c) => c.name() === 'bench');
  if (bench === undefined) throw new Error('mqstore bench is not registered');
  return new Map(bench.options.map((option) => [option.attributeName(), option]));
}

function parseKnob(bench: Map<string, Option>, knob: string, text: string): KnobValue {
  const option = bench.get(knob);
  const isKnob = WORKLOAD_KNOBS.includes(knob) || ((CONFIG_KEYS as readonly string[]).includes(knob) && option !== undefined);
  if (option === undefined || !isKnob) throw new SweepUsageError(`unknown knob ${JSON.stringify(knob)}`);
  if (option.isBoolean()) {
    // A bench switch (--keys): on an axis it takes true or false.
    if (text !== 'true' && text !== 'false') throw new InvalidArgumentError(`--${knob} must be true or false, got ${JSON.stringify(text)}`);
    return text === 'true';
  }
  if (option.parseArg === undefined) return text;
  return option.parseArg<KnobValue>(text, option.defaultValue as KnobValue);
}

/** Wraps a parser so that SweepUsageError reaches commander as an invalid argument (exit 2). */
function usageParser<T>(parse: (text: string) => T): (text: string) => T {
  return (text: string): T => {
    try {
      return parse(text);
    } catch (error) {
      if (error instanceof SweepUsageError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

async function planSweep(flags: SweepFlags, bench: Map<string, Option>): Promise<Sweep> {
  const axes: GridAxis[] = [];
  for (const knob of [...CONFIG_KEYS, ...WORKLOAD_KNOBS]) {
    const values = flags[knob];
    if (Array.isArray(values)) axes.push({ knob, values: values as KnobValue[] });
  }
  let list: Knobs[] | null = null;
  if (flags.list !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(flags.list, 'utf8');
    } catch (error) {
      throw new SweepUsageError(`cannot read --list ${flags.list}: ${(error as Error).message}`);
    }
    list = parseList(text, (knob, value) => usageParser((item) => parseKnob(bench, knob, item))(value));
  }
  // What each knob is when a configuration leaves it alone: the store's defaults under --config,
  // and the bench's defaults for the workload.
  const config = await resolveConfig({ storePathRootDir: os.tmpdir(), ...(flags.config !== undefined ? { configFile: flags.config } : {}) });
  const base: Record<string, KnobValue> = {};
  for (const key of CONFIG_KEYS) base[key] = config[key];
  for (const knob of WORKLOAD_KNOBS) base[knob] = bench.get(knob)?.defaultValue as KnobValue;
  const grid = expandGrid(axes, list, base);
  const parent = path.resolve(flags.dir ?? os.tmpdir());
  fs.mkdirSync(parent, { recursive: true });
  return {
    flags,
    grid,
    axes,
    list,
    base,
    benchDefaults: Object.fromEntries([...bench].filter(([, o]) => o.defaultValue !== undefined).map(([name, o]) => [name, o.defaultValue])),
    date: new Date().toISOString(),
    machine: machineInfo(),
    filesystem: filesystemOf(parent),
    runs: [],
    interrupted: false,
  };
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function runSweep(sweep: Sweep): Promise<void> {
  const { flags, grid } = sweep;
  const total = grid.points.length;
  out(`# mqstore sweep: ${total} configuration(s) × ${flags.duration} s, stores under ${path.resolve(flags.dir ?? os.tmpdir())} (${sweep.filesystem})`);
  for (const skip of grid.skipped) out(`skipped ${knobsText(skip.knobs)}: ${skip.reason}`);
  fs.mkdirSync(flags.out, { recursive: true });
  const progress = new Progress(total, flags.duration + flags.warmup + 1, process.stdout.isTTY === true && process.stderr.isTTY === true);
  const abort = new AbortController();
  const onSignal = (): void => {
    // A second Ctrl-C quits at once (the bench removes its temporary store on exit).
    if (sweep.interrupted) process.exit(130);
    progress.clear();
    out('interrupted: stopping this configuration (not recorded: it ran short), then writing the results so far');
    sweep.interrupted = true;
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    for (const [i, point] of grid.points.entries()) {
      if (sweep.interrupted) break;
      progress.begin(i + 1, point.label, flags.duration);
      const result = await runPoint(sweep, point, i === 0 && flags.baselines, abort.signal, (interval) => progress.tick(interval));
      // A run cut short by Ctrl-C is not comparable with the others: not in the results.
      if (abort.signal.aborted) break;
      sweep.runs.push({ index: i + 1, point, result });
      progress.end(result);
      writeTables(sweep, null);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    progress.clear();
  }
}

async function runPoint(
  sweep: Sweep,
  point: GridPoint,
  baselines: boolean,
  signal: AbortSignal,
  onInterval: (interval: BenchInterval) => void,
): Promise<BenchResult> {
  const { flags } = sweep;
  const workloadFlags = Object.fromEntries(WORKLOAD_KNOBS.map((knob) => [knob, point.knobs[knob] ?? sweep.base[knob]]));
  const benchFlags = { ...sweep.benchDefaults, ...workloadFlags, duration: flags.duration, warmup: flags.warmup } as BenchFlags;
  // A fresh temporary store per configuration, removed by the bench (a CommitLog configured
  // elsewhere gets a fresh temporary directory there too).
  return runBench({
    workload: workloadFromFlags(benchFlags),
    config: configFromFlags({ ...point.knobs, config: flags.config }),
    tempParentDir: path.resolve(flags.dir ?? os.tmpdir()),
    baselines,
    ...(flags.expectFs !== undefined ? { expectedFs: flags.expectFs } : {}),
    signal,
    onInterval,
  });
}

/**
 * Progress while configurations run. On a terminal a live line on stderr (configuration i of N,
 * current rate, ETA); otherwise plain lines on stdout, one when a configuration starts.
 * Either way one line per finished configuration on stdout.
 */
class Progress {
  private readonly startedMs = performance.now();
  private finished = 0;
  private finishedMs = 0;
  private index = 0;
  private label = '';
  private durationSec = 0;

  constructor(
    private readonly total: number,
    private readonly estimateSec: number,
    private readonly live: boolean,
  ) {}

  begin(index: number, label: string, durationSec: number): void {
    this.index = index;
    this.label = label;
    this.durationSec = durationSec;
    if (this.live) this.show(`[${index}/${this.total}] starting  ETA ${clock(this.etaSec(0))}  ${label}`);
    else out(`${this.prefix()} ... running ${durationSec} s`);
  }

  tick(interval: BenchInterval): void {
    if (!this.live) return;
    const rate = Math.round(interval.msgsPerSec).toLocaleString('en-US');
    // The figures first: a narrow terminal cuts the label, not them.
    this.show(
      `[${this.index}/${this.total}] ${interval.tSec.toFixed(0)}/${this.durationSec} s  ${rate} msgs/s  ` +
        `p99 ${interval.latencyMs.p99.toFixed(2)} ms  ETA ${clock(this.etaSec(interval.tSec))}  ${this.label}`,
    );
  }

  end(result: BenchResult): void {
    this.finished += 1;
    this.finishedMs = performance.now();
    this.clear();
    out(`${this.prefix()} ${summaryText(result)}`);
  }

  clear(): void {
    if (this.live) process.stderr.write('\r\x1b[K');
  }

  private prefix(): string {
    return `[${this.index}/${this.total}] ${this.label}`;
  }

  /** Seconds left: this run's rest plus the others at the mean time a run has taken so far. */
  private etaSec(runSec: number): number {
    const perRunSec = this.finished > 0 ? (this.finishedMs - this.startedMs) / 1000 / this.finished : this.estimateSec;
    return Math.max(0, perRunSec - runSec) + perRunSec * (this.total - this.index);
  }

  private show(line: string): void {
    const columns = process.stderr.columns ?? 0; // 0 in a pseudo-terminal without a size
    const width = columns > 0 ? columns - 1 : 100;
    process.stderr.write(`\r\x1b[K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  }
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function failuresOf(result: BenchResult): number {
  return result.sendFailed + result.responseFailed;
}

function summaryText(result: BenchResult): string {
  const l = result.latencyMs;
  return `${Math.round(result.msgsPerSec).toLocaleString('en-US')} msgs/s, p99 ${l.p99.toFixed(3)} ms, max ${l.max.toFixed(3)} ms, failed ${failuresOf(result)}`;
}

async function finishSweep(sweep: Sweep): Promise<void> {
  const { flags } = sweep;
  const choice = flags.slo === undefined ? null : recommend(flags.slo, sweep.runs.map((run) => ({ ...run.result, failures: failuresOf(run.result) })));
  writeTables(sweep, choice);
  await writeCharts(sweep, choice);
  out('');
  for (const line of tableLines(sweep, choice)) out(line);
  printWarnings(sweep.runs);
  out('');
  for (const line of recommendationLines(sweep, choice)) out(line);
  out(`results: ${['results.csv', 'results.json', 'throughput-vs-p99.svg', 'latency-percentiles.svg'].map((f) => path.join(flags.out, f)).join(', ')}`);
}

/** The knob columns: the varied knobs, then flushDiskType, concurrency and size. */
function knobColumns(grid: Grid): string[] {
  return [...grid.varied.filter((knob) => !ALWAYS_KNOBS.includes(knob)), ...ALWAYS_KNOBS];
}

/** A knob's value in a run, or null where the run ignores it. */
function knobValue(sweep: Sweep, run: SweepRun, knob: string): KnobValue | null {
  const resolved = { ...sweep.base, ...run.point.knobs };
  if (ignoredKnobs(resolved).has(knob)) return null;
  return resolved[knob] ?? null;
}

const CSV_METRICS: readonly [string, (r: BenchResult) => number, number][] = [
  ['msgsPerSec', (r) => r.msgsPerSec, 1],
  ['mbPerSec', (r) => r.mbPerSec, 3],
  ['p50Ms', (r) => r.latencyMs.p50, 3],
  ['p95Ms', (r) => r.latencyMs.p95, 3],
  ['p99Ms', (r) => r.latencyMs.p99, 3],
  ['p999Ms', (r) => r.latencyMs.p999, 3],
  ['maxMs', (r) => r.latencyMs.max, 3],
  ['fsyncsPerSec', (r) => r.fsyncsPerSec, 1],
  ['msgsPerFsync', (r) => r.msgsPerFsync, 1],
  ['bytesPerFsync', (r) => r.bytesPerFsync, 0],
  ['failures', failuresOf, 0],
];

function csvCell(value: KnobValue | null): string {
  const text = value === null ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLines(sweep: Sweep): string[] {
  const knobs = knobColumns(sweep.grid);
  const lines = [[...knobs, ...CSV_METRICS.map(([name]) => name)].join(',')];
  for (const run of sweep.runs) {
    const metrics = CSV_METRICS.map(([, get, digits]) => String(Number(get(run.result).toFixed(digits))));
    lines.push([...knobs.map((knob) => csvCell(knobValue(sweep, run, knob))), ...metrics].join(','));
  }
  return lines;
}

function tableLines(sweep: Sweep, choice: Choice | null): string[] {
  const knobs = knobColumns(sweep.grid);
  const fixed = (digits: number) => (n: number): string => n.toFixed(digits);
  const int = (n: number): string => Math.round(n).toLocaleString('en-US');
  const metrics: [string, (r: BenchResult) => string][] = [
    ['msgs/s', (r) => int(r.msgsPerSec)],
    ['MB/s', (r) => fixed(1)(r.mbPerSec)],
    ['p50 ms', (r) => fixed(3)(r.latencyMs.p50)],
    ['p95', (r) => fixed(3)(r.latencyMs.p95)],
    ['p99', (r) => fixed(3)(r.latencyMs.p99)],
    ['p99.9', (r) => fixed(3)(r.latencyMs.p999)],
    ['max', (r) => fixed(3)(r.latencyMs.max)],
    ['fsyncs/s', (r) => int(r.fsyncsPerSec)],
    ['msgs/fsync', (r) => fixed(1)(r.msgsPerFsync)],
    ['failed', (r) => String(failuresOf(r))],
  ];
  const header = ['#', ...knobs, ...metrics.map(([name]) => name), ...(choice === null ? [] : ['slo'])];
  const rows = sweep.runs.map((run, i) => [
    `${run.index}${choice?.recommended === i ? '*' : ''}`,
    ...knobs.map((knob) => String(knobValue(sweep, run, knob) ?? '-')),
    ...metrics.map(([, get]) => get(run.result)),
    ...(choice === null ? [] : [choice.meets[i] === true ? 'met' : 'missed']),
  ]);
  const widths = header.map((name, c) => Math.max(name.length, ...rows.map((row) => row[c]!.length)));
  const numeric = (c: number): boolean => c === 0 || c > knobs.length;
  const render = (cells: string[]): string => cells.map((cell, c) => (numeric(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [render(header), ...rows.map(render)];
}

function printWarnings(runs: readonly SweepRun[]): void {
  const byText = new Map<string, number[]>();
  for (const run of runs) for (const warning of run.result.warnings) byText.set(warning, [...(byText.get(warning) ?? []), run.index]);
  for (const [warning, indexes] of byText) out(`WARNING (${indexes.length === runs.length ? 'all' : indexes.map((i) => `#${i}`).join(' ')}): ${warning}`);
}

function sloName(slo: Slo): string {
  return slo.metric === 'p999' ? 'p99.9' : slo.metric;
}

function recommendationLines(sweep: Sweep, choice: Choice | null): string[] {
  const { flags, runs } = sweep;
  const slo = flags.slo;
  if (slo === undefined || choice === null) return ['no --slo given: no recommendation'];
  const describe = (run: SweepRun): string =>
    `#${run.index} ${run.point.label}: ${Math.round(run.result.msgsPerSec).toLocaleString('en-US')} msgs/s, ` +
    `${sloName(slo)} ${run.result.latencyMs[slo.metric].toFixed(3)} ms`;
  if (choice.recommended !== null) {
    const run = runs[choice.recommended]!;
    return [
      `recommended for ${slo.text}: ${describe(run)}`,
      `broker.conf (also in ${path.join(flags.out, 'recommended-broker.conf')}):`,
      ...brokerConfLines(run.point, sweep.base),
    ];
  }
  const lines = [`no configuration meets ${slo.text} (with no failed sends)`];
  if (choice.closest !== null) {
    const run = runs[choice.closest]!;
    const ratio = run.result.latencyMs[slo.metric] / slo.thresholdMs;
    lines.push(`closest: ${describe(run)} (${ratio.toFixed(1)}× the objective, ${failuresOf(run.result)} failed)`);
  }
  return lines;
}

/** Writes results.csv and results.json (after every run, so an interrupted sweep keeps its runs). */
function writeTables(sweep: Sweep, choice: Choice | null): void {
  const { flags, grid, runs } = sweep;
  fs.writeFileSync(path.join(flags.out, 'results.csv'), `${csvLines(sweep).join('\n')}\n`);
  const summary = (i: number | null): object | null => {
    if (i === null) return null;
    const run = runs[i]!;
    return {
      index: run.index,
      label: run.point.label,
      knobs: run.point.knobs,
      msgsPerSec: run.result.msgsPerSec,
      latencyMs: run.result.latencyMs,
      brokerConf: brokerConfLines(run.point, sweep.base),
    };
  };
  const document = {
    tool: 'mqstore sweep',
    date: sweep.date,
    machine: sweep.machine,
    filesystem: sweep.filesystem,
    durationSecPerConfiguration: flags.duration,
    warmupSec: flags.warmup,
    configFile: flags.config ?? null,
    grid: {
      axes: Object.fromEntries(sweep.axes.map((axis) => [axis.knob, axis.values])),
      list: sweep.list,
      varied: grid.varied,
      configurations: grid.points.map((point, i) => ({ index: i + 1, label: point.label, knobs: point.knobs })),
      skipped: grid.skipped.map((skip) => ({ knobs: skip.knobs, sameAs: skip.sameAs + 1, reason: skip.reason })),
    },
    slo: flags.slo ?? null,
    recommendation: summary(choice?.recommended ?? null),
    closest: summary(choice?.closest ?? null),
    baselines: runs[0]?.result.baselines ?? {},
    interrupted: sweep.interrupted,
    results: runs.map((run) => ({ index: run.index, label: run.point.label, knobs: run.point.knobs, ...run.result })),
  };
  fs.writeFileSync(path.join(flags.out, 'results.json'), `${JSON.stringify(document, null, 2)}\n`);
  const conf = path.join(flags.out, 'recommended-broker.conf');
  if (choice?.recommended != null) fs.writeFileSync(conf, `${brokerConfLines(runs[choice.recommended]!.point, sweep.base).join('\n')}\n`);
  else fs.rmSync(conf, { force: true }); // never leave an earlier sweep's recommendation behind
}

async function writeCharts(sweep: Sweep, choice: Choice | null): Promise<void> {
  const charts = await import('../../bench/sweep_charts.js');
  const points: ChartPoint[] = sweep.runs.map((run, i) => ({
    index: run.index,
    label: run.point.label,
    flushDiskType: String(knobValue(sweep, run, 'flushDiskType')),
    msgsPerSec: run.result.msgsPerSec,
    latencyMs: run.result.latencyMs,
    recommended: choice?.recommended === i,
  }));
  const m = sweep.machine;
  const subtitle = `${sweep.date.slice(0, 10)}, ${m.cpus} × ${m.cpuModel}, ${sweep.filesystem}, node ${m.node}, ${sweep.flags.duration} s per configuration`;
  const context = (title: string): ChartContext => ({ title, subtitle, slo: sweep.flags.slo ?? null });
  const throughput = await charts.renderSvg(charts.throughputSpec(points, context('mqstore sweep: throughput vs p99 send latency')));
  fs.writeFileSync(path.join(sweep.flags.out, 'throughput-vs-p99.svg'), throughput);
  const percentiles = await charts.renderSvg(charts.percentilesSpec(points, context('mqstore sweep: send latency percentiles')));
  fs.writeFileSync(path.join(sweep.flags.out, 'latency-percentiles.svg'), percentiles);
}
