// Goal: every benchmark and the crash loop still run, so they cannot rot between real runs.
// Method: run each as a child process in smoke mode (tiny sizes) and check it exits 0 with a summary.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'node:test';

const benchDir = fileURLToPath(new URL('../../native-free-bench/', import.meta.url));

function runNode(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: benchDir,
      env: { ...process.env, BENCH_SMOKE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('the put bench runs in smoke mode and prints a row per case with a ratio', async () => {
  const { code, stdout, stderr } = await runNode(['run.js', 'put', '--smoke'], 120_000);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^size\s+mode\s+conc/m);
  assert.equal((stdout.match(/^(128|1024)\s+(ASYNC|SYNC)_FLUSH(\+w)?\s+\d+ \|/gm) ?? []).length, 9, stdout);
});

test('the recovery bench runs in smoke mode', async () => {
  const { code, stderr } = await runNode(['run.js', 'recovery', '--smoke'], 120_000);
  assert.equal(code, 0, stderr);
});

test('the dispatch lag bench runs in smoke mode and prints a row per case with a verdict', async () => {
  const { code, stdout, stderr } = await runNode(['run.js', 'dispatch', '--smoke'], 120_000);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^cq flush ms keys\s+round/m);
  assert.equal((stdout.match(/^\s+(1000|600000) (sequential|random)\s+1\s+\|/gm) ?? []).length, 3, stdout);
  assert.equal((stdout.match(/^goal .* → (met|missed)$/gm) ?? []).length, 3, stdout);
});

test('the getMessage bench runs in smoke mode and prints engine and baseline rows for 1 and 4 queues', async () => {
  const { code, stdout, stderr } = await runNode(['run.js', 'get', '--smoke'], 120_000);
  assert.equal(code, 0, stderr);
  assert.equal((stdout.match(/^\s+[14] getMessage\s+\|/gm) ?? []).length, 2, stdout);
  assert.equal((stdout.match(/^\s+[14] baseline FileHandle\.read\s+\|/gm) ?? []).length, 2, stdout);
});

test('the derived-recovery bench runs in smoke mode: SIGKILLed writer, every open finds what was written', async () => {
  const { code, stdout, stderr } = await runNode(['run.js', 'derived-recovery', '--smoke'], 120_000);
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /SIGKILL; abort present: true/);
  assert.equal((stdout.match(/^(crash|crash \+ rebuild|clean \+ rebuild)\s+\|/gm) ?? []).length, 3, stdout);
});

test('the ring transport bench runs in smoke mode', async () => {
  const { code, stdout, stderr } = await runNode(['micro/ring_push_pop.bench.js'], 120_000);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /ringbuf/);
});

test('the fsync preallocation bench runs in smoke mode', async () => {
  const { code, stdout, stderr } = await runNode(['micro/fsync_prealloc.bench.js'], 120_000);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /growing\s+sparse\s+zeroed/);
});

test('the SIGKILL crash loop passes a few rounds', async () => {
  const { code, stdout, stderr } = await runNode(['crash_loop.js', '--rounds', '3', '--seed', '7'], 120_000);
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /failures 0/);
});
