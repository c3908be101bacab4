// Goal: the SAB byte ring loses, duplicates and reorders nothing, wraps correctly, wakes waiters.
// Method: one-thread accounting checks, then seeded multi-MB streams into a verifying worker.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

import { AssertionError } from '../../../src/assert.js';
import { RingConsumer } from '../../../src/shared/ring_consumer.js';
import * as layout from '../../../src/shared/ring_layout.js';
import {
  RING_CONSUMER_WAITING_I32,
  RING_HEADER_BYTES,
  RING_PRODUCER_WAITING_I32,
  RING_STATE_CLOSING,
  RING_STATE_FAILED,
  RING_STATE_RUNNING,
  ringCapacityBytes,
  ringCreate,
  ringHeader,
} from '../../../src/shared/ring_layout.js';
import { RingProducer } from '../../../src/shared/ring_producer.js';
import type { RingVerifyReport, RingVerifyWorkerData } from '../../support/ring_verify_worker.js';
import { ByteStream, Prng } from '../../support/ring_stream.js';

const SEED = Number(process.env['RING_TEST_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const VERIFY_WORKER_URL = new URL('../../support/ring_verify_worker.js', import.meta.url);
const RING_MD_URL = new URL('../../../../src/shared/ring.md', import.meta.url);
/** Long enough that only a missed notify makes a stream-test wait last this long. */
const WAIT_TIMEOUT_MS = 2000;

function ringPair(capacityBytes: number, initialCountBytes = 0) {
  const sab = ringCreate(capacityBytes, { initialCountBytes });
  return { sab, producer: new RingProducer(sab), consumer: new RingConsumer(sab) };
}

function bytesOf(length: number, first: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (first + i) & 0xff;
  return bytes;
}

function concat(views: Buffer[]): Buffer {
  return Buffer.concat(views);
}

/** Moves the ring's counters so the next write starts at data offset `positionBytes`. */
function advanceTo(
  producer: RingProducer,
  consumer: RingConsumer,
  positionBytes: number,
): void {
  producer.write(new Uint8Array(positionBytes));
  producer.publish();
  consumer.availableBytes();
  consumer.release(positionBytes);
  producer.freeBytes();
}

describe('ring layout', () => {
  test('header is two cache lines with producer and consumer words on separate lines', () => {
    assert.equal(RING_HEADER_BYTES, 128);
    assert.equal(Math.floor((layout.RING_WRITE_BYTES_I32 * 4) / 64), 0);
    assert.equal(Math.floor((layout.RING_PRODUCER_WAITING_I32 * 4) / 64), 0);
    assert.equal(Math.floor((layout.RING_READ_BYTES_I32 * 4) / 64), 1);
    assert.equal(Math.floor((layout.RING_CONSUMER_WAITING_I32 * 4) / 64), 1);
  });

  test('ringCreate rejects capacities that are not a power of two in [4 KiB, 1 GiB]', () => {
    for (const capacityBytes of [0, 2048, 4095, 4097, 6144, 2 ** 31]) {
      assert.throws(() => ringCreate(capacityBytes), AssertionError, `capacity ${capacityBytes}`);
    }
    assert.throws(() => ringCreate(4096, { initialCountBytes: 2 ** 32 }), AssertionError);
    assert.throws(() => ringCreate(4096, { initialCountBytes: -1 }), AssertionError);
  });

  test('ringCreate stores the capacity and sizes the buffer to header plus capacity', () => {
    const sab = ringCreate(8192);
    assert.equal(sab.byteLength, RING_HEADER_BYTES + 8192);
    assert.equal(ringCapacityBytes(sab), 8192);
    assert.equal(new RingProducer(sab).capacityBytes, 8192);
    assert.equal(new RingConsumer(sab).capacityBytes, 8192);
  });

  test('ring.md byte table matches every exported header index', () => {
    const markdown = readFileSync(RING_MD_URL, 'utf8');
    const rows = markdown.split('\n').filter((line) => /^\| \d+ \|/.test(line));
    const documented = new Map<string, number>();
    for (const row of rows) {
      const cells = row.split('|').map((cell) => cell.trim());
      const name = /`(RING_\w+_I32)`/.exec(cells[5] ?? '')?.[1];
      if (name === undefined) continue;
      const offsetBytes = Number(cells[1]);
      assert.equal(Number(cells[6]), offsetBytes / 4, `${name}: index column is offset / 4`);
      documented.set(name, offsetBytes);
    }
    const exported = Object.entries(layout).filter(([name]) => name.endsWith('_I32'));
    assert.ok(exported.length >= 6);
    for (const [name, indexI32] of exported) {
      assert.equal(documented.get(name), (indexI32 as number) * 4, `${name} offset in ring.md`);
    }
    assert.equal(documented.size, exported.length, 'ring.md documents no extra words');
  });
});

describe('ring accounting on one thread', () => {
  test('a fresh ring has every byte free and none available', () => {
    const { producer, consumer } = ringPair(4096);
    assert.equal(producer.freeBytes(), 4096);
    assert.equal(consumer.availableBytes(), 0);
    assert.deepEqual(consumer.readable(100), []);
    assert.equal(producer.state(), RING_STATE_RUNNING);
  });

  test('written bytes stay invisible to the consumer until publish', () => {
    const { producer, consumer } = ringPair(4096);
    producer.write(bytesOf(100, 1));
    assert.equal(producer.freeBytes(), 3996, 'unpublished bytes already take space');
    assert.equal(producer.unpublishedBytes(), 100);
    assert.equal(consumer.availableBytes(), 0);
    producer.publish();
    assert.equal(producer.unpublishedBytes(), 0);
    assert.equal(consumer.availableBytes(), 100);
    assert.deepEqual(concat(consumer.readable(1000)), Buffer.from(bytesOf(100, 1)));
  });

  test('free and available bytes account for every write and release', () => {
    const { producer, consumer } = ringPair(4096);
    producer.write(bytesOf(1000, 0));
    producer.write(bytesOf(3000, 0));
    producer.publish();
    assert.equal(producer.freeBytes(), 96);
    assert.equal(consumer.availableBytes(), 4000);
    assert.equal(consumer.readable(10)[0]?.length, 10, 'readable honours maxBytes');
    consumer.release(1500);
    assert.equal(producer.freeBytes(), 1596);
    assert.equal(consumer.availableBytes(), 2500);
    producer.write(bytesOf(1596, 0));
    producer.publish();
    assert.equal(producer.freeBytes(), 0, 'the ring fills to exactly its capacity');
    assert.equal(consumer.availableBytes(), 4096);
    consumer.release(4096);
    assert.equal(producer.freeBytes(), 4096);
    assert.equal(consumer.availableBytes(), 0);
  });

  test('write asserts when the source is larger than the free space', () => {
    const { producer } = ringPair(4096);
    producer.write(new Uint8Array(4000));
    assert.throws(() => producer.write(new Uint8Array(97)), AssertionError);
    producer.write(new Uint8Array(96));
  });

  test('release asserts when it would pass the bytes the consumer has seen', () => {
    const { producer, consumer } = ringPair(4096);
    producer.write(new Uint8Array(10));
    producer.publish();
    assert.equal(consumer.availableBytes(), 10);
    assert.throws(() => consumer.release(11), AssertionError);
    assert.throws(() => consumer.readInt32BE(7), AssertionError);
    consumer.release(10);
  });

  test('writeAlignment follows the write position mod 8, including unpublished bytes', () => {
    const { producer } = ringPair(4096, 5);
    assert.equal(producer.writeAlignment(), 5);
    producer.write(new Uint8Array(6));
    assert.equal(producer.writeAlignment(), 3);
    producer.publish();
    assert.equal(producer.writeAlignment(), 3);
  });
});

describe('ring wrap-around', () => {
  test('a write that straddles the end reads back as two views in stream order', () => {
    const { producer, consumer } = ringPair(4096);
    advanceTo(producer, consumer, 4000);
    const record = bytesOf(500, 7);
    producer.write(record);
    producer.publish();
    const views = consumer.readable(10_000);
    assert.equal(views.length, 2);
    assert.equal(views[0]?.length, 96);
    assert.equal(views[1]?.length, 404);
    assert.deepEqual(concat(views), Buffer.from(record));
    consumer.release(500);
    assert.equal(producer.freeBytes(), 4096);
  });

  test('views are zero-copy: they alias the shared memory', () => {
    const { sab, producer, consumer } = ringPair(4096);
    producer.write(bytesOf(8, 0));
    producer.publish();
    const [view] = consumer.readable(8);
    assert.ok(view !== undefined);
    assert.equal(view.buffer, sab);
    assert.equal(view.byteOffset, RING_HEADER_BYTES);
  });

  test('readInt32BE and copyOut read across the end of the data region', () => {
    for (let positionBytes = 4096 - 8; positionBytes < 4096; positionBytes++) {
      const { producer, consumer } = ringPair(4096);
      advanceTo(producer, consumer, positionBytes);
      const header = Buffer.alloc(16);
      header.writeInt32BE(-123456789, 0);
      header.writeInt32BE(0x01020304, 4);
      header.writeInt32BE(-1, 8);
      header.writeInt32BE(0x7fffffff, 12);
      producer.write(header);
      producer.publish();
      assert.equal(consumer.availableBytes(), 16);
      for (const relativeBytes of [0, 4, 8, 12]) {
        const expected = header.readInt32BE(relativeBytes);
        assert.equal(consumer.readInt32BE(relativeBytes), expected, `at ${positionBytes}`);
      }
      for (let relativeBytes = 0; relativeBytes < 16; relativeBytes++) {
        const target = new Uint8Array(20);
        consumer.copyOut(target, 2, relativeBytes, 16 - relativeBytes);
        const copied = Buffer.from(target.subarray(2, 2 + 16 - relativeBytes));
        assert.deepEqual(copied, header.subarray(relativeBytes), `copyOut at ${positionBytes}`);
      }
    }
  });

  for (const [label, initialCountBytes] of [
    ['2^31', 2 ** 31 - 3000],
    ['2^32', 2 ** 32 - 3000],
  ] as const) {
    test(`counters passing ${label} keep accounting and contents right`, () => {
      const { producer, consumer } = ringPair(4096, initialCountBytes);
      const source = new ByteStream(SEED);
      const target = new ByteStream(SEED);
      const sizes = new Prng(SEED);
      for (let round = 0; round < 40; round++) {
        const lengthBytes = sizes.inRange(1, 4096);
        assert.equal(producer.freeBytes(), 4096, `seed=${SEED}`);
        const chunk = new Uint8Array(lengthBytes);
        source.fill(chunk, 0, lengthBytes);
        producer.write(chunk);
        producer.publish();
        assert.equal(producer.freeBytes(), 4096 - lengthBytes);
        assert.equal(consumer.availableBytes(), lengthBytes);
        const received = concat(consumer.readable(lengthBytes));
        for (const byte of received) assert.equal(byte, target.nextByte(), `seed=${SEED}`);
        consumer.release(lengthBytes);
      }
    });
  }
});

describe('ring waiting on one thread', () => {
  test('waitForFreeAsync resolves false after its timeout when no space frees up', async () => {
    const { sab, producer } = ringPair(4096);
    producer.write(new Uint8Array(4096));
    producer.publish();
    const startMs = performance.now();
    assert.equal(await producer.waitForFreeAsync(1, 50), false);
    assert.ok(performance.now() - startMs >= 45, 'waited about the timeout');
    assert.equal(Atomics.load(ringHeader(sab), RING_PRODUCER_WAITING_I32), 0);
  });

  test('waitForFreeAsync wakes when the consumer releases and clears its flag', async () => {
    const { sab, producer, consumer } = ringPair(4096);
    producer.write(new Uint8Array(4096));
    producer.publish();
    const waiting = producer.waitForFreeAsync(100, 10_000);
    assert.equal(Atomics.load(ringHeader(sab), RING_PRODUCER_WAITING_I32), 1);
    await sleep(20);
    const startMs = performance.now();
    consumer.availableBytes();
    consumer.release(100);
    assert.equal(await waiting, true);
    assert.ok(performance.now() - startMs < 1000, 'woken by release, not by the timeout');
    assert.equal(Atomics.load(ringHeader(sab), RING_PRODUCER_WAITING_I32), 0);
  });

  test('waitForFreeAsync asserts when written bytes are not yet published', async () => {
    const { producer } = ringPair(4096);
    producer.write(new Uint8Array(1));
    await assert.rejects(producer.waitForFreeAsync(1, 10), AssertionError);
  });

  test('waitForDataAsync wakes on publish and times out on silence', async () => {
    const { sab, producer, consumer } = ringPair(4096);
    assert.equal(await consumer.waitForDataAsync(30), false);
    const waiting = consumer.waitForDataAsync(10_000);
    assert.equal(Atomics.load(ringHeader(sab), RING_CONSUMER_WAITING_I32), 1);
    await sleep(20);
    const startMs = performance.now();
    producer.write(new Uint8Array(3));
    producer.publish();
    assert.equal(await waiting, true);
    assert.ok(performance.now() - startMs < 1000, 'woken by publish, not by the timeout');
    assert.equal(Atomics.load(ringHeader(sab), RING_CONSUMER_WAITING_I32), 0);
  });

  test('waitForDataAsync with beyondBytes waits for bytes past the staged ones', async () => {
    const { producer, consumer } = ringPair(4096);
    producer.write(new Uint8Array(100));
    producer.publish();
    assert.equal(await consumer.waitForDataAsync(0, 100), false, '100 staged, none beyond');
    let stagedBytes = 100;
    let settled = false;
    const waiting = consumer.waitForDataAsync(10_000, () => stagedBytes);
    void waiting.then(() => (settled = true));
    await sleep(10);
    stagedBytes = 101; // Re-read at the next wake-up: one more byte is now needed.
    producer.write(new Uint8Array(1));
    producer.publish();
    await sleep(20);
    assert.equal(settled, false, 'byte 101 is staged now, so the wait goes on');
    producer.write(new Uint8Array(1));
    producer.publish();
    assert.equal(await waiting, true);
  });

  test('short timed-out waits keep the event loop alive until they settle', async () => {
    // Regression: a keep-alive timer that expired at the deadline sometimes fired before V8
    // settled the wait, so node exited with the wait (and this test) still pending.
    const { producer, consumer } = ringPair(4096);
    producer.write(new Uint8Array(4096));
    producer.publish();
    for (let round = 0; round < 100; round++) {
      assert.equal(await consumer.waitForDataAsync(0), true, 'data is there');
      assert.equal(await producer.waitForFreeAsync(1, (round % 4) + 0.5), false);
    }
    consumer.availableBytes();
    consumer.release(4096);
    for (let round = 0; round < 100; round++) {
      assert.equal(await consumer.waitForDataAsync((round % 4) + 0.5), false);
    }
  });

  test('waitForDataSync refuses to block the main thread', () => {
    const { consumer } = ringPair(4096);
    assert.throws(() => consumer.waitForDataSync(1), AssertionError);
  });

  test('state only moves forward and wakes a consumer waiting on an empty ring', async () => {
    const { producer, consumer } = ringPair(4096);
    const waiting = consumer.waitForDataAsync(10_000);
    const startMs = performance.now();
    assert.equal(producer.stateAdvance(RING_STATE_CLOSING), RING_STATE_CLOSING);
    assert.equal(await waiting, false);
    assert.ok(performance.now() - startMs < 1000, 'woken by the state change');
    assert.equal(consumer.stateAdvance(RING_STATE_FAILED), RING_STATE_FAILED);
    assert.equal(producer.stateAdvance(RING_STATE_CLOSING), RING_STATE_FAILED);
    assert.equal(producer.state(), RING_STATE_FAILED);
    assert.equal(await producer.waitForFreeAsync(4096, 10_000), true, 'empty ring is free');
  });
});

interface VerifyRun {
  report: Promise<RingVerifyReport>;
  worker: Worker;
}

function startVerifier(config: Omit<RingVerifyWorkerData, 'kind'>): VerifyRun {
  const workerData: RingVerifyWorkerData = { kind: 'ring_verify', ...config };
  const worker = new Worker(VERIFY_WORKER_URL, { workerData });
  const report = new Promise<RingVerifyReport>((resolve, reject) => {
    worker.once('message', (message: RingVerifyReport) => resolve(message));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`verify worker exited (${code}) first`)));
  });
  return { report, worker };
}

