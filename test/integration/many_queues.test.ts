// Goal: 1000 topics × 8 queues (8000 consume queues) with one message each work under the usual
// default descriptor limit (1024): no EMFILE, every message reads back before and after a
// reopen, and the consume queue files stay small on disk although each is 6 MB long (sparse).
// Method: the work runs in a child process started under `ulimit -n 1024`
// (test/support/many_queues_child.ts), which reports descriptors and disk use as JSON.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ManyQueuesReport } from '../support/many_queues_child.js';

const CHILD_PATH = fileURLToPath(new URL('../support/many_queues_child.js', import.meta.url));
const FD_LIMIT = 1024;
const CQ_FILE_BYTES = 6_000_000;

test('1000 topics × 8 queues, one message each: no EMFILE at 1024 descriptors, sparse consume queues', { timeout: 60_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-many-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const child = spawn('/bin/sh', ['-c', `ulimit -n ${FD_LIMIT} && exec "$@"`, 'sh', process.execPath, CHILD_PATH, '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  assert.doesNotMatch(stderr, /EMFILE|ENFILE/, 'no descriptor exhaustion');
  assert.equal(code, 0, `the child failed: ${stderr}`);
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as ManyQueuesReport;
  t.diagnostic(JSON.stringify(report));

  assert.equal(report.fdLimitSoft, String(FD_LIMIT), 'the child ran under the default limit');
  assert.equal(report.queues, 8000);
  assert.ok(report.fdsMax < FD_LIMIT, `descriptors open at most: ${report.fdsMax}`);
  assert.equal(report.consumeQueueFiles, 8000, 'one consume queue file per queue');
  assert.equal(report.consumeQueueApparentBytes, 8000 * CQ_FILE_BYTES, 'each file has its full RocketMQ length');
  const mb = report.consumeQueueAllocatedBytes / 1e6;
  assert.ok(mb < 200, `consume queues use ${mb.toFixed(1)} MB on disk (8000 × 6 MB = 48 GB if not sparse)`);
});
