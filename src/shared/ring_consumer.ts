// The consumer side of the byte ring, used by the writer worker: look, write out, release.
//
//   availableBytes() (readable() | copyOut() | copyIn() | readInt32BE())* release(bytes)
//
// The consumer owns RING_READ_BYTES_I32 and RING_CONSUMER_WAITING_I32 and only reads the
// producer's words. Bytes stay in place until release(): readable() hands out Buffer views onto
// the shared memory so they can go to pwrite() without a copy. See ./ring.md.

import { isMainThread } from 'node:worker_threads';
import { crc32 } from 'node:zlib';

import { assert } from '../assert.js';
import {
  RING_CONSUMER_WAITING_I32,
  RING_HEADER_BYTES,
  RING_PRODUCER_WAITING_I32,
  RING_READ_BYTES_I32,
  RING_STATE_RUNNING,
  RING_WAIT_TIMEOUT_MS_MAX,
  RING_WRITE_BYTES_I32,
  type RingState,
  ringCapacityBytes,
  ringHeader,
  ringStateAdvance,
  ringStateLoad,
  ringWaitAsync,
} from './ring_layout.js';

export class RingConsumer {
  readonly capacityBytes: number;
  private readonly maskBytes: number;
  private readonly sab: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  /** Bytes released so far; only this thread writes RING_READ_BYTES_I32, so no load needed. */
  private readCountBytes: number;
  /**
   * The write counter as last loaded. The producer only moves it forward, so bytes up to it
   * stay readable until release(), and the read helpers can assert against it cheaply.
   */
  private writeCountSeenBytes: number;

  constructor(sab: SharedArrayBuffer) {
    this.capacityBytes = ringCapacityBytes(sab);
    this.maskBytes = this.capacityBytes - 1;
    this.sab = sab;
    this.header = ringHeader(sab);
    this.data = new Uint8Array(sab, RING_HEADER_BYTES, this.capacityBytes);
    this.view = new DataView(sab, RING_HEADER_BYTES, this.capacityBytes);
    this.readCountBytes = Atomics.load(this.header, RING_READ_BYTES_I32);
    this.writeCountSeenBytes = Atomics.load(this.header, RING_WRITE_BYTES_I32);
    this.seenBytes();
  }

  /** Published bytes not yet released. The load orders every later plain read after it. */
  availableBytes(): number {
    this.writeCountSeenBytes = Atomics.load(this.header, RING_WRITE_BYTES_I32);
    return this.seenBytes();
  }

  /**
   * Up to two Buffer views (no copy) onto the shared memory covering the next
   * min(availableBytes(), maxBytes) bytes: one when the range is contiguous, two when it
   * wraps, none when nothing is available. Views stay valid until release() covers them.
   */
  readable(maxBytes: number): Buffer[] {
    assert(Number.isInteger(maxBytes), 'readable max bytes is an integer');
    assert(maxBytes > 0, 'readable max bytes is positive');
    const lengthBytes = Math.min(this.availableBytes(), maxBytes);
    if (lengthBytes === 0) return [];
    const positionBytes = this.readCountBytes & this.maskBytes;
    const firstBytes = Math.min(lengthBytes, this.capacityBytes - positionBytes);
    const first = Buffer.from(this.sab, RING_HEADER_BYTES + positionBytes, firstBytes);
    if (firstBytes === lengthBytes) return [first];
    return [first, Buffer.from(this.sab, RING_HEADER_BYTES, lengthBytes - firstBytes)];
  }

  /**
   * Copies `length` bytes starting `relativeBytes` after the read position into `target` at
   * `targetStart`, in two parts when they straddle the end. For record headers that may wrap.
   */
  copyOut(target: Uint8Array, targetStart: number, relativeBytes: number, length: number): void {
    this.assertSeen(relativeBytes, length);
    assert(targetStart >= 0, 'copy target start is not negative');
    assert(targetStart + length <= target.length, 'copy fits in the target');
    const positionBytes = (this.readCountBytes + relativeBytes) & this.maskBytes;
    const firstBytes = Math.min(length, this.capacityBytes - positionBytes);
    target.set(this.data.subarray(positionBytes, positionBytes + firstBytes), targetStart);
    if (firstBytes < length) {
      target.set(this.data.subarray(0, length - firstBytes), targetStart + firstBytes);
    }
  }

