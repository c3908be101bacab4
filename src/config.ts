// MessageStoreConfig: RocketMQ's names and defaults, one schema, validated once at open and on
// every updateConfig. Keys keep RocketMQ's spelling (flushIntervalCommitLog…); internal code
// converts to names with units at the point of use.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseLines } from 'dot-properties';
import { describeValue, StoreError } from './errors.js';
import { RECORD_OVERHEAD_ALLOWANCE_BYTES } from './format/commit_log_record.js';
import { encodeHostAddress } from './format/host_address.js';

export type FlushDiskType = 'ASYNC_FLUSH' | 'SYNC_FLUSH';

export interface MessageStoreConfig {
  /** Root directory of the store (RocketMQ default ~/store; required here). */
  storePathRootDir: string;
  /** CommitLog directory; default `<storePathRootDir>/commitlog`. */
  storePathCommitLog: string;
  /** Bytes per CommitLog segment (1 GiB). Fixed for the life of a store. */
  mappedFileSizeCommitLog: number;
  /** SYNC_FLUSH acknowledges after fsync; ASYNC_FLUSH after the write (page cache). */
  flushDiskType: FlushDiskType;
  /** ASYNC_FLUSH: ms between flushes (500). */
  flushIntervalCommitLog: number;
  /** ASYNC_FLUSH: flush only when at least this many 4 KiB pages are dirty (4). */
  flushCommitLogLeastPages: number;
  /** ASYNC_FLUSH: ms after which a flush ignores the page minimum (10000). */
  flushCommitLogThoroughInterval: number;
  /**
   * ASYNC_FLUSH: true = flush on a fixed period; false = also flush as soon as a commit lands
   * (only differs with transientStorePoolEnable, where commits happen).
   */
  flushCommitLogTimed: boolean;
  /** Stage writes in memory and commit them to the file periodically (RocketMQ's transient pool). */
  transientStorePoolEnable: boolean;
  /** Transient pool: ms between commits (200). */
  commitIntervalCommitLog: number;
  /** Transient pool: commit only when at least this many pages are staged (4). */
  commitCommitLogLeastPages: number;
  /** Transient pool: ms after which a commit ignores the page minimum (200). */
  commitCommitLogThoroughInterval: number;
  /** SYNC_FLUSH: ms a put waits for its fsync before FLUSH_DISK_TIMEOUT (5000). */
  syncFlushTimeout: number;
  /** Largest body in bytes (4 MiB); a record may be 64 KiB larger. */
  maxMessageSize: number;
  /** CRC-check bodies during recovery (true). */
  checkCRCOnRecover: boolean;
  /** ms a send may wait for room in the write ring before OS_PAGE_CACHE_BUSY (1000). */
  osPageCacheBusyTimeOutMills: number;
  /** Address written into every record and message id ("127.0.0.1:10911"). */
  storeHost: string;
  /**
   * Zero-fill and fsync the next segment while the current one fills, so fdatasync overwrites
   * allocated blocks after the roll (false, as in RocketMQ; see BENCHMARKS.md).
   */
  warmMapedFileEnable: boolean;
  /** Pages between fsyncs while zero-filling a segment (4096). */
  flushLeastPagesWhenWarmMapedFile: number;
  /** Bytes per ConsumeQueue file (300000 units × 20); rounded up to a multiple of 20. */
  mappedFileSizeConsumeQueue: number;
  /** ms between fdatasyncs of the consume queue and index files (1000). */
  flushIntervalConsumeQueue: number;
  /** Accepted for RocketMQ compatibility; consume queues are flushed whole every interval (2). */
  flushConsumeQueueLeastPages: number;
  /** Accepted for RocketMQ compatibility (60000); every consume queue flush is thorough. */
  flushConsumeQueueThoroughInterval: number;
  /** Build hash-index files for UNIQ_KEY and KEYS (true). */
  messageIndexEnable: boolean;
  /** Slots per index file (5000000). */
  maxHashSlotNum: number;
  /** Entries per index file (20000000); a file holds maxIndexNum − 1 keys. */
  maxIndexNum: number;
  /** Most offsets one index query returns (64). */
  maxMsgsNumBatch: number;
  /** getMessage: consume queue bytes scanned per pull, at least maxMsgNums × 20 (16000). */
  maxFilterMessageSize: number;
  /** getMessage: consume queue files visited per pull (1). */
  travelCqFileNumWhenGetMessage: number;
  /** getMessage: bytes per pull for data in memory (262144). */
  maxTransferBytesOnMessageInMemory: number;
  /** getMessage: messages per pull for data in memory (32). */
  maxTransferCountOnMessageInMemory: number;
  /** getMessage: bytes per pull for data on disk (65536). */
  maxTransferBytesOnMessageInDisk: number;
  /** getMessage: messages per pull for data on disk (8). */
  maxTransferCountOnMessageInDisk: number;
  /** Share of RAM (%) within which the CommitLog's tail counts as "in memory" (40). */
  accessMessageInMemoryMaxRatio: number;
  /** Hours a CommitLog segment is kept after its last write (72); 0 = all but the active one expire. */
  fileReservedTime: number;
  /** Hours of the day (0–23, ';'-separated) when expired segments are deleted ("04"). */
  deleteWhen: string;
  /** ms between clean-up checks (10000); the first runs 60 s after open. */
  cleanResourceInterval: number;
  /** ms paused between two deleted CommitLog segments (100). */
  deleteCommitLogFilesInterval: number;
  /** ms paused after a consume queue that had files deleted (100). */
  deleteConsumeQueueFilesInterval: number;
  /** Most CommitLog segments deleted per clean-up run (10). */
  deleteFileBatchMax: number;
  /** Disk use (%) above which expired segments are deleted at any hour (75; used clamped to [10, 95]). */
  diskMaxUsedSpaceRatio: number;
  /** Disk use (%) above which puts are refused with SERVICE_NOT_AVAILABLE (90; used clamped to [35, 90]). */
  diskSpaceWarningLevelRatio: number;
  /** Disk use (%) above which segments are deleted even unexpired (85; used clamped to [30, 85]). */
  diskSpaceCleanForciblyRatio: number;
  /** Allow deleting unexpired segments when the disk is above diskSpaceCleanForciblyRatio (true). */
  cleanFileForciblyEnable: boolean;
  /**
   * mqstore's own key (not RocketMQ's): print RocketMQ's `[STORETPS]` and `[PAGECACHERT]` lines
   * to stderr once a minute, as RocketMQ writes them to store.log (false).
   */
  pageCacheRtLogEnable: boolean;
  /**
   * RocketMQ 5: end every record's properties with `__CRC32#` and a CRC32 of the whole record
   * (the body CRC alone leaves header, topic and properties unprotected against torn writes).
   * 20 bytes per record (false, as in RocketMQ).
   */
  enabledAppendPropCRC: boolean;
  /**
   * RocketMQ 5: recovery requires every record to carry a matching appended CRC (and skips the
   * body CRC, which it covers). Only for stores written with enabledAppendPropCRC from the start (false).
   */
  forceVerifyPropCRC: boolean;
  /** Path of a broker.conf-style properties file read at open (keys as above). */
  configFile: string;
}

