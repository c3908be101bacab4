// The public API of mqstore. No logic here.

export { MessageStore, type MessageStoreInternals, type RecoveryReport, type RuntimeInfo } from './message_store.js';
export type { GetMessageRequest, BoundaryType } from './read/message_reads.js';
export type { MessageStoreConfig, MessageStoreOptions, FlushDiskType } from './config.js';
export {
  PutMessageStatus,
  GetMessageStatus,
  type PutMessageResult,
  type AppendMessageResult,
  type GetMessageResult,
  type QueryMessageResult,
} from './status.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { MessageInput, BatchInput } from './put_request.js';
export {
  encodeMessage,
  decodeMessage,
  decodeMessages,
  type MessageExt,
  type EncodeMessageInput,
} from './format/commit_log_record.js';
export type { RecoverySummary, DerivedRecoveryReport } from './shared/messages.js';
export type { RecoveryEvent } from './recovery/recovery.js';
export type { Storage, StorageFile, StorageSpec } from './io/storage.js';
