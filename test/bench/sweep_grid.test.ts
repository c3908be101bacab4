// Goal: the sweep's pure rules hold: axes expand to their product, knobs a configuration ignores
// collapse and identical runs are made once, --list is checked entry by entry, objectives parse
// (and bad ones are refused), and the recommendation is the fastest run meeting the objective.
// Method: plain calls with small hand-made grids, bases and outcomes; no store is opened.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  brokerConfLines,
  combinations,
  expandGrid,
  ignoredKnobs,
  parseList,
  parseSlo,
  recommend,
  splitAxis,
  SweepUsageError,
  type KnobValue,
  type Outcome,
} from '../../src/bench/sweep_grid.js';

const BASE = {
  flushDiskType: 'ASYNC_FLUSH',
  flushIntervalCommitLog: 500,
  flushCommitLogLeastPages: 4,
  transientStorePoolEnable: false,
  commitIntervalCommitLog: 200,
  syncFlushTimeout: 5000,
  concurrency: 64,
  size: 128,
};

/** Checks like the CLI would: integers for numeric knobs, the two flush types, booleans. */
function parseValue(knob: string, text: string): KnobValue {
  if (knob === 'flushDiskType') {
    if (text !== 'ASYNC_FLUSH' && text !== 'SYNC_FLUSH') throw new Error(`bad flushDiskType ${text}`);
    return text;
  }
  if (knob === 'transientStorePoolEnable') return text === 'true';
  if (!(knob in BASE)) throw new Error(`unknown knob ${knob}`);
  if (!/^\d+$/.test(text)) throw new Error(`${knob} must be an integer, got ${text}`);
  return Number(text);
}

test('axes expand to their product, flushDiskType outermost, values in the order given', () => {
  const combos = combinations(
    [
      { knob: 'concurrency', values: [16, 256] },
      { knob: 'flushDiskType', values: ['ASYNC_FLUSH', 'SYNC_FLUSH'] },
    ],
    null,
  );
  assert.deepEqual(combos, [
    { flushDiskType: 'ASYNC_FLUSH', concurrency: 16 },
    { flushDiskType: 'ASYNC_FLUSH', concurrency: 256 },
    { flushDiskType: 'SYNC_FLUSH', concurrency: 16 },
    { flushDiskType: 'SYNC_FLUSH', concurrency: 256 },
  ]);
  const grid = expandGrid([{ knob: 'flushDiskType', values: ['ASYNC_FLUSH', 'SYNC_FLUSH'] }, { knob: 'concurrency', values: [16, 256] }], null, BASE);
  assert.equal(grid.points.length, 4);
  assert.deepEqual(grid.skipped, []);
  assert.deepEqual(grid.varied, ['flushDiskType', 'concurrency']);
  assert.deepEqual(grid.points.map((p) => p.label), [
    'flushDiskType=ASYNC_FLUSH concurrency=16',
    'flushDiskType=ASYNC_FLUSH concurrency=256',
    'flushDiskType=SYNC_FLUSH concurrency=16',
    'flushDiskType=SYNC_FLUSH concurrency=256',
  ]);
});

