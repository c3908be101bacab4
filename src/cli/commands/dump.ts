// `mqstore dump …`: every field of every record of a store file, in the spirit of
// kafka-dump-log. One subcommand per file type, each in its own module.

import type { Command } from 'commander';
import { registerDumpCommitLog } from './dump_commitlog.js';
import { registerDumpConsumeQueue } from './dump_cq.js';
import { registerDumpIndex } from './dump_index.js';

export function registerDump(program: Command): void {
  const dump = program.command('dump').description('print every record of a CommitLog, consume queue or index file');
  registerDumpCommitLog(dump);
  registerDumpConsumeQueue(dump);
  registerDumpIndex(dump);
}
