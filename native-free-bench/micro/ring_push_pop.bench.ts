// Main thread → worker message transport, end to end: the hand-written byte ring
// (src/shared/ring_*.ts) against ringbuf.js's RingBuffer and against one postMessage per
// message. The worker reads every message's head and tail words, checks them, and folds them
// into an order-sensitive checksum, so no work can be skipped and any loss or reordering shows.
//
//   node dist/native-free-bench/micro/ring_push_pop.bench.js      (BENCH_SMOKE=1 for a tiny run)
//
// This file is also the worker script: the worker half runs only when started with
// BenchWorkerData, so importing run() elsewhere has no side effects.

import { availableParallelism, cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { RingBuffer } from 'ringbuf.js';

import { assert } from '../../src/assert.js';
import { RingConsumer } from '../../src/shared/ring_consumer.js';
import { ringCreate, ringWaitAsync } from '../../src/shared/ring_layout.js';
import { RingProducer } from '../../src/shared/ring_producer.js';

type Transport = 'ring-staged' | 'ring-misaligned' | 'ringbuf.js' | 'postMessage';

interface BenchWorkerData {
  kind: 'ring_push_pop_bench';
  transport: Transport;
  /** The ring's SharedArrayBuffer (absent for postMessage). */
  sab: SharedArrayBuffer | null;
  /** ringbuf.js has no waiting protocol; this side buffer carries the same flags as ours. */
  sideSab: SharedArrayBuffer | null;
  messageBytes: number;
  messageCount: number;
}

interface BenchDone {
  type: 'done';
  checksum: number;
  bytesReceived: number;
  badMessageCount: number;
  /** Times the consumer went to sleep; many sleeps mean the producer paid many notifies. */
  sleepCount: number;
}

const SMOKE = process.env['BENCH_SMOKE'] === '1';
const RING_CAPACITY_BYTES = 1024 * 1024;
/** Every wait is bounded; a transport that stalls this long is broken, not slow. */
const WAIT_TIMEOUT_MS = 10_000;
/**
 * Both consumers poll for this long before they sleep. Without it the fast consumer catches up,
 * sleeps after nearly every batch, and the producer pays a futex wake per batch; on this 2-vCPU
 * VM that was a bimodal 4x slowdown from run to run (about 35k sleeps per 2M messages).
 */
const CONSUMER_SPIN_MS = 0.05;
/** Largest batch a consumer takes at once (ringbuf.js copies it out into a buffer this big). */
const CONSUMER_BATCH_BYTES_MAX = 256 * 1024;
const TAIL_MULTIPLIER = 0x9e3779b1;
// ringbuf.js side-buffer words, on separate 64-byte lines like ring_layout.ts.
const SIDE_CONSUMER_WAITING_I32 = 0;
const SIDE_PRODUCER_WAITING_I32 = 16;

/** Folds one message into the running checksum; the worker and the main thread agree on it. */
function checksumStep(checksum: number, head: number, tail: number): number {
  return (Math.imul(checksum, 31) + head + tail) | 0;
}

function checksumExpected(messageCount: number): number {
  let checksum = 0;
  for (let seq = 0; seq < messageCount; seq++) {
    checksum = checksumStep(checksum, seq, Math.imul(seq, TAIL_MULTIPLIER));
  }
  return checksum;
}

/** Writes the message's head (sequence number) and tail (derived from it), big-endian. */
function stampMessage(view: DataView, byteOffset: number, messageBytes: number, seq: number): void {
  view.setInt32(byteOffset, seq, false);
  view.setInt32(byteOffset + messageBytes - 4, Math.imul(seq, TAIL_MULTIPLIER), false);
}

function messageTemplate(totalBytes: number): Buffer {
  const bytes = Buffer.alloc(totalBytes);
  for (let i = 0; i < totalBytes; i++) bytes[i] = (i * 7 + 1) & 0xff;
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Producers (main thread). None of them blocks: full rings are waited on with waitAsync.

/** Returns how many times the producer had to wait for free space. */
async function produceRing(sab: SharedArrayBuffer, config: BenchWorkerData): Promise<number> {
  const producer = new RingProducer(sab);
  const { messageBytes, messageCount } = config;
  // One scratch message per alignment mod 8, as the store's encoder stages records; the
  // misaligned variant always copies from an address 3 mod 8 while ring positions stay 0 mod 8.
  const sources: Buffer[] = [];
  for (let alignment = 0; alignment < 8; alignment++) {
    const offset = config.transport === 'ring-staged' ? alignment : 3;
    sources.push(messageTemplate(messageBytes + 8).subarray(offset, offset + messageBytes));
  }
  const views = sources.map((view) => new DataView(view.buffer, view.byteOffset, messageBytes));
  let waitCount = 0;
  for (let seq = 0; seq < messageCount; seq++) {
    if (producer.freeBytes() < messageBytes) {
      waitCount++;
      const ready = await producer.waitForFreeAsync(messageBytes, WAIT_TIMEOUT_MS);
      assert(ready, 'ring producer waited too long for space');
    }
    const alignment = producer.writeAlignment();
    // The stamp stands in for encoding the record into the scratch buffer.
    stampMessage(views[alignment]!, 0, messageBytes, seq);
    producer.write(sources[alignment]!);
    producer.publish();
  }
  return waitCount;
}

async function produceRingbuf(
  sab: SharedArrayBuffer,
  side: SharedArrayBuffer,
  config: BenchWorkerData,
): Promise<number> {
  const ring = new RingBuffer(sab, Uint8Array);
  const pointers = new Int32Array(sab, 0, 2); // [0] write_ptr, [1] read_ptr (ringbuf.js layout)
  const sideI32 = new Int32Array(side);
  const { messageBytes, messageCount } = config;
  const message = messageTemplate(messageBytes);
  const view = new DataView(message.buffer, message.byteOffset, messageBytes);
  let waitCount = 0;
  for (let seq = 0; seq < messageCount; seq++) {
    while (ring.availableWrite() < messageBytes) {
      waitCount++;
      // The same flag-then-recheck protocol as RingProducer.waitForFreeAsync().
      Atomics.store(sideI32, SIDE_PRODUCER_WAITING_I32, 1);
      const readPointer = Atomics.load(pointers, 1);
      if (ring.availableWrite() < messageBytes) {
        const outcome = await ringWaitAsync(pointers, 1, readPointer, WAIT_TIMEOUT_MS);
        assert(outcome !== 'timed-out', 'ringbuf.js producer waited too long for space');
      }
      Atomics.store(sideI32, SIDE_PRODUCER_WAITING_I32, 0);
    }
    stampMessage(view, 0, messageBytes, seq);
    const pushed = ring.push(message);
    assert(pushed === messageBytes, 'ringbuf.js pushed the whole message');
    if (Atomics.load(sideI32, SIDE_CONSUMER_WAITING_I32) === 1) Atomics.notify(pointers, 0, 1);
  }
  return waitCount;
}

function producePostMessage(worker: Worker, config: BenchWorkerData): void {
  const message = new Uint8Array(config.messageBytes);
  const view = new DataView(message.buffer);
  for (let seq = 0; seq < config.messageCount; seq++) {
    stampMessage(view, 0, config.messageBytes, seq);
    worker.postMessage(message); // Structured clone: one copy per message, as a fallback would do.
  }
}

// ---------------------------------------------------------------------------------------------
// Consumers (worker).

function doneEmpty(): BenchDone {
  return { type: 'done', checksum: 0, bytesReceived: 0, badMessageCount: 0, sleepCount: 0 };
}

function consumeRing(config: BenchWorkerData): BenchDone {
  const consumer = new RingConsumer(config.sab!);
  const { messageBytes, messageCount } = config;
  const done = doneEmpty();
  let received = 0;
  let spinStartMs = -1;
  while (received < messageCount) {
    const availableBytes = consumer.availableBytes();
    if (availableBytes < messageBytes) {
      if (spinStartMs < 0) spinStartMs = performance.now();
      if (performance.now() - spinStartMs < CONSUMER_SPIN_MS) continue;
      assert(consumer.waitForDataSync(WAIT_TIMEOUT_MS), 'ring consumer waited too long for data');
      done.sleepCount++;
      continue;
    }
    spinStartMs = -1;
    const batchBytes = Math.min(availableBytes, CONSUMER_BATCH_BYTES_MAX);
    const wholeBytes = batchBytes - (batchBytes % messageBytes);
    // The views are what the writer would hand to pwrite(); here only their lengths are used.
    for (const view of consumer.readable(wholeBytes)) done.bytesReceived += view.length;
    for (let relativeBytes = 0; relativeBytes < wholeBytes; relativeBytes += messageBytes) {
      const head = consumer.readInt32BE(relativeBytes);
      const tail = consumer.readInt32BE(relativeBytes + messageBytes - 4);
      if (head !== received || tail !== Math.imul(head, TAIL_MULTIPLIER)) done.badMessageCount++;
      done.checksum = checksumStep(done.checksum, head, tail);
      received++;
    }
    consumer.release(wholeBytes);
  }
  return done;
}

function consumeRingbuf(config: BenchWorkerData): BenchDone {
  const ring = new RingBuffer(config.sab!, Uint8Array);
  const pointers = new Int32Array(config.sab!, 0, 2);
  const sideI32 = new Int32Array(config.sideSab!);
  const { messageBytes, messageCount } = config;
  const batch = new Uint8Array(CONSUMER_BATCH_BYTES_MAX);
  const view = new DataView(batch.buffer);
  const done = doneEmpty();
  let received = 0;
  let spinStartMs = -1;
  while (received < messageCount) {
    const availableBytes = ring.availableRead();
    if (availableBytes < messageBytes) {
      if (spinStartMs < 0) spinStartMs = performance.now();
      if (performance.now() - spinStartMs < CONSUMER_SPIN_MS) continue;
      ringbufWaitForData(ring, pointers, sideI32, messageBytes);
      done.sleepCount++;
      continue;
    }
    spinStartMs = -1;
    const batchBytes = Math.min(availableBytes, CONSUMER_BATCH_BYTES_MAX);
    const wholeBytes = batchBytes - (batchBytes % messageBytes);
    const popped = ring.pop(batch, wholeBytes);
    assert(popped === wholeBytes, 'ringbuf.js popped whole messages');
    if (Atomics.load(sideI32, SIDE_PRODUCER_WAITING_I32) === 1) Atomics.notify(pointers, 1, 1);
    done.bytesReceived += wholeBytes;
    for (let byteOffset = 0; byteOffset < wholeBytes; byteOffset += messageBytes) {
      const head = view.getInt32(byteOffset, false);
      const tail = view.getInt32(byteOffset + messageBytes - 4, false);
      if (head !== received || tail !== Math.imul(head, TAIL_MULTIPLIER)) done.badMessageCount++;
      done.checksum = checksumStep(done.checksum, head, tail);
      received++;
    }
  }
  return done;
}

/** RingConsumer.waitForDataSync()'s protocol, applied to ringbuf.js's write pointer. */
function ringbufWaitForData(
  ring: RingBuffer,
  pointers: Int32Array,
  sideI32: Int32Array,
  bytes: number,
): void {
  Atomics.store(sideI32, SIDE_CONSUMER_WAITING_I32, 1);
  const writePointer = Atomics.load(pointers, 0);
  if (ring.availableRead() < bytes) {
    const outcome = Atomics.wait(pointers, 0, writePointer, WAIT_TIMEOUT_MS);
    assert(outcome !== 'timed-out', 'ringbuf.js consumer waited too long for data');
  }
  Atomics.store(sideI32, SIDE_CONSUMER_WAITING_I32, 0);
}

function consumePostMessage(config: BenchWorkerData, port: NonNullable<typeof parentPort>) {
  const done = doneEmpty();
  let received = 0;
  port.on('message', (message: Uint8Array) => {
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    const head = view.getInt32(0, false);
    const tail = view.getInt32(config.messageBytes - 4, false);
    if (head !== received || tail !== Math.imul(head, TAIL_MULTIPLIER)) done.badMessageCount++;
    done.checksum = checksumStep(done.checksum, head, tail);
    done.bytesReceived += message.byteLength;
    received++;
    if (received === config.messageCount) {
      port.postMessage(done);
    }
  });
}

function workerMain(config: BenchWorkerData, port: NonNullable<typeof parentPort>): void {
  if (config.transport === 'postMessage') {
    consumePostMessage(config, port);
    port.postMessage({ type: 'ready' });
    return;
  }
  port.once('message', () => {
    const done = config.transport === 'ringbuf.js' ? consumeRingbuf(config) : consumeRing(config);
    port.postMessage(done);
  });
  port.postMessage({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// Driver (main thread).

interface CaseResult {
  transport: Transport;
  messageBytes: number;
  messageCount: number;
  seconds: number;
  checksum: number;
  producerWaitCount: number;
  consumerSleepCount: number;
}

interface BenchWorker {
  worker: Worker;
  ready: Promise<void>;
  done: Promise<BenchDone>;
}

function startWorker(config: BenchWorkerData): BenchWorker {
  const worker = new Worker(new URL(import.meta.url), { workerData: config });
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  const done = new Promise<BenchDone>((resolve, reject) => {
    worker.on('message', (message: { type: string }) => {
      if (message.type === 'ready') readyResolve();
      else resolve(message as BenchDone);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`bench worker exited (${code}) before done`)));
  });
  return { worker, ready, done };
}

async function runCase(
  transport: Transport,
  messageBytes: number,
  messageCount: number,
): Promise<CaseResult> {
  const ringbuf = transport === 'ringbuf.js';
  // ringbuf.js: capacity 2^20 - 1 makes its storage exactly 2^20 bytes, so 128 B and 1 KiB
  // messages never wrap mid-message and always take its fast aligned set() path — its best case.
  const sab =
    transport === 'postMessage'
      ? null
      : ringbuf
        ? RingBuffer.getStorageForCapacity(RING_CAPACITY_BYTES - 1, Uint8Array)
        : ringCreate(RING_CAPACITY_BYTES);
  const sideSab = ringbuf ? new SharedArrayBuffer(128) : null;
  const config: BenchWorkerData = {
    kind: 'ring_push_pop_bench',
    transport,
    sab,
    sideSab,
    messageBytes,
    messageCount,
  };
  const { worker, ready, done } = startWorker(config);
  await ready;
  const startNs = process.hrtime.bigint();
  let producerWaitCount = 0;
  if (transport === 'postMessage') {
    producePostMessage(worker, config);
  } else {
    worker.postMessage('start');
    producerWaitCount = ringbuf
      ? await produceRingbuf(sab!, sideSab!, config)
      : await produceRing(sab!, config);
  }
  const result = await done;
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  await worker.terminate();
  assert(result.badMessageCount === 0, `${transport}: every message arrived intact and in order`);
  assert(result.bytesReceived === messageBytes * messageCount, `${transport}: all bytes arrived`);
  assert(result.checksum === checksumExpected(messageCount), `${transport}: checksum matches`);
  return {
    transport,
    messageBytes,
    messageCount,
    seconds,
    checksum: result.checksum,
    producerWaitCount,
    consumerSleepCount: result.sleepCount,
  };
}

function printHeader(sizes: ReadonlyArray<readonly [number, number]>, repeatCount: number): void {
  const cpu = cpus()[0]?.model ?? 'unknown';
  console.log('ring_push_pop: main thread → worker message transport, end to end');
  console.log(`node ${process.version}  ${process.platform}/${process.arch}`);
  console.log(`cpu: ${cpu} × ${availableParallelism()} available`);
  console.log(`ring capacity: ${RING_CAPACITY_BYTES} B (both rings)`);
  console.log(`consumer batch ≤ ${CONSUMER_BATCH_BYTES_MAX} B`);
  console.log(`consumers spin ${CONSUMER_SPIN_MS} ms before sleeping`);
  console.log(`messages: ${sizes.map(([bytes, count]) => `${count} × ${bytes} B`).join(', ')}`);
  console.log('postMessage runs 1/10 of the messages (it has no backpressure)');
  console.log(`each case: median of ${repeatCount} runs${SMOKE ? ' (BENCH_SMOKE=1)' : ''}`);
  if (availableParallelism() < 2) {
    console.log('WARNING: fewer than 2 CPUs; producer and consumer share a core.');
    console.log('         The results are meaningless.');
  }
}

/** Runs every transport at 128 B and 1 KiB, prints a table, and returns nothing. */
export async function run(): Promise<void> {
  const sizes = SMOKE
    ? ([[128, 20_000], [1024, 5_000]] as const)
    : ([[128, 2_000_000], [1024, 500_000]] as const);
  const repeatCount = SMOKE ? 1 : 3;
  const transports: Transport[] = ['ring-staged', 'ring-misaligned', 'ringbuf.js', 'postMessage'];
  printHeader(sizes, repeatCount);
  const rows: Record<string, string | number>[] = [];
  for (const [messageBytes, messageCountRing] of sizes) {
    const rates = new Map<Transport, number>();
    for (const transport of transports) {
      const messageCount = transport === 'postMessage' ? messageCountRing / 10 : messageCountRing;
      const results: CaseResult[] = [];
      for (let repeat = 0; repeat < repeatCount; repeat++) {
        results.push(await runCase(transport, messageBytes, messageCount));
      }
      results.sort((a, b) => a.seconds - b.seconds);
      const result = results[Math.floor(results.length / 2)]!;
      const secondsMedian = result.seconds;
      rates.set(transport, messageCount / secondsMedian);
      rows.push({
        transport,
        'msg B': messageBytes,
        messages: messageCount,
        's (median)': Number(secondsMedian.toFixed(3)),
        'msgs/s': Math.round(messageCount / secondsMedian),
        'MB/s': Number(((messageCount * messageBytes) / secondsMedian / 1e6).toFixed(1)),
        'vs ringbuf.js': '',
        'producer waits': result.producerWaitCount,
        'consumer sleeps': result.consumerSleepCount,
        checksum: (result.checksum >>> 0).toString(16).padStart(8, '0'),
      });
    }
    const baseline = rates.get('ringbuf.js')!;
    for (const row of rows.slice(-transports.length)) {
      const rate = rates.get(row['transport'] as Transport)!;
      row['vs ringbuf.js'] = `${(rate / baseline).toFixed(2)}x`;
    }
  }
  console.table(rows);
}

function isBenchWorkerData(value: unknown): value is BenchWorkerData {
  if (typeof value !== 'object' || value === null) return false;
  return (value as { kind?: unknown }).kind === 'ring_push_pop_bench';
}

if (!isMainThread && parentPort !== null && isBenchWorkerData(workerData)) {
  workerMain(workerData, parentPort);
} else if (isMainThread && process.argv[1] !== undefined) {
  if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
}