  /**
   * CRC32 (zlib, unmasked) of `length` bytes starting `relativeBytes` after the read position,
   * computed in place on the shared memory, in two parts when they straddle the end.
   */
  /**
   * Copies `source` over the bytes `relativeBytes` after the read position (in two parts when
   * they straddle the end). Like writeInt32BE, only for bytes not yet released.
   */
  copyIn(source: Uint8Array, relativeBytes: number): void {
    this.assertSeen(relativeBytes, source.length);
    const positionBytes = (this.readCountBytes + relativeBytes) & this.maskBytes;
    const firstBytes = Math.min(source.length, this.capacityBytes - positionBytes);
    this.data.set(source.subarray(0, firstBytes), positionBytes);
    if (firstBytes < source.length) this.data.set(source.subarray(firstBytes), 0);
  }

  crc32(relativeBytes: number, length: number): number {
    this.assertSeen(relativeBytes, length);
    const positionBytes = (this.readCountBytes + relativeBytes) & this.maskBytes;
    const firstBytes = Math.min(length, this.capacityBytes - positionBytes);
    const first = crc32(this.data.subarray(positionBytes, positionBytes + firstBytes));
    return firstBytes === length ? first : crc32(this.data.subarray(0, length - firstBytes), first);
  }

  /**
   * Overwrites the big-endian int32 at `relativeBytes` after the read position. Only for bytes
   * not yet released: the consumer owns them until release(), the producer never rereads them.
   */
  writeInt32BE(relativeBytes: number, value: number): void {
    this.assertSeen(relativeBytes, 4);
    const positionBytes = (this.readCountBytes + relativeBytes) & this.maskBytes;
    if (positionBytes <= this.capacityBytes - 4) {
      this.view.setInt32(positionBytes, value, false);
      return;
    }
    for (let i = 0; i < 4; i++) this.data[(positionBytes + i) & this.maskBytes] = (value >>> (24 - 8 * i)) & 0xff;
  }

  /** The big-endian int32 at `relativeBytes` after the read position, read across the wrap. */
  readInt32BE(relativeBytes: number): number {
    // Called several times per record on the writer's hot path: one combined bounds check
    // (a negative or fractional position also fails it) instead of assertSeen's four.
    assert(relativeBytes >= 0 && relativeBytes + 4 <= ((this.writeCountSeenBytes - this.readCountBytes) | 0), 'read stays inside available bytes');
    const positionBytes = (this.readCountBytes + relativeBytes) & this.maskBytes;
    if (positionBytes <= this.capacityBytes - 4) return this.view.getInt32(positionBytes, false);
    const mask = this.maskBytes;
    const data = this.data;
    // `| 0` after the shifts yields a signed int32, as DataView.getInt32() does.
    return (
      ((data[positionBytes]! << 24) |
        (data[(positionBytes + 1) & mask]! << 16) |
        (data[(positionBytes + 2) & mask]! << 8) |
        data[(positionBytes + 3) & mask]!) |
      0
    );
  }

  /**
   * Hands `bytes` back to the producer. The producer-waiting flag is read after the store,
   * mirroring publish(), so a waiting producer is always woken (ring.md, "Waiting").
   */
  release(bytes: number): void {
    assert(Number.isInteger(bytes), 'released bytes is an integer');
    assert(bytes >= 0, 'released bytes is not negative');
    assert(bytes <= this.seenBytes(), 'released bytes were available');
    if (bytes === 0) return;
    this.readCountBytes = (this.readCountBytes + bytes) | 0;
    Atomics.store(this.header, RING_READ_BYTES_I32, this.readCountBytes);
    if (Atomics.load(this.header, RING_PRODUCER_WAITING_I32) === 1) {
      Atomics.notify(this.header, RING_READ_BYTES_I32, 1);
    }
  }