/**
 * Streams `totalBytes` of the seeded byte stream in chunks of 1..5000 bytes, staging each chunk
 * at the ring's write alignment as the real store does, and publishing every 1..3 chunks.
 */
async function produce(producer: RingProducer, seed: number, totalBytes: number) {
  const stream = new ByteStream(seed);
  const choices = new Prng(seed + 1);
  const scratch = Buffer.alloc(5000 + 8);
  let sentBytes = 0;
  let waitCount = 0;
  while (sentBytes < totalBytes) {
    const lengthBytes = Math.min(choices.inRange(1, 5000), totalBytes - sentBytes);
    while (producer.freeBytes() < lengthBytes) {
      producer.publish();
      waitCount++;
      const startMs = performance.now();
      const ready = await producer.waitForFreeAsync(lengthBytes, WAIT_TIMEOUT_MS);
      // The consumer never stalls for this long, so a wait this long missed a notify.
      const waitedMs = performance.now() - startMs;
      assert.ok(waitedMs < WAIT_TIMEOUT_MS * 0.9, `producer missed a wake-up; seed=${seed}`);
      assert.ok(ready, `producer starved at ${sentBytes} bytes; seed=${seed}`);
    }
    const alignment = producer.writeAlignment();
    stream.fill(scratch, alignment, lengthBytes);
    producer.write(scratch.subarray(alignment, alignment + lengthBytes));
    sentBytes += lengthBytes;
    if (choices.inRange(1, 3) === 1) producer.publish();
  }
  producer.publish();
  return { waitCount };
}

