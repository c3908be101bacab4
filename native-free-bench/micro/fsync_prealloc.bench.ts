// How segment preallocation changes the cost of write + fdatasync: a growing file, a sparse
// file (ftruncate to full size, RocketMQ-style "created at full size"), and a file whose blocks
// were zero-filled and fsynced first (RocketMQ's warmMapedFileEnable). Rounds are interleaved.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { printHeader } from '../bench_env.js';

type Layout = 'growing' | 'sparse' | 'zeroed';
const LAYOUTS: Layout[] = ['growing', 'sparse', 'zeroed'];

function prepare(file: string, layout: Layout, sizeBytes: number): number {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  if (layout === 'sparse') fs.ftruncateSync(fd, sizeBytes);
  if (layout === 'zeroed') {
    const zeros = Buffer.alloc(1024 * 1024);
    for (let at = 0; at < sizeBytes; at += zeros.length) fs.writeSync(fd, zeros, 0, Math.min(zeros.length, sizeBytes - at), at);
    fs.fdatasyncSync(fd);
  }
  return fd;
}

/** Mean µs of one pwrite of `writeBytes` + fdatasync, appending through a fresh region. */
function measure(fd: number, writeBytes: number, count: number): number {
  const chunk = Buffer.alloc(writeBytes, 0x61);
  const startMs = performance.now();
  for (let i = 0; i < count; i++) {
    fs.writeSync(fd, chunk, 0, writeBytes, i * writeBytes);
    fs.fdatasyncSync(fd);
  }
  return ((performance.now() - startMs) * 1000) / count;
}

export async function run(smoke = process.env['BENCH_SMOKE'] === '1'): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-fsync-'));
  const sizes = smoke ? [4096, 65536] : [4096, 65536, 262144, 1048576];
  const rounds = smoke ? 1 : 3;
  printHeader('write + fdatasync by preallocation (µs per sync, lower is better; medians)', dir, { rounds });
  try {
    console.log('write size |  growing   sparse   zeroed | zeroed vs sparse');
    for (const writeBytes of sizes) {
      const count = Math.max(20, Math.min(400, Math.floor((64 * 1024 * 1024) / writeBytes / 4)));
      const regionBytes = count * writeBytes;
      const samples: Record<Layout, number[]> = { growing: [], sparse: [], zeroed: [] };
      for (let round = 0; round < rounds; round++) {
        for (const layout of LAYOUTS) {
          const file = path.join(dir, layout);
          const fd = prepare(file, layout, regionBytes);
          try {
            samples[layout].push(measure(fd, writeBytes, count));
          } finally {
            fs.closeSync(fd);
            fs.rmSync(file);
          }
        }
      }
      const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const [g, s, z] = LAYOUTS.map((l) => med(samples[l]));
      console.log(
        `${String(writeBytes).padStart(10)} | ${g!.toFixed(0).padStart(8)} ${s!.toFixed(0).padStart(8)} ${z!.toFixed(0).padStart(8)} | ${(s! / z!).toFixed(2)}×`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