  /**
   * Resolves true once more than `beyondBytes` are available (default: any data), false on
   * timeout or when the ring is no longer RUNNING and has nothing new (check state() then).
   * `beyondBytes` lets a consumer that keeps bytes unreleased (staged) wait for new ones only;
   * as a function it is re-read at every wake-up, so a long wait follows the consumer's state.
   * Does not block the thread.
   */
  async waitForDataAsync(
    timeoutMs: number,
    beyondBytes: number | (() => number) = 0,
  ): Promise<boolean> {
    assertTimeout(timeoutMs);
    const beyond = typeof beyondBytes === 'number' ? (): number => beyondBytes : beyondBytes;
    if (this.availableBytes() > beyond()) return true;
    const deadlineMs = performance.now() + timeoutMs;
    for (;;) {
      const writeCountBytes = this.waitPrepare(beyond());
      const remainingMs = deadlineMs - performance.now();
      if (writeCountBytes === null || remainingMs <= 0) return this.waitDone(beyond());
      await ringWaitAsync(this.header, RING_WRITE_BYTES_I32, writeCountBytes, remainingMs);
      Atomics.store(this.header, RING_CONSUMER_WAITING_I32, 0);
    }
  }

  /** Like waitForDataAsync() but blocks in Atomics.wait(); for workers only. */
  waitForDataSync(timeoutMs: number): boolean {
    assert(!isMainThread, 'the main thread never blocks on the ring');
    assertTimeout(timeoutMs);
    if (this.availableBytes() > 0) return true;
    const deadlineMs = performance.now() + timeoutMs;
    for (;;) {
      const writeCountBytes = this.waitPrepare();
      const remainingMs = deadlineMs - performance.now();
      if (writeCountBytes === null || remainingMs <= 0) return this.waitDone();
      Atomics.wait(this.header, RING_WRITE_BYTES_I32, writeCountBytes, remainingMs);
      Atomics.store(this.header, RING_CONSUMER_WAITING_I32, 0);
    }
  }

  state(): RingState {
    return ringStateLoad(this.header);
  }

  /** Moves the state forward (FAILED when the writer cannot go on); see ringStateAdvance. */
  stateAdvance(next: RingState): RingState {
    return ringStateAdvance(this.header, next);
  }

  /**
   * Sets the waiting flag, then re-loads the write counter. Returns the counter to wait on, or
   * null when waiting is pointless (data arrived, or the ring stopped RUNNING).
   */
  private waitPrepare(beyondBytes = 0): number | null {
    Atomics.store(this.header, RING_CONSUMER_WAITING_I32, 1);
    const writeCountBytes = Atomics.load(this.header, RING_WRITE_BYTES_I32);
    this.writeCountSeenBytes = writeCountBytes;
    if (this.seenBytes() > beyondBytes) return null;
    if (ringStateLoad(this.header) !== RING_STATE_RUNNING) return null;
    return writeCountBytes;
  }

  /** waitPrepare()'s pair: clears the flag and reports whether data is available. */
  private waitDone(beyondBytes = 0): boolean {
    Atomics.store(this.header, RING_CONSUMER_WAITING_I32, 0);
    return this.availableBytes() > beyondBytes;
  }

  private seenBytes(): number {
    const seenBytes = (this.writeCountSeenBytes - this.readCountBytes) | 0;
    assert(seenBytes >= 0, 'ring write counter is not behind the read counter');
    assert(seenBytes <= this.capacityBytes, 'ring holds at most its capacity');
    return seenBytes;
  }

  private assertSeen(relativeBytes: number, length: number): void {
    assert(Number.isInteger(relativeBytes), 'relative position is an integer');
    assert(relativeBytes >= 0, 'relative position is not negative');
    assert(Number.isInteger(length), 'length is an integer');
    assert(relativeBytes + length <= this.seenBytes(), 'read stays inside available bytes');
  }
}

function assertTimeout(timeoutMs: number): void {
  assert(timeoutMs >= 0, 'wait timeout is not negative');
  assert(timeoutMs <= RING_WAIT_TIMEOUT_MS_MAX, 'wait timeout is bounded');
}
