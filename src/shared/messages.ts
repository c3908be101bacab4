// Control-plane messages between the main thread and the writer worker (postMessage). The data
// plane (record bytes) goes through the ring only. Every union is handled by an exhaustive
// switch whose default is assertNever.

import type { MessageStoreConfig } from '../config.js';
import type { StoreOperation } from '../errors.js';
import type { StorageSpec } from '../io/storage.js';
import type { QueueOffsetEntry } from '../recovery/queue_offset_table.js';
import type { RecoveryEvent } from '../recovery/recovery.js';
import type { WriterProgress } from '../writer/group_commit.js';

export interface WriterInit {
  config: MessageStoreConfig;
  ringSab: SharedArrayBuffer;
  storage: StorageSpec | undefined;
}

export interface SerializedError {
  code: string;
  message: string;
  syscallCode: string | undefined;
  operation: StoreOperation | undefined;
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
}

export type WriterToMain =
  | { type: 'READY'; recovery: RecoverySummary }
  | { type: 'PROGRESS'; progress: WriterProgress }
  | { type: 'REPLY'; requestId: number; error: SerializedError | null }
  | { type: 'FATAL'; error: SerializedError };

export type MainToWriter =
  | { type: 'FLUSH'; requestId: number; targetPhysicalOffset: number }
  | { type: 'UPDATE_CONFIG'; requestId: number; config: MessageStoreConfig }
  | { type: 'CLOSE'; requestId: number; queueOffsets: QueueOffsetEntry[] };
