// Benchmark runner: `node dist/native-free-bench/run.js <name>|all [--smoke] [--rounds N] [--ms N]`.
// BENCH_SMOKE=1 (or --smoke) runs every bench tiny, so CI keeps them from rotting.

import { parseArgs } from 'node:util';
import { DEFAULT_CASES, runPutBench } from './macro/put_throughput.bench.js';
import { runRecoveryBench } from './macro/recovery.bench.js';
import { runDispatchBench } from './macro/dispatch_lag.bench.js';
import { runGetBench } from './macro/get_throughput.bench.js';
import { runDerivedRecoveryBench } from './macro/derived_recovery.bench.js';

const BENCHES: Record<string, { about: string; run: (smoke: boolean, rounds: number, runMs: number) => Promise<void> }> = {
  put: {
    about: 'put throughput, 128 B and 1 KiB, ASYNC/SYNC_FLUSH, concurrency 1/64/1024, vs raw-disk baselines',
    run: async (smoke, rounds, runMs) => {
      await runPutBench({
        cases: smoke ? DEFAULT_CASES.filter((c) => c.concurrency !== 1024) : DEFAULT_CASES,
        rounds: smoke ? 1 : rounds,
        runMs: smoke ? 100 : runMs,
        segmentSizeBytes: smoke ? 64 * 1024 * 1024 : 1024 * 1024 * 1024,
      });
    },
  },
  recovery: {
    about: 'open() time after a clean close and after a crash (abort), CRC on/off, warm/cold cache; 1 and 10 GiB of CommitLog',
    run: async (smoke) => {
      await runRecoveryBench({
        sizesBytes: smoke ? [64 * 1024 * 1024] : [1024 * 1024 * 1024, 10 * 1024 * 1024 * 1024],
        segmentSizeBytes: smoke ? 16 * 1024 * 1024 : 1024 * 1024 * 1024,
        bodyBytes: 4096,
        concurrency: 256,
        runs: 3,
        dropCaches: !smoke,
      });
    },
  },
  dispatch: {
    about: 'dispatcher lag under peak ASYNC_FLUSH puts (1 KiB, keys; --ms ≥ 5000), vs the raw dispatch pipeline in-process',
    run: async (smoke, rounds, runMs) => {
      await runDispatchBench({
        runMs: smoke ? 300 : Math.max(runMs, 5000),
        warmUpMs: smoke ? 100 : 500,
        rounds: smoke ? 1 : rounds,
        bodyBytes: 1024,
        concurrency: 1024,
        topics: 4,
        queuesPerTopic: 4,
        segmentSizeBytes: smoke ? 64 * 1024 * 1024 : 1024 * 1024 * 1024,
        sampleIntervalMs: 10,
        drainTimeoutMs: 60_000,
        cases: [
          { cqFlushMs: 1000, keys: 'sequential' },
          { cqFlushMs: 600_000, keys: 'sequential' },
          { cqFlushMs: 1000, keys: 'random' },
        ],
      });
    },
  },
  get: {
    about: 'getMessage (maxMsgNums 32) from the page cache, 1 and 4 queues, vs FileHandle.read of the same bytes',
    run: async (smoke) => {
      await runGetBench({
        queues: 4,
        messagesPerQueue: smoke ? 2000 : 200_000,
        bodyBytes: 1024,
        maxMsgNums: 32,
        rounds: smoke ? 1 : 3,
        segmentSizeBytes: smoke ? 64 * 1024 * 1024 : 1024 * 1024 * 1024,
        fillConcurrency: 256,
      });
    },
  },
  'derived-recovery': {
    about: 'open() after a SIGKILL: consume queue + index recovery, and full rebuilds; 10 M messages of 128 B, vs a raw read',
    run: async (smoke) => {
      await runDerivedRecoveryBench({
        messages: smoke ? 50_000 : 10_000_000,
        bodyBytes: 128,
        segmentSizeBytes: smoke ? 16 * 1024 * 1024 : 1024 * 1024 * 1024,
        batch: 64,
        concurrency: 32,
        topics: 4,
        queuesPerTopic: 4,
        runs: smoke ? 1 : 3,
      });
    },
  },
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    smoke: { type: 'boolean', default: process.env['BENCH_SMOKE'] === '1' },
    rounds: { type: 'string', default: '2' },
    ms: { type: 'string', default: '500' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const name = positionals[0] ?? 'put';
if (values.help || (name !== 'all' && BENCHES[name] === undefined)) {
  console.log('usage: node dist/native-free-bench/run.js <name>|all [--smoke] [--rounds N] [--ms N]\n');
  for (const [key, bench] of Object.entries(BENCHES)) console.log(`  ${key.padEnd(16)} ${bench.about}`);
  process.exit(values.help ? 0 : 2);
}
for (const [key, bench] of Object.entries(BENCHES)) {
  if (name !== 'all' && name !== key) continue;
  await bench.run(values.smoke, Number(values.rounds), Number(values.ms));
}