test('flush timer knobs collapse under SYNC_FLUSH: one run per remaining value, the rest skipped with a reason', () => {
  const grid = expandGrid(
    [
      { knob: 'flushDiskType', values: ['ASYNC_FLUSH', 'SYNC_FLUSH'] },
      { knob: 'flushIntervalCommitLog', values: [100, 500] },
      { knob: 'flushCommitLogLeastPages', values: [0, 4] },
    ],
    null,
    BASE,
  );
  assert.equal(grid.points.length, 5, 'four ASYNC runs and one SYNC run');
  assert.deepEqual(grid.points[4]!.knobs, { flushDiskType: 'SYNC_FLUSH' });
  assert.equal(grid.points[4]!.label, 'flushDiskType=SYNC_FLUSH');
  assert.equal(grid.points[0]!.label, 'flushDiskType=ASYNC_FLUSH flushIntervalCommitLog=100 flushCommitLogLeastPages=0');
  assert.equal(grid.skipped.length, 3);
  for (const skip of grid.skipped) {
    assert.equal(skip.sameAs, 4);
    assert.equal(skip.knobs.flushDiskType, 'SYNC_FLUSH');
    assert.match(skip.reason, /same run as #5: .*flushIntervalCommitLog.* ignored \(SYNC_FLUSH/);
  }
});

test('commit knobs collapse without the transient store pool and count with it', () => {
  const grid = expandGrid(
    [
      { knob: 'transientStorePoolEnable', values: [false, true] },
      { knob: 'commitIntervalCommitLog', values: [50, 200] },
    ],
    null,
    BASE,
  );
  assert.deepEqual(
    grid.points.map((p) => p.knobs),
    [{ transientStorePoolEnable: false }, { transientStorePoolEnable: true, commitIntervalCommitLog: 50 }, { transientStorePoolEnable: true, commitIntervalCommitLog: 200 }],
  );
  assert.equal(grid.skipped.length, 1);
  assert.match(grid.skipped[0]!.reason, /commitIntervalCommitLog ignored \(only the transient store pool/);
  // syncFlushTimeout only matters under SYNC_FLUSH.
  const sync = expandGrid([{ knob: 'syncFlushTimeout', values: [1000, 5000] }], null, BASE);
  assert.equal(sync.points.length, 1);
  assert.deepEqual(sync.varied, []);
});

test('which knobs each flush mode ignores follows the writer', () => {
  const sync = ignoredKnobs({ flushDiskType: 'SYNC_FLUSH', transientStorePoolEnable: true });
  for (const key of ['flushIntervalCommitLog', 'flushCommitLogLeastPages', 'flushCommitLogTimed', 'transientStorePoolEnable', 'commitIntervalCommitLog']) {
    assert.ok(sync.has(key), key);
  }
  assert.equal(sync.has('syncFlushTimeout'), false);
  const async = ignoredKnobs({ flushDiskType: 'ASYNC_FLUSH', transientStorePoolEnable: false });
  assert.deepEqual([...async.keys()].sort(), [
    'commitCommitLogLeastPages',
    'commitCommitLogThoroughInterval',
    'commitIntervalCommitLog',
    'flushCommitLogTimed',
    'syncFlushTimeout',
  ]);
  assert.deepEqual([...ignoredKnobs({ flushDiskType: 'ASYNC_FLUSH', transientStorePoolEnable: true }).keys()], ['syncFlushTimeout']);
});

test('a --list runs its entries, crossed with the axes; an entry equal to the defaults is the same run', () => {
  const list = parseList('[{"flushIntervalCommitLog": 100}, {"flushIntervalCommitLog": "500"}, {}]', parseValue);
  assert.deepEqual(list, [{ flushIntervalCommitLog: 100 }, { flushIntervalCommitLog: 500 }, {}]);
  const grid = expandGrid([{ knob: 'concurrency', values: [16, 256] }], list, BASE);
  assert.equal(grid.points.length, 4);
  assert.deepEqual(grid.points.map((p) => p.label), [
    'flushDiskType=ASYNC_FLUSH flushIntervalCommitLog=100 concurrency=16',
    'flushDiskType=ASYNC_FLUSH flushIntervalCommitLog=100 concurrency=256',
    'flushDiskType=ASYNC_FLUSH flushIntervalCommitLog=500 concurrency=16',
    'flushDiskType=ASYNC_FLUSH flushIntervalCommitLog=500 concurrency=256',
  ]);
  assert.deepEqual(grid.skipped.map((s) => [s.sameAs, s.reason]), [
    [2, 'same configuration as #3'],
    [3, 'same configuration as #4'],
  ]);
  assert.throws(() => expandGrid([{ knob: 'flushIntervalCommitLog', values: [100] }], list, BASE), SweepUsageError);
});

test('a bad --list is refused with the entry it is in', () => {
  assert.throws(() => parseList('{', parseValue), /--list is not JSON/);
  assert.throws(() => parseList('[]', parseValue), /non-empty JSON array/);
  assert.throws(() => parseList('{"concurrency": 1}', parseValue), /non-empty JSON array/);
  assert.throws(() => parseList('[{}, 3]', parseValue), /entry 2 is not an object/);
  assert.throws(() => parseList('[{"concurrency": [1]}]', parseValue), /entry 1: concurrency must be a string, number or boolean/);
  assert.throws(() => parseList('[{"concurrency": 1}, {"flushDiskType": "FAST"}]', parseValue), (error: Error) => {
    assert.ok(error instanceof SweepUsageError);
    assert.match(error.message, /entry 2: bad flushDiskType FAST/);
    return true;
  });
  assert.throws(() => parseList('[{"nope": 1}]', parseValue), /entry 1: unknown knob nope/);
});

test('axis lists split on commas and refuse empty items', () => {
  assert.deepEqual(splitAxis('100, 500,1000'), ['100', '500', '1000']);
  assert.deepEqual(splitAxis('SYNC_FLUSH'), ['SYNC_FLUSH']);
  assert.throws(() => splitAxis('100,'), SweepUsageError);
  assert.throws(() => splitAxis(''), SweepUsageError);
});

test('objectives parse with every metric, both operators and every unit', () => {
  assert.deepEqual(parseSlo('p99<=5ms'), { text: 'p99<=5ms', metric: 'p99', thresholdMs: 5, inclusive: true });
  assert.deepEqual(parseSlo(' p999 < 2.5 ms '), { text: ' p999 < 2.5 ms ', metric: 'p999', thresholdMs: 2.5, inclusive: false });
  assert.equal(parseSlo('p99.9<=3ms').metric, 'p999');
  assert.equal(parseSlo('max<=1s').thresholdMs, 1000);
  assert.equal(parseSlo('p50<800us').thresholdMs, 0.8);
  assert.equal(parseSlo('p95<=250µs').thresholdMs, 0.25);
  assert.equal(parseSlo('p95<=250μs').thresholdMs, 0.25);
  assert.equal(parseSlo('P99≤.5MS').thresholdMs, 0.5);
});

test('malformed objectives are refused', () => {
  for (const text of ['', 'p99', 'p99<=5', 'p98<=5ms', 'p99>=5ms', 'p99=5ms', 'p99<=0ms', 'p99<=-1ms', 'p99<=5min', 'p99<=1e3ms']) {
    assert.throws(() => parseSlo(text), SweepUsageError, text);
  }
});

function outcome(msgsPerSec: number, p99: number, failures = 0, messages = 1000): Outcome {
  return { messages, msgsPerSec, failures, latencyMs: { count: messages, avg: p99 / 2, p50: p99 / 4, p95: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 } };
}

test('the recommendation is the fastest run meeting the objective with no failures', () => {
  const slo = parseSlo('p99<=5ms');
  const outcomes = [
    outcome(10_000, 1), // meets
    outcome(90_000, 9), // too slow at p99
    outcome(50_000, 5), // meets (inclusive)
    outcome(80_000, 2, 3), // failures
    outcome(70_000, 0, 0, 0), // no messages at all
  ];
  const choice = recommend(slo, outcomes);
  assert.deepEqual(choice.meets, [true, false, true, false, false]);
  assert.equal(choice.recommended, 2);
  assert.equal(choice.closest, null);
  assert.equal(recommend(parseSlo('p99<5ms'), outcomes).recommended, 0, '< excludes the threshold');
  assert.equal(recommend(parseSlo('max<=3ms'), outcomes).recommended, 0, 'another metric');
});

test('when no run meets the objective there is no recommendation and the nearest clean run is named', () => {
  const slo = parseSlo('p99<=1ms');
  const choice = recommend(slo, [outcome(10_000, 8), outcome(20_000, 3, 5), outcome(30_000, 4), outcome(5_000, 4)]);
  assert.equal(choice.recommended, null);
  assert.equal(choice.closest, 2, 'lowest p99 without failures; the faster of equals');
  assert.equal(recommend(slo, [outcome(1, 8, 1), outcome(1, 3, 1)]).closest, 1, 'all failed: the lowest p99');
  assert.equal(recommend(slo, [outcome(0, 0, 0, 0)]).closest, null);
});

test('broker.conf lines are flushDiskType and the store keys of the configuration, not the workload', () => {
  const grid = expandGrid(
    [
      { knob: 'flushIntervalCommitLog', values: [100, 200] },
      { knob: 'concurrency', values: [16] },
    ],
    null,
    BASE,
  );
  assert.deepEqual(brokerConfLines(grid.points[1]!, BASE), ['flushDiskType=ASYNC_FLUSH', 'flushIntervalCommitLog=200']);
  const sync = expandGrid([{ knob: 'flushDiskType', values: ['SYNC_FLUSH'] }, { knob: 'flushIntervalCommitLog', values: [100] }], null, BASE);
  assert.deepEqual(brokerConfLines(sync.points[0]!, BASE), ['flushDiskType=SYNC_FLUSH']);
});