type Kind = 'string' | 'int' | 'bool' | 'flushDiskType' | 'host' | 'hours';

interface KeySpec {
  kind: Kind;
  min?: number;
  max?: number;
  /** May change on a live store through updateConfig. */
  runtime: boolean;
}

const INT32_MAX = 2147483647;
const MS_MAX = 24 * 3600 * 1000;
/** Above this the write ring would need more than 1 GiB of shared memory. */
export const MAX_MESSAGE_SIZE_LIMIT = 128 * 1024 * 1024;

const SCHEMA: Record<keyof MessageStoreConfig, KeySpec> = {
  storePathRootDir: { kind: 'string', runtime: false },
  storePathCommitLog: { kind: 'string', runtime: false },
  mappedFileSizeCommitLog: { kind: 'int', min: 4096, max: INT32_MAX, runtime: false },
  flushDiskType: { kind: 'flushDiskType', runtime: false },
  flushIntervalCommitLog: { kind: 'int', min: 1, max: MS_MAX, runtime: true },
  flushCommitLogLeastPages: { kind: 'int', min: 0, max: INT32_MAX, runtime: true },
  flushCommitLogThoroughInterval: { kind: 'int', min: 0, max: MS_MAX, runtime: true },
  flushCommitLogTimed: { kind: 'bool', runtime: true },
  transientStorePoolEnable: { kind: 'bool', runtime: false },
  commitIntervalCommitLog: { kind: 'int', min: 1, max: MS_MAX, runtime: true },
  commitCommitLogLeastPages: { kind: 'int', min: 0, max: INT32_MAX, runtime: true },
  commitCommitLogThoroughInterval: { kind: 'int', min: 0, max: MS_MAX, runtime: true },
  syncFlushTimeout: { kind: 'int', min: 1, max: MS_MAX, runtime: true },
  maxMessageSize: { kind: 'int', min: 1, max: MAX_MESSAGE_SIZE_LIMIT, runtime: true },
  checkCRCOnRecover: { kind: 'bool', runtime: false },
  osPageCacheBusyTimeOutMills: { kind: 'int', min: 0, max: MS_MAX, runtime: true },
  storeHost: { kind: 'host', runtime: false },
  warmMapedFileEnable: { kind: 'bool', runtime: false },
  flushLeastPagesWhenWarmMapedFile: { kind: 'int', min: 1, max: INT32_MAX, runtime: false },
  mappedFileSizeConsumeQueue: { kind: 'int', min: 20, max: INT32_MAX, runtime: false },
  flushIntervalConsumeQueue: { kind: 'int', min: 1, max: MS_MAX, runtime: true },
  flushConsumeQueueLeastPages: { kind: 'int', min: 0, max: INT32_MAX, runtime: true },
  flushConsumeQueueThoroughInterval: { kind: 'int', min: 0, max: MS_MAX, runtime: true },
  messageIndexEnable: { kind: 'bool', runtime: false },
  maxHashSlotNum: { kind: 'int', min: 1, max: 100_000_000, runtime: false },
  maxIndexNum: { kind: 'int', min: 2, max: 100_000_000, runtime: false },
  maxMsgsNumBatch: { kind: 'int', min: 1, max: 100_000, runtime: true },
  maxFilterMessageSize: { kind: 'int', min: 20, max: INT32_MAX, runtime: true },
  travelCqFileNumWhenGetMessage: { kind: 'int', min: 1, max: 1024, runtime: true },
  maxTransferBytesOnMessageInMemory: { kind: 'int', min: 1, max: INT32_MAX, runtime: true },
  maxTransferCountOnMessageInMemory: { kind: 'int', min: 1, max: INT32_MAX, runtime: true },
  maxTransferBytesOnMessageInDisk: { kind: 'int', min: 1, max: INT32_MAX, runtime: true },
  maxTransferCountOnMessageInDisk: { kind: 'int', min: 1, max: INT32_MAX, runtime: true },
  accessMessageInMemoryMaxRatio: { kind: 'int', min: 0, max: 100, runtime: true },
  fileReservedTime: { kind: 'int', min: 0, max: 24 * 365 * 100, runtime: true },
  deleteWhen: { kind: 'hours', runtime: true },
  cleanResourceInterval: { kind: 'int', min: 1, max: MS_MAX, runtime: true },
  deleteCommitLogFilesInterval: { kind: 'int', min: 0, max: MS_MAX, runtime: true },
  deleteConsumeQueueFilesInterval: { kind: 'int', min: 0, max: MS_MAX, runtime: true },
  deleteFileBatchMax: { kind: 'int', min: 1, max: INT32_MAX, runtime: true },
  diskMaxUsedSpaceRatio: { kind: 'int', min: 1, max: 100, runtime: true },
  diskSpaceWarningLevelRatio: { kind: 'int', min: 1, max: 100, runtime: true },
  diskSpaceCleanForciblyRatio: { kind: 'int', min: 1, max: 100, runtime: true },
  cleanFileForciblyEnable: { kind: 'bool', runtime: true },
  pageCacheRtLogEnable: { kind: 'bool', runtime: true },
  enabledAppendPropCRC: { kind: 'bool', runtime: false },
  forceVerifyPropCRC: { kind: 'bool', runtime: false },
  configFile: { kind: 'string', runtime: false },
};

