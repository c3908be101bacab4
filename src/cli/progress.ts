// Progress of a long-running command, on stderr so stdout stays parseable: on a terminal one
// live line rewritten in place (at most ten times a second); otherwise a plain line every
// `intervalMs`, for logs and CI.

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export class ProgressLine {
  private readonly stream: ProgressStream;
  private readonly live: boolean;
  private readonly intervalMs: number;
  private lastWriteMs = Number.NEGATIVE_INFINITY;
  private shown = false;

  constructor(options: { stream?: ProgressStream; intervalMs?: number; live?: boolean } = {}) {
    this.stream = options.stream ?? process.stderr;
    this.live = options.live ?? this.stream.isTTY === true;
    this.intervalMs = options.intervalMs ?? 2000;
  }

  /** Shows `text` now if the last update is old enough (always with `force`). */
  update(text: string, force = false): void {
    const nowMs = performance.now();
    if (!force && nowMs - this.lastWriteMs < (this.live ? 100 : this.intervalMs)) return;
    this.lastWriteMs = nowMs;
    if (this.live) {
      const width = Math.max(20, (this.stream.columns ?? 100) - 1);
      this.stream.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      this.shown = true;
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Removes the live line (a terminal); plain output keeps its lines. */
  clear(): void {
    if (this.live && this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
