// Control-plane messages between the main thread and the writer worker (postMessage). The data
// plane (record bytes) goes through the ring only. Every union is handled by an exhaustive
// switch whose default is assertNever.

import type { MessageStoreConfig } from '../config.js';
import type { SerializedError } from '../errors.js';
import type { StorageSpec } from '../io/storage.js';
import type { QueueOffsetEntry } from '../recovery/queue_offset_table.js';
import type { RecoveryEvent } from '../recovery/recovery.js';
import type { WriterProgress } from '../writer/group_commit.js';

export interface WriterInit {
  config: MessageStoreConfig;
  ringSab: SharedArrayBuffer;
  /** The positions board (./positions.ts): the writer publishes wroteWhere and flushedWhere. */
  positionsSab: SharedArrayBuffer;
  storage: StorageSpec | undefined;
  /** Threads for a full recovery scan; undefined = decide by data size and cores; 1 = no pool. */
  recoveryScanThreads: number | undefined;
}

export interface RecoverySummary {
  lastExitOK: boolean;
  mode: 'normal' | 'abnormal';
  fullScan: boolean;
  minPhysicalOffset: number;
  endPhysicalOffset: number;
  queueOffsets: QueueOffsetEntry[];
  events: RecoveryEvent[];
  scannedBytes: number;
  durationMs: number;
  /** Threads that scanned segments (1 = in the writer itself). */
  scanThreads: number;
  /** The checkpoint's dispatchedPhyOffset, at most endPhysicalOffset (0 = unknown). */
  dispatchedPhyOffset: number;
}

export type WriterToMain =
  | { type: 'READY'; recovery: RecoverySummary }
  | { type: 'PROGRESS'; progress: WriterProgress }
  | { type: 'REPLY'; requestId: number; error: SerializedError | null; result?: unknown }
  | { type: 'FATAL'; error: SerializedError };

export type MainToWriter =
  | { type: 'FLUSH'; requestId: number; targetPhysicalOffset: number }
  | { type: 'UPDATE_CONFIG'; requestId: number; config: MessageStoreConfig }
  | { type: 'DRAIN'; requestId: number }
  | { type: 'DELETE_EXPIRED'; requestId: number; expiredBeforeMs: number; force: boolean; batchMax: number; pauseMs: number }
  /** keepAbort: the dispatcher failed, so the next open must recover its files (re-dispatch). */
  | { type: 'CLOSE'; requestId: number; queueOffsets: QueueOffsetEntry[]; keepAbort: boolean };

// ---------------------------------------------------------------------------------------------
// Main thread ↔ dispatcher worker. Positions travel on the positions board (./positions.ts);
// these messages carry what the main thread needs for reads (queue offset ranges) and requests.

export interface DispatcherInit {
  config: MessageStoreConfig;
  /** The positions board: the dispatcher reads the writer's positions and publishes its own. */
  positionsSab: SharedArrayBuffer;
  storage: StorageSpec | undefined;
  recovery: {
    lastExitOK: boolean;
    /** First CommitLog offset still stored, −1 when the log is empty. */
    minPhysicalOffset: number;
    endPhysicalOffset: number;
    /** From the checkpoint: consume queues and index were durable up to here (0 = unknown). */
    dispatchedPhyOffset: number;
    /** The writer's queue offset table: what every consume queue's max must be once caught up. */
    queueOffsets: QueueOffsetEntry[];
  };
}

/** A consume queue's readable range: [minQueueOffset, maxQueueOffset). */
export interface QueueRange {
  topic: string;
  queueId: number;
  minQueueOffset: number;
  maxQueueOffset: number;
}

/** What the dispatcher found and did to the consume queues and index files when the store opened. */
export interface DerivedRecoveryReport {
  consumeQueueCount: number;
  /** Queues whose tail was cut (invalid units, units past the CommitLog's end). */
  consumeQueuesTrimmed: number;
  /** Queues deleted and rebuilt from the CommitLog because they were missing, short or wrong. */
  consumeQueuesRebuilt: Array<[string, number]>;
  indexFileCount: number;
  /** Index slots repaired after a crash (pointing at entries the header did not count yet). */
  indexSlotsRepaired: number;
  /** True when the index files were missing or unreadable and were rebuilt from the CommitLog. */
  indexRebuilt: boolean;
  /** Where re-dispatch started and how much of the CommitLog it read. */
  redispatchFromPhysicalOffset: number;
  redispatchedBytes: number;
  /** Human-readable notes: one per repair, naming the file or queue and why. */
  events: string[];
  durationMs: number;
}

export type DispatcherToMain =
  | { type: 'READY'; dispatchedWhere: number; queues: QueueRange[]; report: DerivedRecoveryReport }
  | { type: 'DISPATCHED'; dispatchedWhere: number; queues: QueueRange[] }
  | { type: 'REPLY'; requestId: number; error: SerializedError | null; result?: unknown }
  | { type: 'FATAL'; error: SerializedError };

export type MainToDispatcher =
  | { type: 'QUERY_INDEX'; requestId: number; topic: string; key: string; maxNum: number; beginMs: number; endMs: number }
  | { type: 'DELETE_EXPIRED'; requestId: number; minPhysicalOffset: number }
  | { type: 'UPDATE_CONFIG'; requestId: number; config: MessageStoreConfig }
  | { type: 'CLOSE'; requestId: number; endPhysicalOffset: number };
