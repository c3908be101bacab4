// The next queue offset of every (topic, queueId): rebuilt by recovery, kept by the main thread
// (the sequencer), and saved at a clean shutdown as config/mqstoreQueueOffsets.json so a clean
// reopen does not have to read the whole CommitLog.

import path from 'node:path';
import {
  SYSFLAG_TRANSACTION_COMMIT,
  SYSFLAG_TRANSACTION_MASK,
  SYSFLAG_TRANSACTION_NOT,
} from '../format/commit_log_record.js';
import type { Storage } from '../io/storage.js';

export const QUEUE_OFFSETS_FILE = path.join('config', 'mqstoreQueueOffsets.json');
const QUEUE_OFFSETS_VERSION = 1;
const QUEUE_ID_MAX = 2147483647;

/** [topic, queueId, next queue offset] */
export type QueueOffsetEntry = [string, number, number];

/** Only NOT and COMMIT transaction records take a queue offset (prepared/rollback do not). */
export function takesQueueOffset(sysFlag: number): boolean {
  const type = sysFlag & SYSFLAG_TRANSACTION_MASK;
  return type === SYSFLAG_TRANSACTION_NOT || type === SYSFLAG_TRANSACTION_COMMIT;
}

export class QueueOffsetTable {
  private readonly table = new Map<string, Map<number, number>>();

  /** Records that a message with `queueOffset` exists: the next offset is at least one more. */
  observe(topic: string, queueId: number, queueOffset: number): void {
    let queues = this.table.get(topic);
    if (queues === undefined) {
      queues = new Map();
      this.table.set(topic, queues);
    }
    const next = queueOffset + 1;
    if ((queues.get(queueId) ?? 0) < next) queues.set(queueId, next);
  }

  entries(): QueueOffsetEntry[] {
    const out: QueueOffsetEntry[] = [];
    for (const [topic, queues] of this.table) {
      for (const [queueId, next] of queues) out.push([topic, queueId, next]);
    }
    return out;
  }

  static fromEntries(entries: readonly QueueOffsetEntry[]): QueueOffsetTable {
    const table = new QueueOffsetTable();
    for (const [topic, queueId, next] of entries) table.observe(topic, queueId, next - 1);
    return table;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

interface SnapshotJson {
  version: number;
  physicalOffset: number;
  offsetTable: Record<string, Record<string, number>>;
}

export function encodeQueueOffsetSnapshot(physicalOffset: number, entries: readonly QueueOffsetEntry[]): Buffer {
  // Null-prototype objects: a topic named "__proto__" or "constructor" is a topic like any other.
  const offsetTable: Record<string, Record<string, number>> = Object.create(null);
  for (const [topic, queueId, next] of entries) {
    (offsetTable[topic] ??= Object.create(null) as Record<string, number>)[String(queueId)] = next;
  }
  const json: SnapshotJson = { version: QUEUE_OFFSETS_VERSION, physicalOffset, offsetTable };
  return Buffer.from(JSON.stringify(json, null, 1));
}

/** The saved table and the log end it describes, or null if absent or unreadable. */
export function readQueueOffsetSnapshot(
  storage: Storage,
  rootDir: string,
): { physicalOffset: number; entries: QueueOffsetEntry[] } | null {
  const bytes = storage.readFile(path.join(rootDir, QUEUE_OFFSETS_FILE));
  if (bytes === null) return null;
  try {
    const json = JSON.parse(bytes.toString('utf8')) as SnapshotJson;
    if (json.version !== QUEUE_OFFSETS_VERSION || !Number.isSafeInteger(json.physicalOffset)) return null;
    if (json.physicalOffset < 0 || !isPlainObject(json.offsetTable)) return null;
    const entries: QueueOffsetEntry[] = [];
    for (const [topic, queues] of Object.entries(json.offsetTable)) {
      if (!isPlainObject(queues)) return null;
      for (const [queueId, next] of Object.entries(queues)) {
        if (!Number.isSafeInteger(next) || next < 0 || !/^\d+$/.test(queueId)) return null;
        // Queue ids are int32 ≥ 0 everywhere else (a damaged digit would reach the consume queues).
        if (Number(queueId) > QUEUE_ID_MAX) return null;
        entries.push([topic, Number(queueId), next]);
      }
    }
    return { physicalOffset: json.physicalOffset, entries };
  } catch {
    return null;
  }
}
