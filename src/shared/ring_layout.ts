// The SharedArrayBuffer layout of the single-producer single-consumer byte ring.
//
//   sab := header[RING_HEADER_BYTES] data[capacityBytes]
//   header line 0 (bytes 0..63):   producer-written words (write counter, producer-waiting flag),
//                                  plus the state word and the capacity set at creation
//   header line 1 (bytes 64..127): consumer-written words (read counter, consumer-waiting flag)
//
// This file is the one owner of that layout; RingProducer and RingConsumer only use the names
// exported here. See ./ring.md for the byte table, the publish/consume protocol and the
// waiting-flag protocol.

import { assert } from '../assert.js';

/** Bytes in one cache line; producer-written and consumer-written words never share one. */
export const RING_LINE_BYTES = 64;
/** Bytes before the data region: two cache lines. */
export const RING_HEADER_BYTES = 128;

// Int32Array element indices into the header (an index, not a byte offset: byte = index * 4).
/** Producer-written: count of bytes published, monotonic, wraps mod 2^32 (stored as int32). */
export const RING_WRITE_BYTES_I32 = 0;
/** Producer-written: 1 while the producer waits for free space, else 0. */
export const RING_PRODUCER_WAITING_I32 = 1;
/** Either side: RING_STATE_RUNNING, RING_STATE_CLOSING or RING_STATE_FAILED; only ever grows. */
export const RING_STATE_I32 = 2;
/** Written once by ringCreate(), read-only afterwards. */
export const RING_CAPACITY_BYTES_I32 = 3;
/** Consumer-written: count of bytes released, monotonic, wraps mod 2^32 (stored as int32). */
export const RING_READ_BYTES_I32 = 16;
/** Consumer-written: 1 while the consumer waits for data, else 0. */
export const RING_CONSUMER_WAITING_I32 = 17;

export const RING_STATE_RUNNING = 0;
export const RING_STATE_CLOSING = 1;
export const RING_STATE_FAILED = 2;
export type RingState =
  | typeof RING_STATE_RUNNING
  | typeof RING_STATE_CLOSING
  | typeof RING_STATE_FAILED;

export const RING_CAPACITY_BYTES_MIN = 4096;
/** 1 GiB keeps every distance `(write - read) | 0` inside the positive int32 range. */
export const RING_CAPACITY_BYTES_MAX = 1024 * 1024 * 1024;
/** Upper bound for any single wait; setTimeout() cannot go higher than 2^31 - 1 ms. */
export const RING_WAIT_TIMEOUT_MS_MAX = 2 ** 31 - 2;

const RING_HEADER_I32_COUNT = RING_HEADER_BYTES / Int32Array.BYTES_PER_ELEMENT;

function lineOf(indexI32: number): number {
  return Math.floor((indexI32 * Int32Array.BYTES_PER_ELEMENT) / RING_LINE_BYTES);
}

// Load-time layout asserts: a wrong edit to the constants above fails at import, not at run time.
{
  assert(RING_HEADER_BYTES % RING_LINE_BYTES === 0, 'ring header is a whole number of lines');
  // The data region starts 8-aligned, so a ring position mod 8 equals its address mod 8; the
  // producer's writeAlignment() relies on this.
  assert(RING_HEADER_BYTES % 8 === 0, 'ring data region is 8-aligned');
  const indices = [
    RING_WRITE_BYTES_I32,
    RING_PRODUCER_WAITING_I32,
    RING_STATE_I32,
    RING_CAPACITY_BYTES_I32,
    RING_READ_BYTES_I32,
    RING_CONSUMER_WAITING_I32,
  ];
  assert(new Set(indices).size === indices.length, 'ring header indices are distinct');
  for (const indexI32 of indices) {
    assert(Number.isInteger(indexI32), 'ring header index is an integer');
    assert(indexI32 >= 0, 'ring header index is not negative');
    assert(indexI32 < RING_HEADER_I32_COUNT, 'ring header index is inside the header');
  }
  const producerLine = lineOf(RING_WRITE_BYTES_I32);
  const consumerLine = lineOf(RING_READ_BYTES_I32);
  assert(producerLine !== consumerLine, 'ring counters are on separate lines');
  assert(lineOf(RING_PRODUCER_WAITING_I32) === producerLine, 'producer flag is on its line');
  assert(lineOf(RING_CONSUMER_WAITING_I32) === consumerLine, 'consumer flag is on its line');
  assert(isPowerOfTwo(RING_CAPACITY_BYTES_MIN), 'minimum capacity is a power of two');
  assert(isPowerOfTwo(RING_CAPACITY_BYTES_MAX), 'maximum capacity is a power of two');
  assert(RING_CAPACITY_BYTES_MAX <= 2 ** 30, 'distances fit in a positive int32');
}

function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
}

export interface RingCreateOptions {
  /**
   * Test-only: the value both counters start at, in [0, 2^32). Real rings start at 0; tests
   * start near 2^31 or 2^32 to prove that wrapping counters are harmless. Default 0.
   */
  initialCountBytes?: number;
}

