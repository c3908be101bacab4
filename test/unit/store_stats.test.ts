// Goal: StoreStats counts like RocketMQ's StoreStatsService: puts in the putMessageDistributeTime
// buckets (whole milliseconds, `<=0ms` … `10s~`), putLatency99/999 interpolated in the fine
// buckets, TPS over a sliding window of one-second samples, and the [STORETPS] / [PAGECACHERT]
// lines at each window end, after which the window starts again.
// Method: a fake clock; every expected figure computed by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PUT_DISTRIBUTE_LABELS, PUT_LATENCY_BUCKET_BOUNDS_MS, StoreStats } from '../../src/stats/store_stats.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function distribution(stats: StoreStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of stats.putMessageDistributeTime().split(' ')) {
    const match = /^\[(.+)\]:(\d+)$/.exec(part);
    assert.ok(match !== null, part);
    out[match[1]!] = Number(match[2]);
  }
  return out;
}

test('puts land in RocketMQ\'s distribution buckets by whole milliseconds', () => {
  const stats = new StoreStats({ now: clock().now });
  for (const ms of [0, 0.4, 0.999, 1, 9.99, 10, 49, 50, 99, 100, 499, 500, 999, 1000, 4999, 5000, 9999, 10000, 60000]) stats.recordPut(1, 100, ms);
  assert.deepEqual(distribution(stats), {
    '<=0ms': 3,
    '0~10ms': 2,
    '10~50ms': 2,
    '50~100ms': 2,
    '100~200ms': 1,
    '200~500ms': 1,
    '500ms~1s': 2,
    '1~2s': 1,
    '2~3s': 0,
    '3~4s': 0,
    '4~5s': 1,
    '5~10s': 2,
    '10s~': 2,
  });
  assert.deepEqual(Object.keys(distribution(stats)), PUT_DISTRIBUTE_LABELS);
  assert.equal(stats.putMessageTimesTotal, 19);
  assert.equal(stats.putMessageSizeTotal, 1900);
  assert.equal(stats.putMessageEntireTimeMax, 60000);
});

test('fine buckets: 1 ms steps to 20, then 2, 5, 10, 50, 100 ms and 1 s steps to 10 s', () => {
  assert.equal(PUT_LATENCY_BUCKET_BOUNDS_MS.length, 20 + 15 + 10 + 10 + 6 + 5 + 9);
  assert.deepEqual(PUT_LATENCY_BUCKET_BOUNDS_MS.slice(0, 3), [1, 2, 3]);
  assert.deepEqual(PUT_LATENCY_BUCKET_BOUNDS_MS.slice(19, 22), [20, 22, 24]);
  assert.equal(PUT_LATENCY_BUCKET_BOUNDS_MS.at(-1), 10000);
  assert.ok(PUT_LATENCY_BUCKET_BOUNDS_MS.includes(200) && PUT_LATENCY_BUCKET_BOUNDS_MS.includes(500) && PUT_LATENCY_BUCKET_BOUNDS_MS.includes(1000));
});

test('putLatency99/999 interpolate inside the fine bucket that holds the rank', () => {
  const stats = new StoreStats({ now: clock().now });
  // 990 puts of 0 ms (bucket ≤ 1 ms), 10 puts of 30 ms (bucket (28, 30]).
  for (let i = 0; i < 990; i++) stats.recordPut(1, 1, 0);
  for (let i = 0; i < 10; i++) stats.recordPut(1, 1, 30);
  // rank 990 is the last of the first bucket: 0 + (1 - 0) × 990 / 990 = 1 ms.
  assert.equal(stats.putLatencyPercentile(0.99), 1);
  // rank 999: 9 into the (28, 30] bucket of 10 → 28 + 2 × 9 / 10 = 29.8 ms.
  assert.ok(Math.abs(stats.putLatencyPercentile(0.999) - 29.8) < 1e-9, String(stats.putLatencyPercentile(0.999)));
  const empty = new StoreStats({ now: clock().now });
  assert.equal(empty.putLatencyPercentile(0.99), 0);
});

test('TPS over the window asked for, from one-second samples', () => {
  const c = clock();
  const stats = new StoreStats({ now: c.now });
  for (let second = 0; second < 20; second++) {
    for (let i = 0; i < (second < 10 ? 100 : 300); i++) stats.recordPut(1, 10, 0);
    stats.recordGet(true, 32, 1);
    stats.recordGet(false, 0, 1);
    c.advance(1000);
    stats.tick();
  }
  assert.equal(stats.tps('putTimes', 10), 300, 'the last 10 s ran at 300/s');
  assert.equal(stats.tps('putTimes', 20), 200, 'the last 20 s averaged 200/s');
  assert.equal(stats.tps('getFound', 10), 1);
  assert.equal(stats.tps('getMiss', 10), 1);
  assert.equal(stats.tps('getTransferred', 10), 32);
  assert.equal(stats.getMessageTimesTotalFound, 20);
});

test('each window end prints [STORETPS] and [PAGECACHERT] and starts a new window', () => {
  const c = clock();
  const lines: string[] = [];
  const stats = new StoreStats({ now: c.now, windowMs: 5000, log: (line) => lines.push(line) });
  for (let i = 0; i < 7; i++) stats.recordPut(1, 1, 0.5);
  stats.recordPut(1, 1, 12);
  for (let second = 0; second < 5; second++) {
    c.advance(1000);
    stats.tick();
  }
  assert.equal(lines.length, 2);
  assert.equal(lines[0], '[STORETPS] put_tps 1.60 get_found_tps 0.00 get_miss_tps 0.00 get_transferred_tps 0.00');
  assert.equal(
    lines[1],
    '[PAGECACHERT] TotalPut 8, PutMessageDistributeTime [<=0ms]:7 [0~10ms]:0 [10~50ms]:1 [50~100ms]:0 [100~200ms]:0 [200~500ms]:0 ' +
      '[500ms~1s]:0 [1~2s]:0 [2~3s]:0 [3~4s]:0 [4~5s]:0 [5~10s]:0 [10s~]:0',
  );
  assert.equal(distribution(stats)['<=0ms'], 0, 'the new window starts empty');
  // The percentiles now describe the finished window (the current one is empty, it would say 0):
  // rank ⌊8 × 0.999⌋ = 7 is the last of the seven ≤ 1 ms puts → 1 ms.
  assert.equal(stats.putLatencyPercentile(0.999), 1);
  stats.recordPutFailed();
  assert.equal(stats.putMessageFailedTimes, 1);
});
