// Goal: a flipped bit or byte in any store file never makes a read return a wrong message, and a
// flip in the CommitLog is always reported (by recovery or by `mqstore verify`).
// Method: the corruption campaign (test/support/corruption_round.ts), a few seeded trials per
// file type and variant; the full run is native-free-bench/corruption.ts (RELIABILITY.md).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTrial, runCampaign, summaryTable, trialFails } from '../support/corruption_round.js';

const SEED = 20261125;

test('corruption campaign: no wrong message, every CommitLog flip detected, the store stays usable', async (t) => {
  // 2 variants × 4 file types × (clean, abort) × 2 rounds: every cell twice.
  const { results } = await runCampaign({ seed: SEED, trials: 32, puts: 48, variants: ['plain', 'crc'] });
  const failures = results.filter(trialFails);
  t.diagnostic(`seed ${SEED}`);
  for (const row of summaryTable(results).split('\n')) t.diagnostic(row);
  assert.deepEqual(failures.map(formatTrial), [], `failed trials (seed ${SEED})`);
  for (const r of results) {
    if (r.cls === 'detected' || r.cls === 'refused') continue;
    // Undetected flips are allowed only where nothing reads the byte, or (plain records) in a
    // field no check of RocketMQ 4's format covers.
    assert.ok(r.cls === 'undetected-harmless' || r.cls === 'undetected-unprotected' || r.flip.fileType !== 'commitlog', formatTrial(r));
    if (r.variant === 'crc') assert.notEqual(r.flip.fileType, 'commitlog', formatTrial(r));
  }
});
