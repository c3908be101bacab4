// A small cache of aligned CommitLog blocks for the main thread's reads. A consumer pulling 32
// messages at a time would otherwise wait for a thread-pool read per pull; one 256 KiB block
// serves several pulls from memory. Bytes below the readable end never change while the store
// is open (recovery cuts only before open; retention deletes whole segments, which reads check
// against the minimum first), so a cached block only ever needs to grow, never to be dropped.

export const BLOCK_BYTES = 256 * 1024;
/**
 * Each block is read this far past its aligned end, so a record that starts in it and crosses
 * into the next one is still served whole (records are rarely larger).
 */
export const BLOCK_OVERHANG_BYTES = 64 * 1024;

interface Block {
  /** Physical offset of the block's first byte: a multiple of BLOCK_BYTES, or a segment start. */
  start: number;
  /** The bytes read; may be shorter than BLOCK_BYTES at the readable end. */
  bytes: Buffer;
}

export class BlockCache {
  private readonly blocksMax: number;
  /** Blocks by start offset; Map order is the recency order. */
  private readonly blocks = new Map<number, Block>();
  /** The most recently used key: a run of reads from one block skips the LRU bookkeeping. */
  private recentKey = -1;

  constructor(blocksMax: number) {
    this.blocksMax = blocksMax;
  }

  /**
   * [physicalOffset, physicalOffset + length) from a cached block (a view, not a copy), or
   * undefined when it is not cached whole.
   */
  get(physicalOffset: number, length: number): Buffer | undefined {
    const key = physicalOffset - (physicalOffset % BLOCK_BYTES);
    const block = this.blocks.get(key);
    if (block === undefined || physicalOffset < block.start || physicalOffset + length > block.start + block.bytes.length) return undefined;
    if (key !== this.recentKey) {
      this.blocks.delete(key);
      this.blocks.set(key, block);
      this.recentKey = key;
    }
    return block.bytes.subarray(physicalOffset - block.start, physicalOffset - block.start + length);
  }

  /** Caches `bytes`, read at `start`; they must lie inside one aligned block. */
  put(start: number, bytes: Buffer): void {
    const key = start - (start % BLOCK_BYTES);
    this.blocks.delete(key);
    if (this.blocks.size >= this.blocksMax) this.blocks.delete(this.blocks.keys().next().value as number);
    this.blocks.set(key, { start, bytes });
    this.recentKey = key;
  }

  /** Drops blocks below `physicalOffset` (segments deleted by retention). */
  dropBelow(physicalOffset: number): void {
    for (const [key, block] of [...this.blocks]) if (block.start + block.bytes.length <= physicalOffset) this.blocks.delete(key);
  }
}