describe('ring between the main thread and a worker', () => {
  for (const [waitMode, initialCountBytes] of [
    ['sync', 2 ** 32 - 3 * 1024 * 1024],
    ['async', 2 ** 31 - 3 * 1024 * 1024],
  ] as const) {
    const name = `6 MiB of random chunks through an 8 KiB ring arrive intact (${waitMode} waits)`;
    test(name, async (t) => {
      t.diagnostic(`seed=${SEED} (replay with RING_TEST_SEED=${SEED})`);
      const totalBytes = 6 * 1024 * 1024;
      const sab = ringCreate(8192, { initialCountBytes });
      const run = startVerifier({
        sab,
        waitMode,
        streamSeed: SEED,
        readSeed: SEED + 2,
        totalBytes,
        readBytesMax: 6000,
        waitTimeoutMs: WAIT_TIMEOUT_MS,
      });
      // A failed report rejects at once, so a stuck producer cannot hide the worker's finding.
      const verified = run.report.then((report) => {
        if (report.type !== 'done') throw new Error(`seed=${SEED}: ${JSON.stringify(report)}`);
        return report;
      });
      const [produced, report] = await Promise.all([
        produce(new RingProducer(sab), SEED, totalBytes),
        verified,
      ]).finally(() => run.worker.terminate());
      assert.equal(report.bytesVerified, totalBytes);
      assert.ok(report.readWrappedCount > 0, 'reads straddled the end');
      assert.ok(produced.waitCount > 0, 'the producer had to wait for space');
      t.diagnostic(`producer waits=${produced.waitCount} consumer waits=${report.waitCount}`);
    });
  }

  test('a worker sleeping in Atomics.wait is woken by publish, not by its timeout', async () => {
    const sab = ringCreate(4096);
    const run = startVerifier({
      sab,
      waitMode: 'sync',
      streamSeed: SEED,
      readSeed: SEED,
      totalBytes: 100,
      readBytesMax: 100,
      waitTimeoutMs: 30_000,
    });
    const header = ringHeader(sab);
    for (let poll = 0; Atomics.load(header, RING_CONSUMER_WAITING_I32) !== 1; poll++) {
      assert.ok(poll < 500, 'the worker went to sleep');
      await sleep(10);
    }
    const startMs = performance.now();
    const chunk = new Uint8Array(100);
    new ByteStream(SEED).fill(chunk, 0, 100);
    const producer = new RingProducer(sab);
    producer.write(chunk);
    producer.publish();
    const report = await run.report;
    await run.worker.terminate();
    assert.equal(report.type, 'done', JSON.stringify(report));
    assert.ok(performance.now() - startMs < 5000, 'woken well before the 30 s timeout');
  });
});
