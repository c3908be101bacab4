// Goal: `mqstore bench` sends what it is told to (count, batch, rate, topics and queues), counts
// failures by status, reads everything back with --consume, measures the disk baselines in the
// same run, and prints its results in each format: mqstore's own, RocketMQ's benchmark lines,
// kafka-producer-perf-test's lines, and one JSON document on stdout with --json.
// Method: the bin as a child process on a temp store (--store keeps it, so the store itself can
// be checked afterwards with `mqstore stats`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchResult } from '../../src/bench/bench_run.js';
import type { StoreStats } from '../../src/cli/commands/stats.js';
import { CLI_BIN, runCli } from '../support/cli.js';

function tempDir(t: { after: (fn: () => void) => void }, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mqstore-cli-bench-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function benchJson(...args: string[]): { result: BenchResult; stderr: string } {
  const run = runCli('bench', '--json', ...args);
  assert.equal(run.status, 0, run.stderr);
  // Exactly one JSON document on stdout: JSON.parse fails on anything else.
  return { result: JSON.parse(run.stdout) as BenchResult, stderr: run.stderr };
}

test('--json: one document with the contract fields, the baselines and their ratios; progress on stderr', () => {
  const { result, stderr } = benchJson('-d', '1', '-w', '16', '-s', '256', '--report-interval', '200');
  for (const key of ['msgsPerSec', 'mbPerSec', 'fsyncsPerSec', 'msgsPerFsync', 'bytesPerFsync'] as const) {
    assert.equal(typeof result[key], 'number', key);
  }
  assert.ok(result.messages > 0 && result.msgsPerSec > 0);
  assert.deepEqual(Object.keys(result.latencyMs).sort(), ['avg', 'count', 'max', 'p50', 'p95', 'p99', 'p999'].sort());
  const l = result.latencyMs;
  assert.ok(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, JSON.stringify(l));
  assert.equal(l.count, result.sends, 'one latency sample per send');
  assert.deepEqual(result.failures, {});
  assert.equal(result.config.flushDiskType, 'ASYNC_FLUSH');
  assert.equal(result.workload.sizeBytes, 256);
  assert.ok(Math.abs(result.mbPerSec - (result.msgsPerSec * 256) / 1e6) < 1e-6 * result.mbPerSec + 1e-9);
  assert.ok(result.intervals.length >= 3, `${result.intervals.length} intervals`);
  const pageCache = result.baselines.pageCacheWrite!;
  assert.ok(pageCache.mbPerSec > 0 && pageCache.bytesWritten > 0);
  const fdatasync = result.baselines.writeFdatasync!;
  assert.ok(fdatasync.writes > 0 && fdatasync.opsPerSec > 0);
  if (result.fsyncs > 0) assert.equal(fdatasync.bytesPerWrite, Math.round(result.bytesPerFsync), 'baseline at the engine\'s batch size');
  assert.ok(result.efficiency.logWriteVsPageCache! > 0);
  assert.equal(result.efficiency.fsyncsVsWriteFdatasync, undefined, 'ASYNC_FLUSH fsyncs follow the timer: no ratio');
  assert.match(stderr, /^config {6}flushDiskType=ASYNC_FLUSH flushIntervalCommitLog=500 /m, 'effective configuration first');
});

test('count, batch and queues: exactly the messages asked for, all in the store afterwards', (t) => {
  const store = path.join(tempDir(t, 'count'), 'store');
  const { result } = benchJson('-q', '1000', '-b', '10', '-w', '4', '--topics', '2', '--queues', '3', '-t', 'Bt', '--store', store, '--no-baselines');
  assert.equal(result.messages, 1000);
  assert.equal(result.sends, 100, 'ten messages per putMessages');
  assert.deepEqual(result.baselines, {});
  const stats = runCli('stats', store, '--json');
  assert.equal(stats.status, 0, stats.stderr);
  const queues = (JSON.parse(stats.stdout) as StoreStats).queues;
  assert.deepEqual(queues.map((q) => `${q.topic}/${q.queueId}`).sort(), ['Bt-0/0', 'Bt-0/1', 'Bt-0/2', 'Bt-1/0', 'Bt-1/1', 'Bt-1/2']);
  assert.equal(queues.reduce((sum, q) => sum + q.messages, 0), 1000);
  assert.equal(runCli('verify', store).status, 0, 'the bench leaves a valid store');
});

test('failures are counted by status and never as sent messages', () => {
  const { result } = benchJson('-q', '50', '-s', '2000', '--maxMessageSize', '1000', '--no-baselines');
  assert.equal(result.messages, 0);
  assert.deepEqual(result.failures, { MESSAGE_ILLEGAL: 50 });
  assert.equal(result.responseFailed, 50);
  assert.ok(result.warnings.some((w) => w.includes('MESSAGE_ILLEGAL')));
});

test('--config broker.conf is read and flags win over it', (t) => {
  const dir = tempDir(t, 'conf');
  const conf = path.join(dir, 'broker.conf');
  fs.writeFileSync(conf, 'flushDiskType=SYNC_FLUSH\nflushIntervalCommitLog=123\nsyncFlushTimeout=4000\n');
  const { result } = benchJson('-q', '200', '--config', conf, '--syncFlushTimeout', '3000', '--no-baselines');
  assert.equal(result.config.flushDiskType, 'SYNC_FLUSH');
  assert.equal(result.config.flushIntervalCommitLog, 123);
  assert.equal(result.config.syncFlushTimeout, 3000);
  assert.equal(result.messages, 200);
  assert.ok(result.fsyncs > 0 && result.msgsPerFsync > 0, 'SYNC_FLUSH fsyncs its groups');
});

test('--tps paces the sends and adds latency from the scheduled time', () => {
  const { result } = benchJson('-d', '1', '--tps', '2000', '-w', '8', '--no-baselines');
  assert.ok(result.intendedLatencyMs !== undefined);
  assert.ok(result.messages <= 2000 + 50, `${result.messages} messages at 2000/s for 1 s`);
  assert.ok(result.messages >= 1000, `${result.messages} messages: the pacing let too few through`);
  assert.equal(result.intendedLatencyMs.count, result.sends, 'one intended-time sample per send');
});

test('--tps with many senders: a timed run ends on time and takes no send scheduled after its end', () => {
  const { result } = benchJson('-d', '1', '--tps', '20', '-w', '64', '--no-baselines');
  assert.ok(result.durationSec < 1.5, `ran ${result.durationSec} s of 1`);
  assert.ok(result.messages <= 20, `${result.messages} messages: 20/s for 1 s is at most 20`);
});

test('rocketmq lines carry running totals: failures add up, Send Total leaves response failures out', () => {
  const run = runCli('bench', '--format', 'rocketmq', '-q', '50', '-w', '5', '-s', '2000', '--maxMessageSize', '1000', '--no-baselines', '--report-interval', '100');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^\[Complete\] Send Total: 0 \| .* \| Send Failed: 0 \| Response Failed: 50$/m);
});

