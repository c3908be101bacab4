// One store directory, one owner. RocketMQ locks `<root>/lock` with an OS file lock; Node has no
// flock(), so we hold a Linux abstract-namespace socket named after the directory instead: the
// kernel releases it when the process dies (even by SIGKILL), so a crash never leaves a stale
// lock. A second open in the same process is caught by a registry before that. The `lock` file
// is still written, with RocketMQ's content, for tools that look for it.

import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { StoreError } from './errors.js';

const openDirs = new Set<string>();

export class StoreLock {
  private readonly dir: string;
  private readonly server: net.Server | null;

  private constructor(dir: string, server: net.Server | null) {
    this.dir = dir;
    this.server = server;
  }

  static async acquire(dir: string): Promise<StoreLock> {
    if (openDirs.has(dir)) {
      throw new StoreError('E_STORE_LOCKED', `${dir} is already open in this process; close the other store first`);
    }
    openDirs.add(dir);
    try {
      const server = process.platform === 'linux' ? await listenAbstract(dir) : null;
      await writeFile(path.join(dir, 'lock'), 'lock', { mode: 0o644 });
      return new StoreLock(dir, server);
    } catch (error) {
      openDirs.delete(dir);
      throw error;
    }
  }

  release(): void {
    this.server?.close();
    openDirs.delete(this.dir);
  }
}

function listenAbstract(dir: string): Promise<net.Server> {
  const name = `\0mqstore-lock-${createHash('sha256').update(dir).digest('hex')}`;
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new StoreError('E_STORE_LOCKED', `${dir} is locked by another process (see ${path.join(dir, 'abort')} for its pid)`));
      } else {
        reject(new StoreError('E_STORE_DIR', `cannot lock ${dir}: ${error.message}`, { cause: error }));
      }
    });
    server.listen(name, () => {
      server.unref();
      resolve(server);
    });
  });
}
