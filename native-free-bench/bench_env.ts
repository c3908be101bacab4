// What every benchmark prints first: the machine, and warnings that make figures meaningless.

import os from 'node:os';
import { filesystemOf } from '../src/bench/environment.js';

export function printHeader(title: string, dir: string, extra: Record<string, string | number> = {}): void {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const fsType = filesystemOf(dir);
  console.log(`# ${title}`);
  console.log(`date        ${new Date().toISOString()}`);
  console.log(`node        ${process.version} on ${os.platform()} ${os.release()}`);
  console.log(`cpu         ${os.cpus().length} × ${cpu}`);
  console.log(`directory   ${dir} (${fsType})`);
  for (const [key, value] of Object.entries(extra)) console.log(`${key.padEnd(11)} ${value}`);
  if (fsType === 'tmpfs') console.log('WARNING     tmpfs: fsync is free here, SYNC_FLUSH figures mean nothing');
  if (os.cpus().length < 2) console.log('WARNING     one CPU: the writer worker competes with the sender');
  console.log('');
}
