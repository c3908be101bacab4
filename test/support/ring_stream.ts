// Seeded, reproducible number and byte streams for the ring tests: the producer and the
// verifying consumer each build one from the same seed and compare byte for byte.

import { Prng } from './prng.js';

export { Prng };

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
