// The disk's own figures, measured in the same run as the engine (these machines are shared
// and noisy, so a number from yesterday says little). Both write into a scratch file beside the
// store, on the same filesystem, and remove it.
//
//   pageCacheWrite   sequential 256 KiB pwrites, no fsync: how fast bytes reach the page cache.
//                    The ceiling of an ASYNC_FLUSH store's write path.
//   writeFdatasync   pwrite of `bytesPerWrite` + fdatasync, in a loop, into a file prepared as
//                    the engine's segments are (sparse, or zero-filled with warmMapedFileEnable):
//                    the ceiling of a group commit that syncs that many bytes at a time.
//
// They run synchronously on the calling thread while the store is idle: the loop must not share
// the CPU with anything else, and no store send path runs here.

import fs from 'node:fs';
import path from 'node:path';
import { LatencyRecorder, type LatencySummaryMs } from './latency.js';

export interface PageCacheWriteBaseline {
  chunkBytes: number;
  bytesWritten: number;
  durationMs: number;
  mbPerSec: number;
}

export interface WriteFdatasyncBaseline {
  bytesPerWrite: number;
  file: 'sparse' | 'zero-filled';
  writes: number;
  durationMs: number;
  opsPerSec: number;
  mbPerSec: number;
  latencyMs: LatencySummaryMs;
}

const CHUNK_BYTES = 256 * 1024;

function scratchFile(dir: string, name: string): string {
  return path.join(dir, `.mqstore-baseline-${process.pid}-${name}`);
}

/** Sequential 256 KiB pwrites for `durationMs` or until `maxBytes`; the flush afterwards is untimed. */
export function measurePageCacheWrite(dir: string, durationMs: number, maxBytes = 1024 * 1024 * 1024): PageCacheWriteBaseline {
  const file = scratchFile(dir, 'pagecache');
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x61);
  const fd = fs.openSync(file, 'w+', 0o644);
  let position = 0;
  const startMs = performance.now();
  let elapsedMs = 0;
  try {
    while (elapsedMs < durationMs && position + CHUNK_BYTES <= maxBytes) {
      fs.writeSync(fd, chunk, 0, CHUNK_BYTES, position);
      position += CHUNK_BYTES;
      elapsedMs = performance.now() - startMs;
    }
    fs.fdatasyncSync(fd); // Leave no dirty pages for the engine to pay for.
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return { chunkBytes: CHUNK_BYTES, bytesWritten: position, durationMs: elapsedMs, mbPerSec: position / 1e6 / (elapsedMs / 1000) };
}

export interface WriteFdatasyncOptions {
  bytesPerWrite: number;
  durationMs: number;
  /** Zero-fill the file first, as warmMapedFileEnable does to segments. */
  zeroFilled: boolean;
  /** Size of the scratch file; the loop stops at its end. */
  fileBytes?: number;
}

export function measureWriteFdatasync(dir: string, options: WriteFdatasyncOptions): WriteFdatasyncBaseline {
  const bytesPerWrite = Math.max(1, Math.round(options.bytesPerWrite));
  const fileBytes = Math.max(options.fileBytes ?? 256 * 1024 * 1024, bytesPerWrite * 16);
  const file = scratchFile(dir, 'fdatasync');
  const fd = fs.openSync(file, 'w+', 0o644);
  const latency = new LatencyRecorder();
  const chunk = Buffer.alloc(bytesPerWrite, 0x61);
  let writes = 0;
  let elapsedMs = 0;
  try {
    fs.ftruncateSync(fd, fileBytes);
    if (options.zeroFilled) {
      const zeros = Buffer.alloc(1024 * 1024);
      for (let position = 0; position < fileBytes; position += zeros.length) {
        fs.writeSync(fd, zeros, 0, Math.min(zeros.length, fileBytes - position), position);
      }
      fs.fdatasyncSync(fd);
    }
    let position = 0;
    const startMs = performance.now();
    while (elapsedMs < options.durationMs && position + bytesPerWrite <= fileBytes) {
      const t0 = performance.now();
      fs.writeSync(fd, chunk, 0, bytesPerWrite, position);
      fs.fdatasyncSync(fd);
      const now = performance.now();
      latency.recordMs(now - t0);
      position += bytesPerWrite;
      writes++;
      elapsedMs = now - startMs;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  const seconds = elapsedMs / 1000;
  return {
    bytesPerWrite,
    file: options.zeroFilled ? 'zero-filled' : 'sparse',
    writes,
    durationMs: elapsedMs,
    opsPerSec: seconds > 0 ? writes / seconds : 0,
    mbPerSec: seconds > 0 ? (writes * bytesPerWrite) / 1e6 / seconds : 0,
    latencyMs: latency.summary(),
  };
}
