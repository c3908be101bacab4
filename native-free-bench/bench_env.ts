// What every benchmark prints first: the machine, and warnings that make figures meaningless.

import fs from 'node:fs';
import os from 'node:os';

const FS_TYPES: Record<number, string> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext2/3/4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
};

export function filesystemOf(dir: string): string {
  const type = fs.statfsSync(dir).type;
  return FS_TYPES[type] ?? `0x${type.toString(16)}`;
}

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
