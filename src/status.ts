// Result types and status names of the public API: RocketMQ's, spelled as RocketMQ spells them.

import type { StoreError } from './errors.js';
import type { MessageExt } from './format/commit_log_record.js';

export const PutMessageStatus = {
  PUT_OK: 'PUT_OK',
  /** SYNC_FLUSH: the fsync did not cover the message within syncFlushTimeout; it is stored. */
  FLUSH_DISK_TIMEOUT: 'FLUSH_DISK_TIMEOUT',
  /** The store is closed, closing, or fenced after a failed write or fsync. */
  SERVICE_NOT_AVAILABLE: 'SERVICE_NOT_AVAILABLE',
  /** The next CommitLog segment could not be created. */
  CREATE_MAPPED_FILE_FAILED: 'CREATE_MAPPED_FILE_FAILED',
  /** Body over maxMessageSize, record too large for a segment, empty or too long topic, bad batch. */
  MESSAGE_ILLEGAL: 'MESSAGE_ILLEGAL',
  /** Properties over 32767 bytes. */
  PROPERTIES_SIZE_EXCEEDED: 'PROPERTIES_SIZE_EXCEEDED',
  /** The write ring stayed full for osPageCacheBusyTimeOutMills. */
  OS_PAGE_CACHE_BUSY: 'OS_PAGE_CACHE_BUSY',
  /** A write or fsync failed while the message was pending; it was not acknowledged. */
  UNKNOWN_ERROR: 'UNKNOWN_ERROR',
} as const;

export type PutMessageStatus = (typeof PutMessageStatus)[keyof typeof PutMessageStatus];

export interface AppendMessageResult {
  /** CommitLog offset of the (first) record. */
  wroteOffset: number;
  /** Bytes of the record, or of all records of a batch. */
  wroteBytes: number;
  /** RocketMQ offset message id; comma-joined for a batch. */
  msgId: string;
  storeTimestamp: number;
  /** Queue offset of the (first) message. */
  logicsOffset: number;
  msgNum: number;
  /** ms the writer spent copying the group holding this message into the page cache. */
  pagecacheRT: number;
}

export interface PutMessageResult {
  putMessageStatus: PutMessageStatus;
  appendMessageResult?: AppendMessageResult;
  /** RocketMQ's isOk(): the append succeeded (PUT_OK, or FLUSH_DISK_TIMEOUT: stored, not yet durable). */
  ok: boolean;
  /** Why a put failed when the cause is an error (the errno of a failed write or fsync). */
  error?: StoreError;
}

/** A result without an append: the message was not stored. */
export function failedResult(status: PutMessageStatus, error?: StoreError): PutMessageResult {
  return error === undefined ? { putMessageStatus: status, ok: false } : { putMessageStatus: status, ok: false, error };
}

/** getMessage statuses: RocketMQ's GetMessageStatus, with its nextBeginOffset corrections. */
export const GetMessageStatus = {
  /** At least one message is returned. */
  FOUND: 'FOUND',
  /** Units were scanned but none matched the subscription's tags. */
  NO_MATCHED_MESSAGE: 'NO_MATCHED_MESSAGE',
  /** The unit points into a CommitLog range already deleted (retention). */
  MESSAGE_WAS_REMOVING: 'MESSAGE_WAS_REMOVING',
  /** No consume queue data at a valid offset (its file is gone); next = start of the next file. */
  OFFSET_FOUND_NULL: 'OFFSET_FOUND_NULL',
  /** offset > max; next = max. */
  OFFSET_OVERFLOW_BADLY: 'OFFSET_OVERFLOW_BADLY',
  /** offset == max (caught up); next = offset. */
  OFFSET_OVERFLOW_ONE: 'OFFSET_OVERFLOW_ONE',
  /** offset < min (removed by retention); next = min. */
  OFFSET_TOO_SMALL: 'OFFSET_TOO_SMALL',
  /** Not produced: as in RocketMQ's store, an unknown queue reads as an empty one. */
  NO_MATCHED_LOGIC_QUEUE: 'NO_MATCHED_LOGIC_QUEUE',
  /** The queue has never had a message (max is 0); next = 0. */
  NO_MESSAGE_IN_QUEUE: 'NO_MESSAGE_IN_QUEUE',
} as const;

export type GetMessageStatus = (typeof GetMessageStatus)[keyof typeof GetMessageStatus];

export interface GetMessageResult {
  status: GetMessageStatus;
  /** The queue offset to ask for next. */
  nextBeginOffset: number;
  /** The queue's readable range when the call was answered: [minOffset, maxOffset). */
  minOffset: number;
  maxOffset: number;
  messages: MessageExt[];
  /** Sum of the returned records' sizes in bytes. */
  bufferTotalSize: number;
  /** The data read lies further from the CommitLog's end than accessMessageInMemoryMaxRatio of RAM. */
  suggestPullingFromSlave: boolean;
}

export interface QueryMessageResult {
  messages: MessageExt[];
  /** Store time of the newest indexed message (ms). */
  indexLastUpdateTimestamp: number;
  /** CommitLog offset of the newest indexed message. */
  indexLastUpdatePhyoffset: number;
}
