// The `mqstore` command's program (commander). Each subcommand lives in its own module under
// ./commands and exports a function that registers it. Exit codes: 0 success, 1 a problem found
// or an operation failed (a StoreError: its code is printed), 2 bad usage. The bin is
// ./mqstore.ts; tests call main() in-process or run the bin as a child process.

import { Command, CommanderError } from 'commander';
import { StoreError } from '../errors.js';
import { registerBench } from './commands/bench.js';
import { registerDump } from './commands/dump.js';
import { registerQuery } from './commands/query.js';
import { registerStats } from './commands/stats.js';
import { registerSweep } from './commands/sweep.js';
import { registerVerify } from './commands/verify.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mqstore')
    .description('Inspect and benchmark mqstore stores (RocketMQ on-disk format)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerBench(program);
  registerDump(program);
  registerQuery(program);
  registerStats(program);
  registerSweep(program);
  registerVerify(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof StoreError) {
      process.stderr.write(`mqstore: ${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