/** Every configuration key, in schema order (the CLI offers each one as a `--<key>` flag). */
export const CONFIG_KEYS: readonly (keyof MessageStoreConfig)[] = Object.keys(SCHEMA) as (keyof MessageStoreConfig)[];

export const RUNTIME_KEYS: ReadonlySet<string> = new Set(
  Object.entries(SCHEMA).filter(([, spec]) => spec.runtime).map(([key]) => key),
);

export type MessageStoreOptions = Partial<MessageStoreConfig> & { storePathRootDir: string };

const DEFAULTS: Omit<MessageStoreConfig, 'storePathRootDir' | 'storePathCommitLog' | 'warmMapedFileEnable' | 'configFile'> = {
  mappedFileSizeCommitLog: 1073741824,
  flushDiskType: 'ASYNC_FLUSH',
  flushIntervalCommitLog: 500,
  flushCommitLogLeastPages: 4,
  flushCommitLogThoroughInterval: 10000,
  flushCommitLogTimed: true,
  transientStorePoolEnable: false,
  commitIntervalCommitLog: 200,
  commitCommitLogLeastPages: 4,
  commitCommitLogThoroughInterval: 200,
  syncFlushTimeout: 5000,
  maxMessageSize: 4194304,
  checkCRCOnRecover: true,
  osPageCacheBusyTimeOutMills: 1000,
  storeHost: '127.0.0.1:10911',
  flushLeastPagesWhenWarmMapedFile: 4096,
  mappedFileSizeConsumeQueue: 6000000,
  flushIntervalConsumeQueue: 1000,
  flushConsumeQueueLeastPages: 2,
  flushConsumeQueueThoroughInterval: 60000,
  messageIndexEnable: true,
  maxHashSlotNum: 5000000,
  maxIndexNum: 20000000,
  maxMsgsNumBatch: 64,
  maxFilterMessageSize: 16000,
  travelCqFileNumWhenGetMessage: 1,
  maxTransferBytesOnMessageInMemory: 262144,
  maxTransferCountOnMessageInMemory: 32,
  maxTransferBytesOnMessageInDisk: 65536,
  maxTransferCountOnMessageInDisk: 8,
  accessMessageInMemoryMaxRatio: 40,
  fileReservedTime: 72,
  deleteWhen: '04',
  cleanResourceInterval: 10000,
  deleteCommitLogFilesInterval: 100,
  deleteConsumeQueueFilesInterval: 100,
  deleteFileBatchMax: 10,
  diskMaxUsedSpaceRatio: 75,
  diskSpaceWarningLevelRatio: 90,
  diskSpaceCleanForciblyRatio: 85,
  cleanFileForciblyEnable: true,
  pageCacheRtLogEnable: false,
  enabledAppendPropCRC: false,
  forceVerifyPropCRC: false,
};

