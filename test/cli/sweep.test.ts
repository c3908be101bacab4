// Goal: `mqstore sweep` runs every configuration of a grid or a --list, writes results.csv,
// results.json, both SVG charts and (with a met --slo) recommended-broker.conf, prints the
// broker.conf lines, and refuses bad axis values, objectives and lists with exit code 2.
// Method: the bin as a child process with one-second runs of tiny messages and no baselines,
// stores and output in a per-test temp dir.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli as run } from '../support/cli.js';

interface SweepDocument {
  tool: string;
  date: string;
  machine: { cpus: number };
  grid: { configurations: { index: number; label: string }[]; skipped: { sameAs: number; reason: string }[] };
  slo: { metric: string; thresholdMs: number } | null;
  recommendation: { index: number; label: string; brokerConf: string[] } | null;
  closest: { index: number } | null;
  results: { index: number; label: string; msgsPerSec: number; messages: number; sendFailed: number; responseFailed: number; latencyMs: { p99: number } }[];
}

function tempDir(t: { after: (fn: () => void) => void }, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mqstore-cli-sweep-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const QUICK = ['--duration', '1', '--size', '16', '--no-baselines'];

test('a 2×2 grid writes a CSV row, a JSON result and a chart point per configuration, and recommends the fastest that meets the objective', (t) => {
  const dir = tempDir(t, 'grid');
  const outDir = path.join(dir, 'out');
  const stores = path.join(dir, 'stores');
  const sweep = run('sweep', '--out', outDir, '--dir', stores, ...QUICK, '--flushDiskType', 'ASYNC_FLUSH,SYNC_FLUSH', '--concurrency', '2,8', '--slo', 'p99<=10s');
  assert.equal(sweep.status, 0, sweep.stderr);

  const csv = fs.readFileSync(path.join(outDir, 'results.csv'), 'utf8').trimEnd().split('\n');
  assert.equal(csv.length, 5, 'a header and four rows');
  const header = csv[0]!.split(',');
  for (const column of ['flushDiskType', 'concurrency', 'size', 'msgsPerSec', 'mbPerSec', 'p50Ms', 'p99Ms', 'p999Ms', 'maxMs', 'fsyncsPerSec', 'msgsPerFsync', 'bytesPerFsync', 'failures']) {
    assert.ok(header.includes(column), column);
  }
  const rows = csv.slice(1).map((line) => Object.fromEntries(line.split(',').map((cell, i) => [header[i], cell])));
  assert.deepEqual(rows.map((r) => `${r.flushDiskType} ${r.concurrency} ${r.size}`), ['ASYNC_FLUSH 2 16', 'ASYNC_FLUSH 8 16', 'SYNC_FLUSH 2 16', 'SYNC_FLUSH 8 16']);
  for (const row of rows) assert.ok(Number(row.msgsPerSec) > 0, JSON.stringify(row));

  const doc = JSON.parse(fs.readFileSync(path.join(outDir, 'results.json'), 'utf8')) as SweepDocument;
  assert.equal(doc.tool, 'mqstore sweep');
  assert.ok(doc.machine.cpus > 0 && !Number.isNaN(Date.parse(doc.date)));
  assert.equal(doc.results.length, 4);
  assert.deepEqual(doc.slo && [doc.slo.metric, doc.slo.thresholdMs], ['p99', 10_000]);
  const labels = doc.results.map((r) => r.label);
  assert.deepEqual(labels, doc.grid.configurations.map((c) => c.label));
  assert.equal(labels[3], 'flushDiskType=SYNC_FLUSH concurrency=8');
  for (const [i, result] of doc.results.entries()) assert.ok(Math.abs(result.msgsPerSec - Number(rows[i]!.msgsPerSec)) <= 0.051, `row ${i + 1}`);

  // The recommendation: the highest rate among runs without failures and within the objective.
  const eligible = doc.results.filter((r) => r.messages > 0 && r.sendFailed + r.responseFailed === 0 && r.latencyMs.p99 <= 10_000);
  const fastest = eligible.reduce((a, b) => (b.msgsPerSec > a.msgsPerSec ? b : a));
  assert.equal(doc.recommendation?.index, fastest.index);
  const conf = fs.readFileSync(path.join(outDir, 'recommended-broker.conf'), 'utf8');
  const flushDiskType = fastest.label.split(' ')[0]!;
  assert.equal(conf, `${flushDiskType}\n`, 'flushDiskType is the only store key set');
  assert.match(sweep.stdout, new RegExp(`recommended for p99<=10s: #${fastest.index} ${fastest.label}: `));
  assert.match(sweep.stdout, new RegExp(`^${flushDiskType}$`, 'm'), 'the broker.conf line is printed');

  for (const file of ['throughput-vs-p99.svg', 'latency-percentiles.svg']) {
    const svg = fs.readFileSync(path.join(outDir, file), 'utf8');
    assert.ok(svg.startsWith('<svg'), file);
    for (const label of labels) assert.ok(svg.includes(label), `${file} names ${label}`);
  }
  // Progress as plain lines (stdout is a pipe), then a table row per configuration.
  assert.match(sweep.stdout, /^\[3\/4\] flushDiskType=SYNC_FLUSH concurrency=2 \.\.\. running 1 s$/m);
  assert.equal((sweep.stdout.match(/^ *\d\*? +(ASYNC|SYNC)_FLUSH +[28] +16 /gm) ?? []).length, 4, sweep.stdout);
  assert.deepEqual(fs.readdirSync(stores), [], 'every temporary store is removed');
});

test('a --list runs each distinct configuration once; an unmet objective names the closest and recommends nothing', (t) => {
  const dir = tempDir(t, 'list');
  const outDir = path.join(dir, 'out');
  const list = path.join(dir, 'configs.json');
  // The second entry only spells out flushIntervalCommitLog's default: the same run as the first.
  fs.writeFileSync(list, JSON.stringify([{ concurrency: 4 }, { concurrency: '4', flushIntervalCommitLog: 500 }]));
  fs.mkdirSync(outDir);
  fs.writeFileSync(path.join(outDir, 'recommended-broker.conf'), 'flushDiskType=SYNC_FLUSH\n');
  const sweep = run('sweep', '--out', outDir, '--dir', dir, ...QUICK, '--list', list, '--slo', 'p99<1us');
  assert.equal(sweep.status, 0, sweep.stderr);
  const doc = JSON.parse(fs.readFileSync(path.join(outDir, 'results.json'), 'utf8')) as SweepDocument;
  assert.equal(doc.results.length, 1);
  assert.equal(doc.grid.skipped.length, 1);
  assert.match(doc.grid.skipped[0]!.reason, /same configuration as #1/);
  assert.match(sweep.stdout, /^skipped flushIntervalCommitLog=500 concurrency=4 size=16: same configuration as #1$/m);
  assert.equal(doc.recommendation, null);
  assert.equal(doc.closest?.index, 1);
  assert.match(sweep.stdout, /no configuration meets p99<1us/);
  assert.match(sweep.stdout, /closest: #1 flushDiskType=ASYNC_FLUSH: /);
  assert.equal(fs.existsSync(path.join(outDir, 'recommended-broker.conf')), false, 'an earlier recommendation is removed');
  assert.equal(fs.readFileSync(path.join(outDir, 'results.csv'), 'utf8').trimEnd().split('\n').length, 2);
});

test('bad axis values, objectives and lists are usage errors (exit code 2) that name the problem', (t) => {
  const dir = tempDir(t, 'usage');
  const outDir = path.join(dir, 'out');
  const unknown = path.join(dir, 'unknown.json');
  const valid = path.join(dir, 'valid.json');
  fs.writeFileSync(unknown, '[{"flushDiskType": "SYNC_FLUSH"}, {"durationSec": 3}]');
  fs.writeFileSync(valid, '[{"flushDiskType": "SYNC_FLUSH"}]');
  const cases: [string[], RegExp][] = [
    [['--concurrency', '0,4'], /--concurrency must be an integer ≥ 1, got "0"/],
    [['--flushDiskType', 'ASYNC_FLUSH,FAST'], /flushDiskType must be ASYNC_FLUSH or SYNC_FLUSH, got "FAST"/],
    [['--flushIntervalCommitLog', '100,'], /empty value/],
    [['--keys', 'yes'], /--keys must be true or false/],
    [['--slo', 'p99>=5ms'], /--slo must look like p99<=5ms/],
    [['--list', unknown], /--list entry 2: unknown knob "durationSec"/],
    [['--list', path.join(dir, 'missing.json')], /cannot read --list/],
    [['--list', valid, '--flushDiskType', 'ASYNC_FLUSH'], /flushDiskType is both an axis and a key/],
  ];
  for (const [args, message] of cases) {
    const sweep = run('sweep', '--out', outDir, ...args);
    assert.equal(sweep.status, 2, args.join(' '));
    assert.match(sweep.stderr, message, args.join(' '));
  }
  assert.equal(run('sweep', '--duration', '1').status, 2, '--out is required');
  assert.equal(fs.existsSync(outDir), false, 'nothing is written after a usage error');
});