test('a CommitLog configured elsewhere is measured there, in a fresh directory removed after', (t) => {
  const dir = tempDir(t, 'elsewhere');
  const commitLogParent = path.join(dir, 'cl');
  fs.mkdirSync(commitLogParent);
  fs.writeFileSync(path.join(commitLogParent, 'keep-me'), 'not the bench\'s');
  const { result } = benchJson('-q', '500', '--storePathCommitLog', commitLogParent);
  assert.ok(result.config.storePathCommitLog.startsWith(`${commitLogParent}${path.sep}mqstore-bench-`), result.config.storePathCommitLog);
  assert.deepEqual(fs.readdirSync(commitLogParent), ['keep-me'], 'the bench removed only its own directory');
  assert.ok(result.baselines.pageCacheWrite!.bytesWritten > 0);
});

test('bad values: an empty topic and a store path that is a file; --warmup 0.0 is fine', (t) => {
  assert.equal(runCli('bench', '-t', '').status, 2);
  const file = path.join(tempDir(t, 'file'), 'f');
  fs.writeFileSync(file, 'x');
  const onFile = runCli('bench', '-q', '10', '--store', file, '--no-baselines');
  assert.equal(onFile.status, 1);
  assert.match(onFile.stderr, /^mqstore: E_STORE_DIR: /m);
  assert.equal(benchJson('-q', '10', '--warmup', '0.0', '--no-baselines').result.messages, 10);
});

/** Runs the bench with a private TMPDIR, sends SIGINT once `ready` matches stdout; resolves at exit. */
function interruptedBench(tmp: string, ready: RegExp, args: string[]): Promise<{ code: number | null; stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, 'bench', ...args], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let signalledAt = 0;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (signalledAt === 0 && ready.test(stdout)) {
        signalledAt = performance.now();
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, seconds: (performance.now() - signalledAt) / 1000 }));
  });
}

test('Ctrl-C during the measured run: summary at once, exit 0, the temporary store removed', async (t) => {
  const tmp = tempDir(t, 'sigint');
  const run = await interruptedBench(tmp, /^ +\d+\.\d s /m, ['-d', '60', '--tps', '1000', '-w', '64', '--no-baselines']);
  assert.equal(run.code, 0, run.stdout);
  assert.ok(run.seconds < 5, `took ${run.seconds} s after Ctrl-C`);
  assert.match(run.stdout, /^sent {8}/m);
  assert.match(run.stdout, /WARNING {5}interrupted \(Ctrl-C\)/);
  assert.deepEqual(fs.readdirSync(tmp), []);
});

