// `mqstore bench`: the throughput benchmark. Options follow RocketMQ's benchmark producer
// (-w threads, -s size, -k keys, -t topic, -l tags, -q quantity) plus every store configuration
// key as a flag (--flushDiskType, --flushIntervalCommitLog, …) or a broker.conf (--config).
// The run itself is src/bench/bench_run.ts; the output formats are ../bench_output.ts.

import { Command, InvalidArgumentError, Option } from 'commander';
import { CONFIG_KEYS, configFromText, type MessageStoreConfig } from '../../config.js';
import { runBench, type BenchWorkload } from '../../bench/bench_run.js';
import { BENCH_FORMATS, formatInterval, formatStart, formatSummary, type BenchFormat } from '../bench_output.js';

export interface BenchFlags {
  concurrency: number;
  size: number;
  keys: boolean;
  topic: string;
  topics: number;
  queues: number;
  tags: number;
  count: number;
  duration: number;
  batch: number;
  tps: number;
  consume: boolean;
  warmup: number;
  reportInterval?: number;
  format: BenchFormat;
  json: boolean;
  store?: string;
  config?: string;
  baselines: boolean;
  expectFs?: string;
  [configKey: string]: unknown;
}

/** Each tool's own reporting interval: RocketMQ's benchmark -ri 10000, kafka-producer-perf-test 5000. */
const DEFAULT_REPORT_INTERVAL_MS: Readonly<Record<BenchFormat, number>> = { mqstore: 1000, rocketmq: 10_000, kafka: 5000 };

/** Keys the bench decides itself, or that only name files. */
const NOT_FLAGS = new Set<string>(['storePathRootDir', 'configFile']);

export function positiveInt(name: string, min = 1): (text: string) => number {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
    }
    return n;
  };
}

export function nonNegativeNumber(name: string): (text: string) => number {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number ≥ 0, got ${JSON.stringify(text)}`);
    return n;
  };
}

function topicName(text: string): string {
  if (text.length === 0) throw new InvalidArgumentError('--topic must not be empty');
  return text;
}

export function positiveNumber(name: string): (text: string) => number {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0, got ${JSON.stringify(text)}`);
    return n;
  };
}

/** Adds one `--<key> <value>` flag per store configuration key, checked like a config file line. */
export function addConfigFlags(command: Command, parse: (key: string, text: string) => unknown): void {
  for (const key of CONFIG_KEYS) {
    if (NOT_FLAGS.has(key)) continue;
    command.addOption(new Option(`--${key} <value>`, `store configuration key ${key}`).argParser((text: string) => parse(key, text)).hideHelp());
  }
}

