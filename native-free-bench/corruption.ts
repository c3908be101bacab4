// Corruption campaign (issue 5): flip one bit or byte of one committed record of one file type
// (CommitLog, consume queue, index, checkpoint) in a copy of a cleanly closed store, half the
// time with an `abort` file (a crash), reopen, and check that no read returns a wrong message,
// that recovery or `mqstore verify` reports the damage, and that the store still works. The
// trial logic is test/support/corruption_round.ts, shared with test/campaign/corruption.test.ts.
//
//   node dist/native-free-bench/corruption.js [--trials 200] [--seed S] [--puts 160]
//        [--variants plain,crc] [--dir D]
//
// Variants: `plain` (RocketMQ 4's record: only the body has a CRC) and `crc`
// (enabledAppendPropCRC + forceVerifyPropCRC: the appended record CRC covers every field).
// Prints a line per trial and a table per variant and file type. Exits 1 on a wrong message
// returned, a defect (an untyped error, a store unusable after a reported problem) or a
// CommitLog flip nobody detected; in the plain variant a flip in a field its format protects
// with nothing (FLAG, timestamps, hosts, …) is counted apart, not a failure.

import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatTrial, runCampaign, summaryTable, trialFails, VARIANTS, type Variant } from '../test/support/corruption_round.js';

interface Options {
  trials: number;
  seed: number;
  puts: number;
  variants: Variant[];
  dir: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      trials: { type: 'string', default: '200' },
      seed: { type: 'string' },
      puts: { type: 'string', default: '160' },
      variants: { type: 'string', default: VARIANTS.join(',') },
      dir: { type: 'string' },
    },
    strict: true,
  });
  const trials = Number(values.trials);
  const puts = Number(values.puts);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 0x7fffffff) : Number(values.seed);
  if (!Number.isSafeInteger(trials) || trials < 1) throw new Error(`--trials must be an integer ≥ 1, got ${values.trials}`);
  if (!Number.isSafeInteger(puts) || puts < 8) throw new Error(`--puts must be an integer ≥ 8, got ${values.puts}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be an integer ≥ 0, got ${values.seed}`);
  const variants = values.variants.split(',').map((v) => v.trim());
  for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`--variants takes ${VARIANTS.join(',')}, got ${v}`);
  return { trials, seed, puts, variants: variants as Variant[], dir: values.dir };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  // Recovery warnings are counted per trial; Node's own printer would bury the trial lines.
  process.removeAllListeners('warning');
  console.log(
    `corruption: ${options.trials} trials, seed ${options.seed}, ${options.puts} puts per store, variants ${options.variants.join(',')}, ` +
      `node ${process.version}, ${os.cpus().length} CPUs, ${os.platform()}`,
  );
  const startedMs = performance.now();
  const { results, messages } = await runCampaign({ ...options, onTrial: (r) => console.log(formatTrial(r)) });
  const seconds = (performance.now() - startedMs) / 1000;
  const failures = results.filter(trialFails);
  console.log('');
  console.log(`summary: seed ${options.seed}, ${results.length} trials in ${seconds.toFixed(1)} s; messages per store: ${options.variants.map((v) => `${v} ${messages[v]}`).join(', ')}`);
  console.log(summaryTable(results));
  console.log(`failures ${failures.length}${failures.length === 0 ? '' : `: trials ${failures.map((r) => r.trial).join(', ')}`}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);