test('Ctrl-C during the warm-up stops it and the measured run never starts', async (t) => {
  const tmp = tempDir(t, 'sigint-warmup');
  const run = await interruptedBench(tmp, /^machine /m, ['-d', '60', '--warmup', '60', '--no-baselines']);
  assert.equal(run.code, 0, run.stdout);
  assert.ok(run.seconds < 5, `took ${run.seconds} s after Ctrl-C`);
  assert.match(run.stdout, /^sent {8}0 messages/m);
  assert.deepEqual(fs.readdirSync(tmp), []);
});

test('--format rocketmq with --consume: RocketMQ\'s producer and consumer lines, everything read back', () => {
  const run = runCli('bench', '--format', 'rocketmq', '-q', '3000', '-w', '32', '--consume', '--flushDiskType', 'SYNC_FLUSH', '--no-baselines', '--report-interval', '200');
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split('\n');
  assert.match(lines[0]!, /^topic: BenchmarkTest, threadCount: 32, messageSize: 128, keyEnable: false, /);
  assert.match(run.stdout, /^storeConfig: flushDiskType=SYNC_FLUSH /m);
  assert.match(run.stdout, /^Current Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \| Send TPS: \d+ \| Max RT\(ms\): \d+ \| Average RT\(ms\): +\d+\.\d{3} \| Send Failed: 0 \| Response Failed: 0$/m);
  assert.match(run.stdout, /^\[Complete\] Send Total: 3000 \| Send TPS: \d+ \| Max RT\(ms\): \d+ \| Average RT\(ms\): +\d+\.\d{3} \| Send Failed: 0 \| Response Failed: 0$/m);
  assert.match(run.stdout, /^\[Complete\] Consume Total: 3000 \| Consume TPS: \d+ \| AVG\(B2C\) RT\(ms\): +\d+\.\d{3} \| AVG\(S2C\) RT\(ms\): +\d+\.\d{3} \| MAX\(B2C\) RT\(ms\): \d+ \| MAX\(S2C\) RT\(ms\): \d+ \| Consume Fail: 0$/m);
});

test('--format kafka: kafka-producer-perf-test\'s final line, and the consumer-perf-test table with --consume', () => {
  const run = runCli('bench', '--format', 'kafka', '-q', '5000', '-s', '100', '--consume', '--no-baselines');
  assert.equal(run.status, 0, run.stderr);
  assert.match(
    run.stdout,
    /^5000 records sent, \d+\.\d{6} records\/sec \(\d+\.\d\d MB\/sec\), \d+\.\d\d ms avg latency, \d+\.\d\d ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$/m,
  );
  assert.match(run.stdout, /^start\.time, end\.time, data\.consumed\.in\.MB, MB\.sec, data\.consumed\.in\.nMsg, nMsg\.sec, rebalance\.time\.ms, fetch\.time\.ms, fetch\.MB\.sec, fetch\.nMsg\.sec$/m);
  assert.match(run.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d+\.\d{4}, \d+\.\d{4}, 5000, /m);
});

test('default format: configuration, periodic lines, summary with percentiles and group commit', () => {
  const run = runCli('bench', '-q', '2000', '-k', '-l', '3', '--no-baselines', '--report-interval', '100');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^workload {4}concurrency=64 size=128 keys=true topic=BenchmarkTest topics=1 queues=4 tags=3 batch=1 count=2000 /m);
  assert.match(run.stdout, /^sent {8}2,000 messages in \d+\.\d\d s: /m);
  assert.match(run.stdout, /^latency ms {2}avg \d+\.\d{3} {2}p50 \d+\.\d{3} {2}p95 \d+\.\d{3} {2}p99 \d+\.\d{3} {2}p99\.9 \d+\.\d{3} {2}max \d+\.\d{3}/m);
  assert.match(run.stdout, /^fsyncs {6}\d+ fsyncs, /m);
  assert.match(run.stdout, /^failures {4}none$/m);
});

test('bad usage exits 2 and names the flag', () => {
  for (const args of [['-w', '0'], ['--flushDiskType', 'FAST'], ['--format', 'xml'], ['--no-such-flag'], ['-s', 'big']]) {
    const run = runCli('bench', ...args);
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /error: /);
  }
  const help = runCli('bench', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--flushDiskType SYNC_FLUSH/);
});