function configError(message: string): StoreError {
  return new StoreError('E_CONFIG_INVALID', message);
}

/** Checks one value against its key's spec; `fromText` allows string forms (config files). */
function coerce(key: string, value: unknown, fromText: boolean): unknown {
  // Own keys only: SCHEMA['toString'] or SCHEMA['__proto__'] would find Object.prototype's.
  const spec = Object.hasOwn(SCHEMA, key) ? (SCHEMA as Record<string, KeySpec>)[key] : undefined;
  if (spec === undefined) {
    throw configError(`unknown configuration key ${describeValue(key)}`);
  }
  const shown = describeValue(value);
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string' || value.length === 0) {
        throw configError(`${key} must be a non-empty string, got ${shown}`);
      }
      return value;
    case 'host':
      if (typeof value !== 'string') throw configError(`${key} must be "ip:port", got ${shown}`);
      try {
        encodeHostAddress(value, key);
      } catch (error) {
        throw configError((error as Error).message);
      }
      return value;
    case 'flushDiskType':
      if (value !== 'ASYNC_FLUSH' && value !== 'SYNC_FLUSH') {
        throw configError(`${key} must be ASYNC_FLUSH or SYNC_FLUSH, got ${shown}`);
      }
      return value;
    case 'hours':
      if (typeof value !== 'string' || deleteWhenHours(value) === null) {
        throw configError(`${key} must be hours of the day 0-23 separated by ';' (e.g. "04" or "01;13"), got ${shown}`);
      }
      return value;
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (fromText && (value === 'true' || value === 'false')) return value === 'true';
      throw configError(`${key} must be true or false, got ${shown}`);
    }
    case 'int': {
      let n = value;
      if (fromText && typeof value === 'string' && /^-?\d+$/.test(value.trim())) n = Number(value.trim());
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
        throw configError(`${key} must be an integer, got ${shown}`);
      }
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw configError(`${key} must be in [${spec.min}, ${spec.max}], got ${n}`);
      }
      return n;
    }
  }
}

