// Positional reads of store files from the main thread, never blocking its event loop
// (fs.promises on the thread pool). Handles are cached, at most `openFilesMax`, least recently
// used first out. A file deleted under us (retention) reads as null, not as an error.

import { open as openFile, type FileHandle } from 'node:fs/promises';
import { StoreError } from '../errors.js';

export class FileReader {
  private readonly openFilesMax: number;
  /** Open (or opening) handles by path; Map order is the recency order. */
  private readonly handles = new Map<string, Promise<FileHandle>>();

  constructor(openFilesMax: number) {
    this.openFilesMax = openFilesMax;
  }

  /**
   * Reads `length` bytes at `position` into a new buffer. Null when the file does not exist or
   * is shorter. Retries once when the handle was closed under the read (evicted by another read).
   */
  async read(file: string, position: number, length: number): Promise<Buffer | null> {
    for (let attempt = 0; ; attempt++) {
      const handle = await this.handleOf(file);
      if (handle === null) return null;
      try {
        const out = Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(out, done, length - done, position + done);
          if (bytesRead === 0) return null;
          done += bytesRead;
        }
        return out;
      } catch (error) {
        if (attempt > 0) throw new StoreError('E_STORE_IO', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  /** Closes the cached handles of every file `matches` accepts (deleted files free their space). */
  forgetMatching(matches: (file: string) => boolean): void {
    for (const file of [...this.handles.keys()]) if (matches(file)) this.forget(file);
  }

  /** Closes the handle of a file that was deleted or replaced. */
  forget(file: string): void {
    const handle = this.handles.get(file);
    if (handle === undefined) return;
    this.handles.delete(file);
    handle.then((h) => h.close(), () => undefined).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    for (const handle of handles) await handle.then((h) => h.close(), () => undefined).catch(() => undefined);
  }

  private handleOf(file: string): Promise<FileHandle | null> {
    let handle = this.handles.get(file);
    if (handle === undefined) {
      handle = openFile(file, 'r');
      if (this.handles.size >= this.openFilesMax) {
        const oldest = this.handles.keys().next().value as string;
        this.forget(oldest);
      }
    } else {
      this.handles.delete(file); // Re-inserted below: most recently used.
    }
    this.handles.set(file, handle);
    return handle.catch((error: NodeJS.ErrnoException) => {
      if (this.handles.get(file) === handle) this.handles.delete(file);
      if (error.code === 'ENOENT') return null;
      throw new StoreError('E_STORE_IO', `cannot open ${file}: ${error.message}`, { cause: error });
    });
  }
}