export function checkConfigFlag(key: string, text: string): unknown {
  try {
    return configFromText({ [key]: text })[key as keyof MessageStoreConfig];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** The store configuration given by flags: every config key present in `flags`, and --config. */
export function configFromFlags(flags: Record<string, unknown>): Partial<MessageStoreConfig> {
  const config: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    if (!NOT_FLAGS.has(key) && flags[key] !== undefined) config[key] = flags[key];
  }
  if (typeof flags.config === 'string') config.configFile = flags.config;
  return config as Partial<MessageStoreConfig>;
}

export function registerBench(program: Command): void {
  const command = program
    .command('bench')
    .description('put (and optionally consume) throughput and latency of a store, with the disk\'s own baselines measured in the same run')
    .option('-w, --concurrency <n>', 'sends in flight (RocketMQ -w threadCount)', positiveInt('--concurrency'), 64)
    .option('-s, --size <bytes>', 'message body bytes (RocketMQ -s)', positiveInt('--size', 0), 128)
    .option('-k, --keys', 'give every message a unique key (indexed; RocketMQ -k)', false)
    .option('-t, --topic <name>', 'topic name (several topics: <name>-<i>)', topicName, 'BenchmarkTest')
    .option('--topics <n>', 'number of topics', positiveInt('--topics'), 1)
    .option('--queues <n>', 'queues per topic', positiveInt('--queues'), 4)
    .option('-l, --tags <n>', 'distinct tags, round robin (0 = none; RocketMQ -l)', positiveInt('--tags', 0), 0)
    .option('-q, --count <n>', 'messages to send (0 = run for --duration; RocketMQ -q)', positiveInt('--count', 0), 0)
    .option('-d, --duration <seconds>', 'how long to send when --count is 0', positiveNumber('--duration'), 10)
    .option('-b, --batch <n>', 'messages per send (putMessages when > 1)', positiveInt('--batch'), 1)
    .option('--tps <n>', 'target messages per second (0 = unthrottled; latency is then also measured from each send\'s scheduled time)', positiveInt('--tps', 0), 0)
    .option('--consume', 'pull every message back through getMessage while sending; report consume rate and end-to-end latency', false)
    .option('--warmup <seconds>', 'untimed sends before the measured run', nonNegativeNumber('--warmup'), 0)
    .option('--report-interval <ms>', 'ms between periodic lines (default 1000; RocketMQ\'s 10000 with --format rocketmq, Kafka\'s 5000 with --format kafka)', positiveInt('--report-interval', 100))
    .addOption(new Option('--format <format>', 'output format').choices(BENCH_FORMATS).default('mqstore'))
    .option('--json', 'print one JSON document with the results on stdout (progress goes to stderr)', false)
    .option('--store <dir>', 'store directory to use and keep (default: a temporary directory, removed after)')
    .option('--config <broker.conf>', 'read store configuration keys from a broker.conf-style file')
    .option('--no-baselines', 'skip the disk baselines')
    .option('--expect-fs <type>', 'warn unless the store is on this filesystem (e.g. xfs, ext2/3/4)')
    .addHelpText(
      'after',
      `
Every store configuration key is also a flag: --flushDiskType SYNC_FLUSH, --flushIntervalCommitLog 200,
--flushCommitLogLeastPages 0, --transientStorePoolEnable true, --commitIntervalCommitLog 100,
--mappedFileSizeCommitLog 268435456, --warmMapedFileEnable true, --messageIndexEnable false, ...
Flags win over --config. Latency is the time from each send call to its acknowledgement.

Examples:
  mqstore bench -w 64 -s 1024 --flushDiskType SYNC_FLUSH -d 20
  mqstore bench --config broker.conf --consume --format rocketmq
  mqstore bench -q 1000000 -s 100 --format kafka
  mqstore bench --json > result.json`,
    );
  addConfigFlags(command, checkConfigFlag);
  command.action(async (flags: BenchFlags) => {
    await runBenchCommand(flags);
  });
}

export function workloadFromFlags(flags: BenchFlags): BenchWorkload {
  const reportIntervalMs = flags.reportInterval ?? DEFAULT_REPORT_INTERVAL_MS[flags.json ? 'mqstore' : flags.format];
  return {
    concurrency: flags.concurrency,
    sizeBytes: flags.size,
    keys: flags.keys,
    topic: flags.topic,
    topics: flags.topics,
    queuesPerTopic: flags.queues,
    tags: flags.tags,
    batch: flags.batch,
    count: flags.count,
    durationMs: Math.round(flags.duration * 1000),
    tps: flags.tps,
    consume: flags.consume,
    reportIntervalMs,
    warmupMs: Math.round(flags.warmup * 1000),
  };
}

async function runBenchCommand(flags: BenchFlags): Promise<void> {
  const workload = workloadFromFlags(flags);
  // With --json, stdout carries exactly one JSON document; everything else goes to stderr.
  const out = (line: string): void => {
    (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
  };
  const format: BenchFormat = flags.json ? 'mqstore' : flags.format;
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) {
      // A second Ctrl-C: stop now (runBench removes its temporary directories on exit).
      process.exit(130);
    }
    out('interrupted: finishing the sends in flight, then the summary (Ctrl-C again to quit now)');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    const result = await runBench({
      workload,
      config: configFromFlags(flags),
      ...(flags.store !== undefined ? { storeDir: flags.store } : {}),
      baselines: flags.baselines,
      ...(flags.expectFs !== undefined ? { expectedFs: flags.expectFs } : {}),
      signal: abort.signal,
      onStart: (start) => formatStart(start, format).forEach(out),
      onInterval: (interval) => formatInterval(interval, format).forEach(out),
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else formatSummary(result, format).forEach(out);
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}
