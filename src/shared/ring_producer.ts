// The producer side of the byte ring, used by the main thread: copy bytes in, then publish.
//
//   write(bytes)* publish()      copies are invisible to the consumer until publish()
//
// The producer owns RING_WRITE_BYTES_I32 and RING_PRODUCER_WAITING_I32 and only reads the
// consumer's words. It never blocks: waiting for free space is Atomics.waitAsync with a timeout.
// See ./ring.md for the layout and the protocols.

import { assert } from '../assert.js';
import {
  RING_CONSUMER_WAITING_I32,
  RING_HEADER_BYTES,
  RING_PRODUCER_WAITING_I32,
  RING_READ_BYTES_I32,
  RING_STATE_FAILED,
  RING_WAIT_TIMEOUT_MS_MAX,
  RING_WRITE_BYTES_I32,
  type RingState,
  ringCapacityBytes,
  ringHeader,
  ringStateAdvance,
  ringStateLoad,
  ringWaitAsync,
} from './ring_layout.js';

export class RingProducer {
  readonly capacityBytes: number;
  private readonly maskBytes: number;
  private readonly header: Int32Array;
  /** The data region, created once so write() is a plain Uint8Array.prototype.set(). */
  private readonly data: Uint8Array;
  /** Bytes written so far, published or not; int32 that wraps like the shared counter. */
  private writeCountBytes: number;
  /** The value last stored into RING_WRITE_BYTES_I32. */
  private publishedCountBytes: number;
  /**
   * The read counter as last loaded. The consumer only moves it forward, so this is a safe
   * lower bound that lets write() assert free space without another atomic load.
   */
  private readCountSeenBytes: number;

  constructor(sab: SharedArrayBuffer) {
    this.capacityBytes = ringCapacityBytes(sab);
    this.maskBytes = this.capacityBytes - 1;
    this.header = ringHeader(sab);
    this.data = new Uint8Array(sab, RING_HEADER_BYTES, this.capacityBytes);
    this.writeCountBytes = Atomics.load(this.header, RING_WRITE_BYTES_I32);
    this.publishedCountBytes = this.writeCountBytes;
    this.readCountSeenBytes = Atomics.load(this.header, RING_READ_BYTES_I32);
    this.usedBytes(this.readCountSeenBytes);
  }

  /** Bytes that write() may copy now; grows whenever the consumer releases. */
  freeBytes(): number {
    this.readCountSeenBytes = Atomics.load(this.header, RING_READ_BYTES_I32);
    return this.capacityBytes - this.usedBytes(this.readCountSeenBytes);
  }

  /**
   * The write position mod 8. Stage a record at this offset mod 8 in the scratch buffer:
   * V8 copies into shared memory word by word only when source and target agree mod 8, and
   * byte by byte otherwise, which is about 6x slower for 1 KiB records.
   */
  writeAlignment(): number {
    return this.writeCountBytes & 7;
  }

  /** Bytes written but not yet published. */
  unpublishedBytes(): number {
    return (this.writeCountBytes - this.publishedCountBytes) | 0;
  }

  /**
   * Copies `source` to the write position, in two parts when it straddles the end of the data
   * region. The caller must have seen freeBytes() >= source.length. Does not publish.
   */
  write(source: Uint8Array): void {
    const lengthBytes = source.length;
    const usedBytes = (this.writeCountBytes - this.readCountSeenBytes) | 0;
    assert(lengthBytes <= this.capacityBytes - usedBytes, 'ring write fits in free space');
    const positionBytes = this.writeCountBytes & this.maskBytes;
    const firstBytes = this.capacityBytes - positionBytes;
    if (lengthBytes <= firstBytes) {
      this.data.set(source, positionBytes);
    } else {
      // Wrap-around. The second part lands at data offset 0, which is 8-aligned; its source
      // offset is aligned too whenever the first part was, because capacity is a multiple of 8.
      this.data.set(source.subarray(0, firstBytes), positionBytes);
      this.data.set(source.subarray(firstBytes), 0);
    }
    this.writeCountBytes = (this.writeCountBytes + lengthBytes) | 0;
  }

  /**
   * Makes every written byte visible to the consumer. The seq-cst store orders all earlier
   * copies before it; the consumer-waiting flag is read after the store, which is what makes a
   * lost wake-up impossible (ring.md, "Waiting").
   */
  publish(): void {
    if (this.writeCountBytes === this.publishedCountBytes) return;
    Atomics.store(this.header, RING_WRITE_BYTES_I32, this.writeCountBytes);
    this.publishedCountBytes = this.writeCountBytes;
    if (Atomics.load(this.header, RING_CONSUMER_WAITING_I32) === 1) {
      Atomics.notify(this.header, RING_WRITE_BYTES_I32, 1);
    }
  }

  /**
   * Resolves true as soon as at least `bytes` are free, false when `timeoutMs` passes first or
   * the ring has FAILED. Publish first: waiting with unpublished bytes could wait for the
   * consumer to release bytes it cannot see.
   */
  async waitForFreeAsync(bytes: number, timeoutMs: number): Promise<boolean> {
    assert(Number.isInteger(bytes), 'wanted free bytes is an integer');
    assert(bytes >= 0, 'wanted free bytes is not negative');
    assert(bytes <= this.capacityBytes, 'wanted free bytes fit in the ring');
    assert(this.unpublishedBytes() === 0, 'producer published before waiting');
    assert(timeoutMs >= 0, 'wait timeout is not negative');
    assert(timeoutMs <= RING_WAIT_TIMEOUT_MS_MAX, 'wait timeout is bounded');
    if (this.freeBytes() >= bytes) return true;
    const deadlineMs = performance.now() + timeoutMs;
    for (;;) {
      if (ringStateLoad(this.header) === RING_STATE_FAILED) return false;
      // Flag first, then re-check: a release that misses the flag is seen by this load.
      Atomics.store(this.header, RING_PRODUCER_WAITING_I32, 1);
      const readCountBytes = Atomics.load(this.header, RING_READ_BYTES_I32);
      this.readCountSeenBytes = readCountBytes;
      const remainingMs = deadlineMs - performance.now();
      if (this.capacityBytes - this.usedBytes(readCountBytes) >= bytes || remainingMs <= 0) {
        Atomics.store(this.header, RING_PRODUCER_WAITING_I32, 0);
        return this.capacityBytes - this.usedBytes(readCountBytes) >= bytes;
      }
      await ringWaitAsync(this.header, RING_READ_BYTES_I32, readCountBytes, remainingMs);
      Atomics.store(this.header, RING_PRODUCER_WAITING_I32, 0);
    }
  }

  state(): RingState {
    return ringStateLoad(this.header);
  }

  /** Moves the state forward (CLOSING when done, FAILED on a fatal error); see ringStateAdvance. */
  stateAdvance(next: RingState): RingState {
    return ringStateAdvance(this.header, next);
  }

  private usedBytes(readCountBytes: number): number {
    const usedBytes = (this.writeCountBytes - readCountBytes) | 0;
    assert(usedBytes >= 0, 'ring read counter is not ahead of the write counter');
    assert(usedBytes <= this.capacityBytes, 'ring holds at most its capacity');
    return usedBytes;
  }
}
