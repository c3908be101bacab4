// Runs the `mqstore` bin (dist/src/cli/mqstore.js) as a child process, for the CLI tests.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** The built bin, for tests that spawn it themselves (signals, streaming output). */
export const CLI_BIN = new URL('../../src/cli/mqstore.js', import.meta.url).pathname;

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(...args: string[]): CliRun {
  const result = spawnSync(process.execPath, [CLI_BIN, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Polls `check` every 5 ms; fails after `timeoutMs` (the dispatcher catching up). */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  // A deadline, not a sum of sleeps: a slow check (one that runs the CLI) counts too.
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    assert.ok(performance.now() < deadline, `the dispatcher did not catch up in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
