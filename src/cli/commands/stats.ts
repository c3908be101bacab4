// `mqstore stats <storeDir>`: what a store holds, read from its files without opening it (no
// lock, no workers): the CommitLog's first and end offsets, every topic and queue with its
// queue offset range and message count, and disk use per directory (allocated and apparent:
// segments and consume queues are sparse).

import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { CQ_ENTRY_BYTES, consumeQueueEntryKind, readConsumeQueueEntry } from '../../format/consume_queue_entry.js';
import { FsStorage } from '../../io/storage_fs.js';
import { SegmentScanner } from '../../recovery/segment_scanner.js';
import { offsetFiles, queueDirs } from '../store_files.js';

export interface QueueStats {
  topic: string;
  queueId: number;
  minQueueOffset: number;
  maxQueueOffset: number;
  messages: number;
}

export interface DiskUse {
  files: number;
  allocatedBytes: number;
  apparentBytes: number;
}

export interface StoreStats {
  storeDir: string;
  commitLog: { segments: number; minPhysicalOffset: number; maxPhysicalOffset: number };
  queues: QueueStats[];
  disk: Record<'commitlog' | 'consumequeue' | 'index' | 'total', DiskUse>;
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('offsets, topics and queues with message counts, and disk use of a store (read-only)')
    .argument('<storeDir>', 'the store root (storePathRootDir)')
    .option('--json', 'print one JSON document')
    .action((storeDir: string, options: { json?: boolean }) => {
      const stats = storeStats(storeDir);
      if (options.json === true) process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
      else for (const line of formatStats(stats)) process.stdout.write(`${line}\n`);
    });
}

export function storeStats(storeDir: string): StoreStats {
  const commitLogDir = path.join(storeDir, 'commitlog');
  if (!fs.existsSync(commitLogDir)) throw new StoreError('E_STORE_DIR', `${storeDir} has no commitlog directory: not a store`);
  const disk = {
    commitlog: diskUse(commitLogDir),
    consumequeue: diskUse(path.join(storeDir, 'consumequeue')),
    index: diskUse(path.join(storeDir, 'index')),
    total: diskUse(storeDir),
  };
  return { storeDir, commitLog: commitLogRange(commitLogDir), queues: queueStats(path.join(storeDir, 'consumequeue')), disk };
}

function formatStats(stats: StoreStats): string[] {
  const lines = [
    `store            ${stats.storeDir}`,
    `commitlog        ${stats.commitLog.segments} segment(s), physical offsets [${stats.commitLog.minPhysicalOffset}, ${stats.commitLog.maxPhysicalOffset})`,
    `topics           ${new Set(stats.queues.map((q) => q.topic)).size}, queues ${stats.queues.length}, messages ${stats.queues.reduce((sum, q) => sum + q.messages, 0)}`,
  ];
  for (const [name, use] of Object.entries(stats.disk)) {
    lines.push(`disk ${name.padEnd(12)} ${mb(use.allocatedBytes)} MB allocated, ${mb(use.apparentBytes)} MB apparent, ${use.files} file(s)`);
  }
  lines.push('', 'topic                            queue   min offset   max offset     messages');
  for (const q of stats.queues) {
    lines.push(`${q.topic.padEnd(32)} ${String(q.queueId).padStart(5)} ${String(q.minQueueOffset).padStart(12)} ${String(q.maxQueueOffset).padStart(12)} ${String(q.messages).padStart(12)}`);
  }
  return lines;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function diskUse(dir: string): DiskUse {
  const use: DiskUse = { files: 0, allocatedBytes: 0, apparentBytes: 0 };
  if (!fs.existsSync(dir)) return use;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = diskUse(full);
      use.files += inner.files;
      use.allocatedBytes += inner.allocatedBytes;
      use.apparentBytes += inner.apparentBytes;
    } else if (entry.isFile()) {
      const info = fs.statSync(full);
      use.files += 1;
      use.allocatedBytes += info.blocks * 512;
      use.apparentBytes += info.size;
    }
  }
  return use;
}

/** First offset and end of the valid log: the newest segment holding a record is scanned. */
function commitLogRange(dir: string): StoreStats['commitLog'] {
  const segments = offsetFiles(dir);
  if (segments.length === 0) return { segments: 0, minPhysicalOffset: -1, maxPhysicalOffset: 0 };
  const storage = new FsStorage();
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    const file = segment.path;
    const sizeBytes = fs.statSync(file).size;
    const handle = storage.open(file, false);
    try {
      const result = new SegmentScanner(storage, handle, segment.start, sizeBytes).scan(0, false, () => undefined);
      const end = result.stop.kind === 'blank' ? segment.start + sizeBytes : segment.start + result.endPosition;
      if (end > segment.start || i === 0) return { segments: segments.length, minPhysicalOffset: segments[0]!.start, maxPhysicalOffset: end };
    } finally {
      storage.close(handle);
    }
  }
  return { segments: segments.length, minPhysicalOffset: segments[0]!.start, maxPhysicalOffset: segments[0]!.start };
}

function queueStats(consumeQueueDir: string): QueueStats[] {
  const out: QueueStats[] = [];
  for (const queue of queueDirs(consumeQueueDir)) {
    if (queue.topic === null) continue;
    const range = queueRange(queue.dir);
    if (range !== null) out.push({ topic: queue.topic, queueId: queue.queueId, ...range, messages: range.maxQueueOffset - range.minQueueOffset });
  }
  return out;
}

/** [min, max) queue offsets of one queue's files: fillers skipped at the head, zero units end it. */
function queueRange(queueDir: string): { minQueueOffset: number; maxQueueOffset: number } | null {
  const files = offsetFiles(queueDir);
  if (files.length === 0) return null;
  const first = fs.readFileSync(files[0]!.path);
  let minBytes = files[0]!.start;
  for (let at = 0; at + CQ_ENTRY_BYTES <= first.length && consumeQueueEntryKind(readConsumeQueueEntry(first, at)) === 'filler'; at += CQ_ENTRY_BYTES) {
    minBytes += CQ_ENTRY_BYTES;
  }
  const last = files[files.length - 1]!;
  const bytes = files.length === 1 ? first : fs.readFileSync(last.path);
  let endAt = 0;
  while (endAt + CQ_ENTRY_BYTES <= bytes.length && consumeQueueEntryKind(readConsumeQueueEntry(bytes, endAt)) !== 'end') endAt += CQ_ENTRY_BYTES;
  const maxBytes = last.start + endAt;
  return { minQueueOffset: Math.min(minBytes, maxBytes) / CQ_ENTRY_BYTES, maxQueueOffset: maxBytes / CQ_ENTRY_BYTES };
}
