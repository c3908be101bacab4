// What a benchmark must know about where it runs: the filesystem under the store (tmpfs makes
// fsync free, overlayfs adds a copy-up layer) and whether the machine is busy. Shared by
// `mqstore bench`, `mqstore sweep` and the benchmarks under native-free-bench/.

import fs from 'node:fs';
import os from 'node:os';

/** statfs f_type magic numbers (linux/magic.h) of the filesystems worth naming. */
const FS_TYPES: Readonly<Record<number, string>> = {
  0x01021994: 'tmpfs',
  0x858458f6: 'ramfs',
  0xef53: 'ext2/3/4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0x65735546: 'fuse',
};

/** CPU in use by others before a run above which figures are called noisy. */
const BUSY_SHARE_WARNING = 0.25;

/** Filesystems where fsync costs nothing or means something else than on a disk. */
const MEANINGLESS_FS: Readonly<Record<string, string>> = {
  tmpfs: 'tmpfs keeps files in memory: fsync is free, SYNC_FLUSH and fsync figures mean nothing',
  ramfs: 'ramfs keeps files in memory: fsync is free, SYNC_FLUSH and fsync figures mean nothing',
  overlayfs: 'overlayfs (a container layer): figures include the overlay; mount a volume for the store',
  nfs: 'nfs: fsync goes over the network; figures measure the network, not a disk',
  cifs: 'cifs: fsync goes over the network; figures measure the network, not a disk',
  fuse: 'a FUSE filesystem: figures measure the FUSE daemon, not the disk',
};

export function filesystemOf(dir: string): string {
  const type = fs.statfsSync(dir).type;
  return FS_TYPES[type] ?? `0x${type.toString(16)}`;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  memoryBytes: number;
  loadAverage1m: number;
  /** Share of all CPU time in use by anyone over a short sample before the run (0…1), or −1. */
  cpuBusyShare: number;
}

/** CPU time in use by anyone, as a share of all CPUs, over `sampleMs` (from os.cpus() times). */
export async function cpuBusyShare(sampleMs: number): Promise<number> {
  const total = (): { busy: number; all: number } => {
    let busy = 0;
    let all = 0;
    for (const cpu of os.cpus()) {
      const t = cpu.times;
      const sum = t.user + t.nice + t.sys + t.irq + t.idle;
      all += sum;
      busy += sum - t.idle;
    }
    return { busy, all };
  };
  const before = total();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const after = total();
  const all = after.all - before.all;
  return all > 0 ? (after.busy - before.busy) / all : -1;
}

export function machineInfo(busyShare = -1): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown CPU',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memoryBytes: os.totalmem(),
    loadAverage1m: os.loadavg()[0] ?? 0,
    cpuBusyShare: busyShare,
  };
}

/**
 * Warnings that make a run's figures meaningless or suspect, for the directories the store
 * writes to. `expectedFs` (e.g. "xfs") names the filesystem the user meant to measure.
 */
export function environmentWarnings(dirs: readonly string[], expectedFs?: string, machine: MachineInfo = machineInfo()): string[] {
  const warnings: string[] = [];
  const seen = new Map<string, string>();
  for (const dir of dirs) {
    const fsType = filesystemOf(dir);
    seen.set(dir, fsType);
    const why = MEANINGLESS_FS[fsType];
    if (why !== undefined) warnings.push(`${dir}: ${why}`);
    if (expectedFs !== undefined && fsType !== expectedFs) {
      warnings.push(`${dir} is on ${fsType}, not on the expected ${expectedFs}`);
    }
  }
  const devices = new Set(dirs.map((dir) => fs.statSync(dir).dev));
  if (devices.size > 1) {
    warnings.push(`the store spans ${devices.size} filesystems (${[...seen].map(([d, t]) => `${d}: ${t}`).join(', ')}); the baselines measure only the first`);
  }
  if (machine.cpus < 2) warnings.push('one CPU: the writer worker competes with the senders');
  // Measured just before the run, not the load average: that still remembers a previous run.
  if (machine.cpuBusyShare > BUSY_SHARE_WARNING) {
    warnings.push(`the machine was busy before the run (${Math.round(machine.cpuBusyShare * 100)} % of ${machine.cpus} CPUs in use): figures will be noisy`);
  }
  return warnings;
}
