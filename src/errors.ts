// Typed errors with stable `code` strings. Callers match on `code`, never on message text.
// Operating errors (bad input, bad bytes on disk, failing disks) are StoreErrors;
// programmer errors are AssertionErrors (see assert.ts).

export type StoreErrorCode =
  /** An argument has the wrong type or shape (e.g. body is a number). */
  | 'E_INVALID_ARGUMENT'
  /** A configuration key is unknown, or a value has the wrong type or is out of range. */
  | 'E_CONFIG_INVALID'
  /** The store directory is locked by another process or another open store. */
  | 'E_STORE_LOCKED'
  /** The store directory cannot be created or used (missing parent, not a directory, no permission). */
  | 'E_STORE_DIR'
  /** A file on disk is not what the format allows (wrong segment size, gap between segments, bad checkpoint). */
  | 'E_STORE_CORRUPT'
  /** A record's bytes fail the record format checks (decodeMessage on bad bytes). */
  | 'E_RECORD_INVALID'
  /** A write or fsync failed; the store refuses puts until reopened. The errno is in `errno`/`syscallCode`. */
  | 'E_STORE_IO'
  /** The disk is full (ENOSPC) while writing or preallocating. */
  | 'E_STORE_NO_SPACE'
  /** The store is closed (or closing). */
  | 'E_STORE_CLOSED'
  /** A worker thread died or failed an internal check. */
  | 'E_WORKER_FAILED';

/**
 * A short, never-throwing description of an argument for error messages. String() throws on
 * objects without a prototype and on objects whose toString throws; JSON.stringify throws on
 * bigints and cycles: a bad argument must still get its typed error.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? 'an array' : 'an object';
    default:
      return String(value);
  }
}

/** What the store was doing when an I/O error happened (maps to RocketMQ's statuses). */
export type StoreOperation = 'create-segment' | 'write' | 'fsync' | 'other';

export interface StoreErrorOptions {
  cause?: unknown;
  syscallCode?: string | undefined;
  operation?: StoreOperation | undefined;
}

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** The operating system's error code (EIO, ENOSPC, EROFS…) when the error came from a syscall. */
  readonly syscallCode: string | undefined;
  /** For I/O errors: the operation that failed. */
  readonly operation: StoreOperation | undefined;
  constructor(code: StoreErrorCode, message: string, options?: StoreErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreError';
    this.code = code;
    this.syscallCode = options?.syscallCode;
    this.operation = options?.operation;
  }
}

/** Wraps an error thrown by node:fs into a StoreError that keeps the errno code. */
export function ioError(what: string, cause: unknown, operation: StoreOperation = 'other'): StoreError {
  const syscallCode = (cause as NodeJS.ErrnoException | undefined)?.code;
  const code = syscallCode === 'ENOSPC' ? 'E_STORE_NO_SPACE' : 'E_STORE_IO';
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StoreError(code, `${what}: ${detail}`, { cause, syscallCode, operation });
}

/** A StoreError as it crosses a worker boundary (postMessage keeps plain data only). */
export interface SerializedError {
  code: string;
  message: string;
  syscallCode: string | undefined;
  operation: StoreOperation | undefined;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof StoreError) {
    return { code: error.code, message: error.message, syscallCode: error.syscallCode, operation: error.operation };
  }
  const code = (error as { code?: unknown })?.code;
  return {
    code: typeof code === 'string' && code.startsWith('E_') ? code : 'E_WORKER_FAILED',
    message: error instanceof Error ? error.message : String(error),
    syscallCode: undefined,
    operation: undefined,
  };
}

export function deserializeError(serialized: SerializedError): StoreError {
  return new StoreError(serialized.code as StoreErrorCode, serialized.message, {
    syscallCode: serialized.syscallCode,
    operation: serialized.operation,
  });
}