function checkAll(partial: Record<string, unknown>, fromText: boolean): Partial<MessageStoreConfig> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    // Java's Properties keeps trailing blanks; RocketMQ's setters would choke on them too, but a
    // stray space at the end of a broker.conf line is a common and invisible mistake.
    out[key] = coerce(key, fromText && typeof value === 'string' ? value.trim() : value, fromText);
  }
  return out as Partial<MessageStoreConfig>;
}

/** Reads a broker.conf-style file: `key=value` lines, `#` comments, Java properties escapes. */
export async function readConfigFile(file: string): Promise<Partial<MessageStoreConfig>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw configError(`cannot read configFile ${file}: ${(error as Error).message}`);
  }
  // From the pairs, not parse(): parse() assigns `__proto__=…` to the result's prototype, so
  // that line would vanish instead of being refused as an unknown key. Later lines win.
  const pairs = parseLines(text).filter((line): line is [string, string] => Array.isArray(line));
  return checkAll(Object.fromEntries(pairs), true);
}

/** Checks keys given as text (command-line flags), exactly as lines of a config file. */
export function configFromText(pairs: Readonly<Record<string, string>>): Partial<MessageStoreConfig> {
  return checkAll(pairs, true);
}

/**
 * Resolves the effective configuration: defaults, then the config file, then the options
 * object (which wins). Rejects unknown keys and out-of-range values with E_CONFIG_INVALID.
 */
export async function resolveConfig(options: MessageStoreOptions): Promise<MessageStoreConfig> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw configError('MessageStore.open needs an options object with storePathRootDir');
  }
  const direct = checkAll(options as Record<string, unknown>, false);
  const fromFile = direct.configFile === undefined ? {} : await readConfigFile(direct.configFile);
  const merged = { ...fromFile, ...direct };
  if (merged.storePathRootDir === undefined) throw configError('storePathRootDir is required');
  const root = path.resolve(merged.storePathRootDir);
  return {
    ...DEFAULTS,
    ...merged,
    storePathRootDir: root,
    storePathCommitLog: path.resolve(root, merged.storePathCommitLog ?? 'commitlog'),
    warmMapedFileEnable: merged.warmMapedFileEnable ?? false,
    configFile: merged.configFile ?? '',
  } as MessageStoreConfig;
}

/** Validates an updateConfig() partial: known, runtime-tunable keys with valid values. */
export function checkRuntimeUpdate(partial: Record<string, unknown>): Partial<MessageStoreConfig> {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    throw configError('updateConfig needs an object of configuration keys');
  }
  const checked = checkAll(partial, false);
  for (const key of Object.keys(checked)) {
    if (!RUNTIME_KEYS.has(key)) {
      throw configError(`${key} cannot change on an open store; close and reopen with the new value`);
    }
  }
  return checked;
}

/** The hours listed in a deleteWhen value ("04", "01;13"), or null when it is not valid. */
export function deleteWhenHours(value: string): Set<number> | null {
  const hours = new Set<number>();
  for (const part of value.split(';')) {
    const text = part.trim();
    if (!/^\d{1,2}$/.test(text) || Number(text) > 23) return null;
    hours.add(Number(text));
  }
  return hours;
}

/** Largest record the current limits allow: a body of maxMessageSize plus RocketMQ's 64 KiB. */
export function recordBytesMax(maxMessageSize: number): number {
  return maxMessageSize + RECORD_OVERHEAD_ALLOWANCE_BYTES;
}
