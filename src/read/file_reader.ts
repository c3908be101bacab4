// Positional reads of store files from the main thread, never blocking its event loop
// (fs.promises on the thread pool). At most `openFilesMax` descriptors are open at once: handles
// are cached and reused, the least recently used idle one is closed to make room, a handle is
// never closed while a read on it is in flight, and a read that finds every handle busy waits
// for one. A file deleted under us (retention) reads as null, not as an error.

import { open as openFile, type FileHandle } from 'node:fs/promises';
import { StoreError } from '../errors.js';

interface CachedHandle {
  readonly handle: Promise<FileHandle>;
  /** Reads in flight on it. */
  users: number;
  /** Dropped from the cache: close it when the last read ends. */
  evicted: boolean;
}

export class FileReader {
  private readonly openFilesMax: number;
  /** Cached handles by path; Map order is the recency order. */
  private readonly handles = new Map<string, CachedHandle>();
  /** Descriptors opened and not yet closed (cached, or evicted and still busy). */
  private openCount = 0;
  /** Reads waiting for a descriptor to be closed. */
  private readonly waiters: Array<() => void> = [];

  constructor(openFilesMax: number) {
    this.openFilesMax = openFilesMax;
  }

  /**
   * Reads `length` bytes at `position` into a new buffer. Null when the file does not exist or
   * is shorter.
   */
  async read(file: string, position: number, length: number): Promise<Buffer | null> {
    const cached = await this.acquire(file);
    try {
      let handle: FileHandle;
      try {
        handle = await cached.handle;
      } catch (error) {
        this.forgetEntry(file, cached);
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new StoreError('E_STORE_IO', `cannot open ${file}: ${(error as Error).message}`, { cause: error });
      }
      const out = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(out, done, length - done, position + done));
        } catch (error) {
          throw new StoreError('E_STORE_IO', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
        }
        if (bytesRead === 0) return null;
        done += bytesRead;
      }
      return out;
    } finally {
      this.release(cached);
    }
  }

  /** Closes the cached handles of every file `matches` accepts (deleted files free their space). */
  forgetMatching(matches: (file: string) => boolean): void {
    for (const [file, cached] of [...this.handles]) if (matches(file)) this.forgetEntry(file, cached);
  }

  async closeAll(): Promise<void> {
    const entries = [...this.handles];
    this.handles.clear();
    for (const [, cached] of entries) {
      cached.evicted = true;
      if (cached.users === 0) await this.close(cached);
    }
  }

  private async acquire(file: string): Promise<CachedHandle> {
    for (;;) {
      const cached = this.handles.get(file);
      if (cached !== undefined) {
        this.handles.delete(file); // Re-inserted: most recently used.
        this.handles.set(file, cached);
        cached.users += 1;
        return cached;
      }
      if (this.openCount < this.openFilesMax || this.evictOneIdle()) {
        const opened: CachedHandle = { handle: openFile(file, 'r'), users: 1, evicted: false };
        opened.handle.catch(() => undefined); // Reported by the read that awaits it.
        this.openCount += 1;
        this.handles.set(file, opened);
        return opened;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private release(cached: CachedHandle): void {
    cached.users -= 1;
    if (cached.users > 0) return;
    if (cached.evicted) void this.close(cached);
    else this.waiters.shift()?.(); // An idle handle now: a waiting read may evict it.
  }

  /** Closes the least recently used idle handle; false when every handle is busy. */
  private evictOneIdle(): boolean {
    for (const [file, cached] of this.handles) {
      if (cached.users > 0) continue;
      this.forgetEntry(file, cached);
      return true;
    }
    return false;
  }

  private forgetEntry(file: string, cached: CachedHandle): void {
    if (this.handles.get(file) === cached) this.handles.delete(file);
    if (cached.evicted) return;
    cached.evicted = true;
    if (cached.users === 0) void this.close(cached);
  }

  /** Closes a descriptor and lets one waiting read open another. */
  private async close(cached: CachedHandle): Promise<void> {
    this.openCount -= 1;
    this.waiters.shift()?.();
    await closeQuietly(cached.handle);
  }
}

async function closeQuietly(handle: Promise<FileHandle>): Promise<void> {
  await handle.then((h) => h.close(), () => undefined).catch(() => undefined);
}
