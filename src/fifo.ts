// A FIFO queue over an array with a moving head: O(1) push and shift without Array#shift's
// copying, compacted when the dead prefix grows large.

export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  peekLast(): T | undefined {
    return this.length === 0 ? undefined : this.items[this.items.length - 1];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  forEach(visit: (item: T) => void): void {
    for (let i = this.head; i < this.items.length; i++) visit(this.items[i]!);
  }

  /** Removes and returns everything. */
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

/**
 * One timer for a FIFO whose entries expire in order: it fires at the head's deadline, hands
 * every expired entry to `expire`, and re-arms for the next head.
 */
export class ExpiryTimer<T extends { deadlineMs: number }> {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly queue: Fifo<T>,
    private readonly expire: (item: T) => void,
    private readonly afterSweep: () => void,
  ) {}

  arm(): void {
    if (this.timer !== null) return;
    const head = this.queue.peek();
    if (head === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const nowMs = performance.now();
      for (let item = this.queue.peek(); item !== undefined && item.deadlineMs <= nowMs; item = this.queue.peek()) {
        this.queue.shift();
        this.expire(item);
      }
      this.arm();
      this.afterSweep();
    }, Math.max(0, head.deadlineMs - performance.now()) + 1);
  }

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Moves every waiting deadline `byMs` earlier (a shorter timeout) and re-arms. */
  shorten(byMs: number): void {
    if (byMs <= 0) return;
    this.queue.forEach((item) => {
      item.deadlineMs -= byMs;
    });
    this.clear();
    this.arm();
  }
}
