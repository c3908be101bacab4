// Goal: the soak campaign's short form: mixed puts and gets while retention deletes segments
// every 2 s; every consumed body matches its queue offset; memory and open handles stay within
// their allowance after warm-up; retention really deletes. The long run is
// `node --max-old-space-size=256 dist/native-free-bench/soak.js --minutes 10`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSoak } from '../../native-free-bench/soak.js';

test('soak (15 s): puts, gets and retention together; handles and memory flat, every body right', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-soak-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const result = await runSoak({ durationMs: 15_000, rate: 8000, sampleMs: 1000, dir, seed: 1, log: (line) => lines.push(line) });
  assert.deepEqual(result.problems, [], lines.join('\n'));
  assert.ok(result.deletedBytes > 0, 'retention deleted CommitLog segments');
  assert.ok(result.consumed > result.puts / 2, `consumed ${result.consumed} of ${result.puts}`);
  assert.ok(result.samples.length >= 10);
});