/** Allocates a ring of `capacityBytes` (a power of two in [4 KiB, 1 GiB]) and writes its header. */
export function ringCreate(
  capacityBytes: number,
  options: RingCreateOptions = {},
): SharedArrayBuffer {
  assert(isPowerOfTwo(capacityBytes), 'ring capacity is a power of two');
  assert(capacityBytes >= RING_CAPACITY_BYTES_MIN, 'ring capacity is at least 4 KiB');
  assert(capacityBytes <= RING_CAPACITY_BYTES_MAX, 'ring capacity is at most 1 GiB');
  const initialCountBytes = options.initialCountBytes ?? 0;
  assert(Number.isInteger(initialCountBytes), 'initial count is an integer');
  assert(initialCountBytes >= 0, 'initial count is not negative');
  assert(initialCountBytes < 2 ** 32, 'initial count fits in 32 bits');

  const sab = new SharedArrayBuffer(RING_HEADER_BYTES + capacityBytes);
  const header = new Int32Array(sab, 0, RING_HEADER_I32_COUNT);
  // `| 0` maps [2^31, 2^32) onto the negative int32 values with the same 32 bits.
  header[RING_WRITE_BYTES_I32] = initialCountBytes | 0;
  header[RING_READ_BYTES_I32] = initialCountBytes | 0;
  header[RING_STATE_I32] = RING_STATE_RUNNING;
  header[RING_CAPACITY_BYTES_I32] = capacityBytes;
  // The SAB is not yet visible to any other thread; postMessage() publishes these plain stores.
  return sab;
}

/** The capacity stored in the header, checked against the buffer's size. */
export function ringCapacityBytes(sab: SharedArrayBuffer): number {
  assert(sab.byteLength > RING_HEADER_BYTES, 'buffer is larger than a ring header');
  const header = new Int32Array(sab, 0, RING_HEADER_I32_COUNT);
  const capacityBytes = Atomics.load(header, RING_CAPACITY_BYTES_I32);
  assert(isPowerOfTwo(capacityBytes), 'stored ring capacity is a power of two');
  assert(sab.byteLength === RING_HEADER_BYTES + capacityBytes, 'buffer size matches capacity');
  return capacityBytes;
}

/** The header as an Int32Array, the element type Atomics.wait() and Atomics.notify() need. */
export function ringHeader(sab: SharedArrayBuffer): Int32Array {
  return new Int32Array(sab, 0, RING_HEADER_I32_COUNT);
}

/**
 * Moves the state word forward to `next` unless it is already there or beyond, and returns the
 * state in effect afterwards. States only grow (RUNNING → CLOSING → FAILED), so a FAILED set by
 * one side can never be overwritten by a CLOSING from the other. Both waited-on words are
 * notified so a sleeper on either side sees the change now, not at its timeout.
 */
export function ringStateAdvance(header: Int32Array, next: RingState): RingState {
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = Atomics.load(header, RING_STATE_I32) as RingState;
    if (current >= next) return current;
    if (Atomics.compareExchange(header, RING_STATE_I32, current, next) === current) {
      Atomics.notify(header, RING_WRITE_BYTES_I32);
      Atomics.notify(header, RING_READ_BYTES_I32);
      return next;
    }
  }
  // Only two states lie below FAILED, so three attempts always suffice.
  assert(false, 'ring state advance did not converge');
}

export function ringStateLoad(header: Int32Array): RingState {
  const state = Atomics.load(header, RING_STATE_I32);
  assert(state >= RING_STATE_RUNNING, 'ring state is known');
  assert(state <= RING_STATE_FAILED, 'ring state is known');
  return state as RingState;
}

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (
  typedArray: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => WaitAsyncResult;

// tsconfig's lib is ES2022 and Atomics.waitAsync arrived in the ES2024 lib, so it is typed here.
// Node 20 ships it unflagged (V8 11.3).
const atomicsWaitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
assert(typeof atomicsWaitAsync === 'function', 'Atomics.waitAsync is available');

/** After the deadline, how often the keep-alive timer re-arms until V8 settles the wait. */
const RING_WAIT_KEEPALIVE_REARM_MS = 5;

/**
 * Atomics.waitAsync() that also holds the event loop open while it waits. Node 20 does not
 * count a pending waitAsync as event-loop work (checked on v20.20.2: a script whose only work is
 * a waitAsync with a timeout exits with the promise never settled), so a ref'd timer holds the
 * loop open until the wait settles. The timer re-arms itself rather than expiring at the
 * deadline: V8 settles a timed-out wait a little after the deadline, and a keep-alive timer of
 * exactly timeout + 1 ms sometimes fired first and let the loop exit with the wait pending.
 */
export function ringWaitAsync(
  header: Int32Array,
  indexI32: number,
  expected: number,
  timeoutMs: number,
): Promise<'ok' | 'not-equal' | 'timed-out'> {
  assert(timeoutMs >= 0, 'wait timeout is not negative');
  assert(timeoutMs <= RING_WAIT_TIMEOUT_MS_MAX, 'wait timeout is bounded');
  const result = atomicsWaitAsync!(header, indexI32, expected, timeoutMs);
  if (!result.async) return Promise.resolve(result.value);
  let settled = false;
  const rearm = (): void => {
    if (!settled) timer = setTimeout(rearm, RING_WAIT_KEEPALIVE_REARM_MS);
  };
  let timer = setTimeout(rearm, Math.ceil(timeoutMs) + 1);
  return result.value.then((outcome) => {
    settled = true;
    clearTimeout(timer);
    return outcome;
  });
}
