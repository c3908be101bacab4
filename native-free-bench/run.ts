// Benchmark runner: `node dist/native-free-bench/run.js <name>|all [--smoke] [--rounds N] [--ms N]`.
// BENCH_SMOKE=1 (or --smoke) runs every bench tiny, so CI keeps them from rotting.

import { parseArgs } from 'node:util';
import { DEFAULT_CASES, runPutBench } from './macro/put_throughput.bench.js';
import { runRecoveryBench } from './macro/recovery.bench.js';

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
  for (const [key, bench] of Object.entries(BENCHES)) console.log(`  ${key.padEnd(8)} ${bench.about}`);
  process.exit(values.help ? 0 : 2);
}
for (const [key, bench] of Object.entries(BENCHES)) {
  if (name !== 'all' && name !== key) continue;
  await bench.run(values.smoke, Number(values.rounds), Number(values.ms));
}
