// A worker that consumes a ring and checks every byte against a seeded ByteStream, so the
// ring tests can run a real cross-thread producer/consumer pair. Reports once and exits.
//
// node --test also picks up files under test/ as test files, so the body runs only inside a
// worker started with RingVerifyWorkerData; on the main thread this module does nothing.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';

import { RingConsumer } from '../../src/shared/ring_consumer.js';
import { ByteStream, Prng } from './ring_stream.js';

export interface RingVerifyWorkerData {
  kind: 'ring_verify';
  sab: SharedArrayBuffer;
  /** 'sync' waits in Atomics.wait(), 'async' in Atomics.waitAsync(). */
  waitMode: 'sync' | 'async';
  /** Seed of the expected byte stream; the producer must use the same. */
  streamSeed: number;
  /** Seed for the consumer's own read sizes, independent of the producer's chunk sizes. */
  readSeed: number;
  totalBytes: number;
  readBytesMax: number;
  waitTimeoutMs: number;
}

export type RingVerifyReport =
  | {
      type: 'done';
      bytesVerified: number;
      /** Reads whose range straddled the end of the data region (two views). */
      readWrappedCount: number;
      waitCount: number;
    }
  | { type: 'mismatch'; atBytes: number; expected: number; actual: number }
  | { type: 'error'; message: string };


async function verify(config: RingVerifyWorkerData): Promise<RingVerifyReport> {
  const consumer = new RingConsumer(config.sab);
  const expected = new ByteStream(config.streamSeed);
  const reads = new Prng(config.readSeed);
  const chunk = new Uint8Array(config.readBytesMax);
  let bytesVerified = 0;
  let readWrappedCount = 0;
  let waitCount = 0;
  while (bytesVerified < config.totalBytes) {
    if (consumer.availableBytes() === 0) {
      waitCount++;
      const startMs = performance.now();
      const ready =
        config.waitMode === 'sync'
          ? consumer.waitForDataSync(config.waitTimeoutMs)
          : await consumer.waitForDataAsync(config.waitTimeoutMs);
      // The producer never pauses for a whole timeout, so a wait that lasts one missed a
      // notify. It may still return true (data came meanwhile), hence the duration check.
      if (!ready || performance.now() - startMs >= config.waitTimeoutMs * 0.9) {
        return { type: 'error', message: `missed wake-up after ${bytesVerified} bytes` };
      }
      continue;
    }
    const views = consumer.readable(reads.inRange(1, config.readBytesMax));
    if (views.length === 2) readWrappedCount++;
    const lengthBytes = gather(views, chunk);
    for (let i = 0; i < lengthBytes; i++) {
      const byte = expected.nextByte();
      if (chunk[i] !== byte) {
        return { type: 'mismatch', atBytes: bytesVerified + i, expected: byte, actual: chunk[i]! };
      }
    }
    const problem = checkRandomAccess(consumer, chunk, lengthBytes, reads);
    if (problem !== null) return { type: 'error', message: problem };
    consumer.release(lengthBytes);
    bytesVerified += lengthBytes;
  }
  return { type: 'done', bytesVerified, readWrappedCount, waitCount };
}

/** Concatenates the readable() views into `chunk`; returns the byte count. */
function gather(views: Buffer[], chunk: Uint8Array): number {
  let lengthBytes = 0;
  for (const view of views) {
    chunk.set(view, lengthBytes);
    lengthBytes += view.length;
  }
  return lengthBytes;
}

/**
 * Checks readInt32BE() and copyOut() at a random position of the chunk just gathered, against
 * the bytes the views returned; the positions regularly straddle the end of the data region.
 */
function checkRandomAccess(
  consumer: RingConsumer,
  chunk: Uint8Array,
  lengthBytes: number,
  reads: Prng,
): string | null {
  if (lengthBytes < 4) return null;
  const relativeBytes = reads.inRange(0, lengthBytes - 4);
  const view = new DataView(chunk.buffer, chunk.byteOffset, lengthBytes);
  if (consumer.readInt32BE(relativeBytes) !== view.getInt32(relativeBytes, false)) {
    return `readInt32BE mismatch at relative ${relativeBytes}`;
  }
  const copyBytes = reads.inRange(0, lengthBytes - relativeBytes);
  const target = new Uint8Array(copyBytes + 3);
  consumer.copyOut(target, 3, relativeBytes, copyBytes);
  for (let i = 0; i < copyBytes; i++) {
    if (target[3 + i] !== chunk[relativeBytes + i]) return `copyOut mismatch at ${relativeBytes}`;
  }
  return null;
}

function isVerifyWorkerData(value: unknown): value is RingVerifyWorkerData {
  if (typeof value !== 'object' || value === null) return false;
  return (value as { kind?: unknown }).kind === 'ring_verify';
}

if (!isMainThread && parentPort !== null && isVerifyWorkerData(workerData)) {
  const port = parentPort;
  verify(workerData).then(
    (report) => port.postMessage(report),
    (error: unknown) => port.postMessage({ type: 'error', message: String(error) }),
  );
}
