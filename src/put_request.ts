// Validation and preparation of sends on the main thread: everything about a put that does not
// depend on where it lands. Wrong types throw E_INVALID_ARGUMENT; sizes and content that
// RocketMQ rejects with a status return that status. The result carries pre-encoded parts, so
// the sequencer only stamps offsets and copies bytes.

import { describeValue, StoreError } from './errors.js';
import {
  BLANK_RECORD_BYTES,
  buildPropertiesString,
  NAME_VALUE_SEPARATOR,
  PROPERTIES_BYTES_MAX,
  PROPERTY_SEPARATOR,
  PROPERTY_WAIT,
  type RecordParts,
  recordSizeBytes,
  SYSFLAG_TRANSACTION_NOT,
  TOPIC_V2_BYTES_MAX,
  wellFormed,
} from './format/commit_log_record.js';
import { encodeHostAddress } from './format/host_address.js';
import { PROPERTY_CRC32, withCrcReserve } from './format/record_crc.js';
import { takesQueueOffset } from './recovery/queue_offset_table.js';
import { PutMessageStatus } from './status.js';
import { recordBytesMax } from './config.js';

export interface MessageInput {
  topic: string;
  queueId: number;
  body: Uint8Array | string;
  tags?: string;
  keys?: string | string[];
  properties?: Record<string, string>;
  flag?: number;
  bornTimestamp?: number;
  bornHost?: string;
  sysFlag?: number;
  reconsumeTimes?: number;
}

export interface BatchInput {
  topic: string;
  queueId: number;
  messages: Array<{
    body: Uint8Array | string;
    tags?: string;
    keys?: string | string[];
    properties?: Record<string, string>;
    flag?: number;
  }>;
  bornHost?: string;
  bornTimestamp?: number;
}

/** A validated send: one record, or a batch that must land contiguously in one segment. */
export interface PreparedPut {
  topic: string;
  queueId: number;
  records: RecordParts[];
  sizeBytes: number;
  /** Takes queue offsets (NOT/COMMIT transaction type). */
  takesOffsets: boolean;
  /** SYNC_FLUSH waits for the fsync unless the message said WAIT=false. */
  waitFlush: boolean;
}

export interface PrepareLimits {
  maxMessageSize: number;
  segmentSizeBytes: number;
  storeHost: Uint8Array;
  /** enabledAppendPropCRC: reserve the appended record CRC (the writer fills it). */
  appendRecordCrc?: boolean;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const EMPTY = new Uint8Array(0);

function invalidArgument(message: string): StoreError {
  return new StoreError('E_INVALID_ARGUMENT', message);
}

function checkInt32(name: string, value: unknown, min = INT32_MIN): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > INT32_MAX) {
    throw invalidArgument(`${name} must be an integer in [${min}, ${INT32_MAX}], got ${describeValue(value)}`);
  }
  return value;
}

function checkOptionalInt32(name: string, value: unknown, fallback: number, min = INT32_MIN): number {
  return value === undefined ? fallback : checkInt32(name, value, min);
}

function checkTimestamp(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalidArgument(`${name} must be a safe integer (ms since the epoch), got ${describeValue(value)}`);
  }
  return value;
}

function checkBody(value: unknown): Uint8Array {
  if (typeof value === 'string') {
    // Stored as U+FFFD otherwise: the bytes acknowledged would not be the text sent.
    if (!wellFormed(value)) throw invalidArgument('body is not well-formed UTF-16 (a lone surrogate); send bytes instead');
    return Buffer.from(value, 'utf8');
  }
  if (value instanceof Uint8Array) return value;
  throw invalidArgument(`body must be a Uint8Array or a string, got ${value === null ? 'null' : typeof value}`);
}

function checkText(name: string, value: string): void {
  if (!wellFormed(value)) throw invalidArgument(`${name} is not well-formed UTF-16 (a lone surrogate)`);
  if (value.includes(NAME_VALUE_SEPARATOR) || value.includes(PROPERTY_SEPARATOR)) {
    throw invalidArgument(`${name} must not contain the property separators \\u0001 or \\u0002`);
  }
}

