// Seeded, reproducible number and byte streams for the ring tests: the producer and the
// verifying consumer each build one from the same seed and compare byte for byte.

/** mulberry32: a small 32-bit PRNG, good enough to drive test inputs; same seed, same stream. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** The next value in [0, 2^32). */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [min, max], both inclusive. */
  nextInRange(min: number, max: number): number {
    return min + (this.nextUint32() % (max - min + 1));
  }
}

/**
 * An endless pseudo-random byte stream. Any loss, duplication or reordering of a run of bytes
 * shifts the stream, so a verifier comparing against its own copy fails at the first such byte.
 */
export class ByteStream {
  private readonly prng: Prng;

  constructor(seed: number) {
    this.prng = new Prng(seed ^ 0x5eed5eed);
  }

  nextByte(): number {
    return this.prng.nextUint32() >>> 24;
  }

  fill(target: Uint8Array, start: number, length: number): void {
    for (let i = start; i < start + length; i++) target[i] = this.nextByte();
  }
}
