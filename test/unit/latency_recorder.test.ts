// Goal: LatencyRecorder summarises in milliseconds with percentiles in order and never above
// the largest value recorded (HdrHistogram reports a bucket's top, which can exceed it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyRecorder } from '../../src/bench/latency.js';

test('percentiles are ordered, never above max, and in milliseconds', () => {
  const recorder = new LatencyRecorder();
  for (let i = 1; i <= 999; i++) recorder.recordMs(0.1);
  recorder.recordMs(42.23); // 42 230 µs lands in a bucket whose top is above it
  const s = recorder.summary();
  assert.equal(s.count, 1000);
  assert.equal(s.max, 42.23);
  assert.ok(s.p999 <= s.max, `p99.9 ${s.p999} > max ${s.max}`);
  assert.ok(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.p999);
  assert.ok(Math.abs(s.p50 - 0.1) < 0.001);
  assert.deepEqual(new LatencyRecorder().summary(), { count: 0, avg: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 });
});