function checkStringProperty(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string, got ${typeof value}`);
  checkText(name, value);
  return value;
}

/** True for an array with a string at every index (every() would skip the holes of a sparse one). */
export function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false;
  return true;
}

function checkKeys(value: unknown): string | string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    checkText('keys', value);
    return value;
  }
  if (isStringArray(value)) {
    for (const k of value) checkText('keys', k);
    return value;
  }
  throw invalidArgument('keys must be a string or an array of strings');
}

function checkProperties(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  // Only a plain object: a Map (or any class instance) has no own entries to store, and its
  // properties would be dropped without a word.
  const plain = value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value));
  if (!plain) throw invalidArgument('properties must be a plain object of string values');
  for (const [name, v] of Object.entries(value as object)) {
    if (name.length === 0) throw invalidArgument('property names must not be empty');
    // The appended record CRC's name: a user value would be rewritten by the writer (or, on a
    // store that does not fill it, read as a CRC that fails). RocketMQ reserves it too.
    if (name === PROPERTY_CRC32) throw invalidArgument(`property ${PROPERTY_CRC32} is reserved for the appended record CRC`);
    if (typeof v !== 'string') throw invalidArgument(`property ${name} must be a string, got ${describeValue(v)}`);
    if (v.length === 0) throw invalidArgument(`property ${name} must not be empty (RocketMQ drops empty values)`);
    checkText(`property ${name}`, name);
    checkText(`property ${name}`, v);
  }
  return value as Record<string, string>;
}

/** The topic's UTF-8 bytes, or a status when RocketMQ would refuse it. */
function topicBytesOf(topic: unknown, cache: Map<string, Buffer>): Buffer | PutMessageStatus {
  if (typeof topic !== 'string') throw invalidArgument(`topic must be a string, got ${typeof topic}`);
  const cached = cache.get(topic);
  if (cached !== undefined) return cached;
  const bytes = Buffer.from(topic, 'utf8');
  // A lone surrogate would be stored as U+FFFD: two different topics would share one on disk.
  if (bytes.length === 0 || bytes.length > TOPIC_V2_BYTES_MAX || !wellFormed(topic)) return PutMessageStatus.MESSAGE_ILLEGAL;
  if (cache.size >= 4096) cache.clear();
  cache.set(topic, bytes);
  return bytes;
}

function hostBytesOf(host: unknown, fallback: Uint8Array, cache: Map<string, Buffer>): Uint8Array {
  if (host === undefined) return fallback;
  if (typeof host !== 'string') throw invalidArgument('bornHost must be a string like "10.0.0.1:52000"');
  let bytes = cache.get(host);
  if (bytes === undefined) {
    bytes = encodeHostAddress(host, 'bornHost');
    if (cache.size >= 1024) cache.clear();
    cache.set(host, bytes);
  }
  return bytes;
}

export class PutPreparer {
  private readonly topicCache = new Map<string, Buffer>();
  private readonly hostCache = new Map<string, Buffer>();
  limits: PrepareLimits;

  constructor(limits: PrepareLimits) {
    this.limits = limits;
  }

  /** A single message; returns a status when RocketMQ would refuse it. */
  prepareMessage(msg: MessageInput): PreparedPut | PutMessageStatus {
    if (msg === null || typeof msg !== 'object') throw invalidArgument('putMessage needs a message object');
    const topic = topicBytesOf(msg.topic, this.topicCache);
    const queueId = checkInt32('queueId', msg.queueId, 0);
    const body = checkBody(msg.body);
    const tags = checkStringProperty('tags', msg.tags);
    const keys = checkKeys(msg.keys);
    const properties = checkProperties(msg.properties);
    const flag = checkOptionalInt32('flag', msg.flag, 0);
    const sysFlag = checkOptionalInt32('sysFlag', msg.sysFlag, 0);
    const reconsumeTimes = checkOptionalInt32('reconsumeTimes', msg.reconsumeTimes, 0, 0);
    const bornHost = hostBytesOf(msg.bornHost, this.limits.storeHost, this.hostCache);
    const bornTimestamp = checkTimestamp('bornTimestamp', msg.bornTimestamp, Date.now());
    if (typeof topic === 'string') return topic;
    const record = this.record(body, topic, tags, keys, properties, flag, sysFlag, bornHost, bornTimestamp, reconsumeTimes, queueId);
    if (typeof record === 'string') return record;
    const status = this.checkPlacement(record.size);
    if (status !== null) return status;
    return {
      topic: msg.topic,
      queueId,
      records: [record.parts],
      sizeBytes: record.size,
      takesOffsets: takesQueueOffset(sysFlag),
      waitFlush: properties?.[PROPERTY_WAIT] !== 'false',
    };
  }

  /** A batch: every message goes in, contiguously, or none does. */
  prepareBatch(batch: BatchInput): PreparedPut | PutMessageStatus {
    if (batch === null || typeof batch !== 'object') throw invalidArgument('putMessages needs a batch object');
    const topic = topicBytesOf(batch.topic, this.topicCache);
    const queueId = checkInt32('queueId', batch.queueId, 0);
    if (!Array.isArray(batch.messages) || batch.messages.length === 0) {
      throw invalidArgument('batch.messages must be a non-empty array');
    }
    const bornHost = hostBytesOf(batch.bornHost, this.limits.storeHost, this.hostCache);
    const bornTimestamp = checkTimestamp('bornTimestamp', batch.bornTimestamp, Date.now());
    // An index loop, not map(): map() skips the holes of a sparse array, which then reach the
    // encoder as undefined.
    const checked = [];
    for (let i = 0; i < batch.messages.length; i++) {
      const m: unknown = batch.messages[i];
      if (m === null || typeof m !== 'object') throw invalidArgument(`batch.messages[${i}] must be an object`);
      const message = m as BatchInput['messages'][number];
      checked.push({
        body: checkBody(message.body),
        tags: checkStringProperty('tags', message.tags),
        keys: checkKeys(message.keys),
        properties: checkProperties(message.properties),
        flag: checkOptionalInt32('flag', message.flag, 0),
      });
    }
    if (typeof topic === 'string') return topic;
    const records: RecordParts[] = [];
    let sizeBytes = 0;
    let waitFlush = false;
    for (const m of checked) {
      // RocketMQ refuses batches of delayed messages; transaction flags cannot be given here.
      if (m.properties?.['DELAY'] !== undefined) return PutMessageStatus.MESSAGE_ILLEGAL;
      const record = this.record(m.body, topic, m.tags, m.keys, m.properties, m.flag, SYSFLAG_TRANSACTION_NOT, bornHost, bornTimestamp, 0, queueId);
      if (typeof record === 'string') return record;
      records.push(record.parts);
      sizeBytes += record.size;
      waitFlush ||= m.properties?.[PROPERTY_WAIT] !== 'false';
    }
    if (sizeBytes > this.limits.maxMessageSize) return PutMessageStatus.MESSAGE_ILLEGAL;
    const status = this.checkPlacement(sizeBytes);
    if (status !== null) return status;
    return { topic: batch.topic, queueId, records, sizeBytes, takesOffsets: true, waitFlush };
  }

  private record(
    body: Uint8Array,
    topic: Buffer,
    tags: string | undefined,
    keys: string | string[] | undefined,
    properties: Record<string, string> | undefined,
    flag: number,
    sysFlag: number,
    bornHost: Uint8Array,
    bornTimestamp: number,
    reconsumeTimes: number,
    queueId: number,
  ): { parts: RecordParts; size: number } | PutMessageStatus {
    if (body.length > this.limits.maxMessageSize) return PutMessageStatus.MESSAGE_ILLEGAL;
    let propertiesText = tags === undefined && keys === undefined && properties === undefined
      ? '' : buildPropertiesString(tags, keys, properties);
    // Counted in the 32767-byte properties limit, as RocketMQ counts it.
    if (this.limits.appendRecordCrc === true) propertiesText = withCrcReserve(propertiesText);
    const propertiesBytes = propertiesText.length === 0 ? EMPTY : Buffer.from(propertiesText, 'utf8');
    if (propertiesBytes.length > PROPERTIES_BYTES_MAX) return PutMessageStatus.PROPERTIES_SIZE_EXCEEDED;
    const size = recordSizeBytes(body.length, topic.length, propertiesBytes.length, bornHost.length, this.limits.storeHost.length);
    if (size > recordBytesMax(this.limits.maxMessageSize)) return PutMessageStatus.MESSAGE_ILLEGAL;
    const parts: RecordParts = {
      queueId,
      flag,
      queueOffset: 0,
      physicalOffset: 0,
      sysFlag,
      bornTimestamp,
      bornHost,
      storeTimestamp: 0,
      storeHost: this.limits.storeHost,
      reconsumeTimes,
      preparedTransactionOffset: 0,
      body,
      // BODYCRC is filled in by the writer worker, off the main thread (GroupCommitter.stage).
      bodyCrc: 0,
      topic,
      properties: propertiesBytes,
    };
    return { parts, size };
  }

  /** A record or batch that can never fit a segment next to its BLANK is illegal. */
  private checkPlacement(sizeBytes: number): PutMessageStatus | null {
    return sizeBytes + BLANK_RECORD_BYTES > this.limits.segmentSizeBytes ? PutMessageStatus.MESSAGE_ILLEGAL : null;
  }
}
