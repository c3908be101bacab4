// CommitLog record codec: RocketMQ's message record, big-endian. See ./commit_log_record.md.
//
//   segment := record* blank? zero-fill
//   record  := TOTALSIZE MAGIC BODYCRC QUEUEID FLAG QUEUEOFFSET PHYSICALOFFSET SYSFLAG
//              BORNTIMESTAMP BORNHOST STORETIMESTAMP STOREHOST RECONSUMETIMES
//              PREPAREDTRANSACTIONOFFSET BODYLEN BODY TOPICLEN TOPIC PROPLEN PROPERTIES
//   blank   := TOTALSIZE(= bytes left in the segment) BLANK_MAGIC
//
// Pure functions only: no I/O. The hot path (writeRecord) takes pre-encoded byte parts so the
// main thread encodes each topic and host once.

import { crc32 } from 'node:zlib';
import { assert } from '../assert.js';
import { describeValue, StoreError } from '../errors.js';
import { decodeHostAddress, encodeHostAddress, IPV4_HOST_BYTES, IPV6_HOST_BYTES } from './host_address.js';
import { checkRecordCrc } from './record_crc.js';

// Magic codes: embedded on disk — never renumber.
export const MAGIC_V1 = 0xdaa320a7 | 0; // -626843481
export const MAGIC_V2 = 0xdaa320ab | 0; // -626843477
export const MAGIC_BLANK = 0xcbd43194 | 0; // -875286124

/** A segment always keeps room for an 8-byte BLANK header after its last record. */
export const BLANK_RECORD_BYTES = 8;

// Field positions that do not depend on the host address sizes.
export const POS_TOTALSIZE = 0;
export const POS_MAGIC = 4;
export const POS_BODYCRC = 8;
export const POS_QUEUEID = 12;
export const POS_FLAG = 16;
export const POS_QUEUEOFFSET = 20;
export const POS_PHYSICALOFFSET = 28;
export const POS_SYSFLAG = 36;
export const POS_BORNTIMESTAMP = 40;
export const POS_BORNHOST = 48;

/** Bytes of a v1 record with IPv4 hosts and empty body, topic and properties. */
export const RECORD_FIXED_BYTES = 91;
export const PROPERTIES_BYTES_MAX = 32767;
export const TOPIC_V1_BYTES_MAX = 127;
export const TOPIC_V2_BYTES_MAX = 32767;
/** RocketMQ allows the record to exceed maxMessageSize (a body limit) by this much. */
export const RECORD_OVERHEAD_ALLOWANCE_BYTES = 64 * 1024;

// SYSFLAG bits (MessageSysFlag): embedded on disk — never renumber.
export const SYSFLAG_COMPRESSED = 0x1;
export const SYSFLAG_MULTI_TAGS = 0x2;
export const SYSFLAG_TRANSACTION_MASK = 0xc;
export const SYSFLAG_TRANSACTION_NOT = 0x0;
export const SYSFLAG_TRANSACTION_PREPARED = 0x4;
export const SYSFLAG_TRANSACTION_COMMIT = 0x8;
export const SYSFLAG_TRANSACTION_ROLLBACK = 0xc;
export const SYSFLAG_BORNHOST_V6 = 0x10;
export const SYSFLAG_STOREHOST_V6 = 0x20;

// Property separators and names (MessageConst).
export const NAME_VALUE_SEPARATOR = '\u0001';
export const PROPERTY_SEPARATOR = '\u0002';
export const PROPERTY_KEYS = 'KEYS';
export const PROPERTY_TAGS = 'TAGS';
export const PROPERTY_WAIT = 'WAIT';
export const PROPERTY_UNIQ_KEY = 'UNIQ_KEY';

const TWO_POW_32 = 4294967296;

// Load-time layout checks (the 91-byte overhead is the sum of the fixed fields).
assert(4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2 === RECORD_FIXED_BYTES);
assert(POS_BORNHOST === POS_BORNTIMESTAMP + 8);

/** A decoded record (RocketMQ MessageExt). */
export interface MessageExt {
  topic: string;
  queueId: number;
  flag: number;
  queueOffset: number;
  commitLogOffset: number;
  storeSize: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: string;
  storeTimestamp: number;
  storeHost: string;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  bodyCRC: number;
  body: Buffer;
  properties: Record<string, string>;
  tags: string | undefined;
  keys: string[];
  msgId: string;
}

/** The pre-encoded parts of one record; writeRecord lays them out. */
export interface RecordParts {
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  /** Without the host-v6 bits: writeRecord sets them from the host sizes. */
  sysFlag: number;
  bornTimestamp: number;
  bornHost: Uint8Array;
  storeTimestamp: number;
  storeHost: Uint8Array;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  body: Uint8Array;
  bodyCrc: number;
  topic: Uint8Array;
  properties: Uint8Array;
}

/** Position of STORETIMESTAMP in a record with this SYSFLAG (the born host may be IPv6). */
export function storeTimestampPosition(sysFlag: number): number {
  return POS_BORNHOST + (sysFlag & SYSFLAG_BORNHOST_V6 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES);
}

/** Position of the 4-byte BODY length in a record with this SYSFLAG (either host may be IPv6). */
export function bodyLengthPosition(sysFlag: number): number {
  const storeHostBytes = sysFlag & SYSFLAG_STOREHOST_V6 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES;
  // STORETIMESTAMP (8), STOREHOST, RECONSUMETIMES (4), PREPARED TRANSACTION OFFSET (8).
  return storeTimestampPosition(sysFlag) + 8 + storeHostBytes + 12;
}

/** Masked CRC32 of a body, as RocketMQ stores it (always ≥ 0). */
export function bodyCrc32(body: Uint8Array): number {
  return crc32(body) & 0x7fffffff;
}

export function topicLengthBytes(topicBytes: number): 1 | 2 {
  return topicBytes > TOPIC_V1_BYTES_MAX ? 2 : 1;
}

/** Total record size for the given part sizes. */
export function recordSizeBytes(
  bodyBytes: number,
  topicBytes: number,
  propertiesBytes: number,
  bornHostBytes: number,
  storeHostBytes: number,
): number {
  return (
    RECORD_FIXED_BYTES - 1 + topicLengthBytes(topicBytes) +
    (bornHostBytes - IPV4_HOST_BYTES) + (storeHostBytes - IPV4_HOST_BYTES) +
    bodyBytes + topicBytes + propertiesBytes
  );
}

export function partsSizeBytes(parts: RecordParts): number {
  return recordSizeBytes(
    parts.body.length, parts.topic.length, parts.properties.length,
    parts.bornHost.length, parts.storeHost.length,
  );
}

/**
 * Writes one record at `position` of `target` and returns its size. `target` must have room.
 * The caller has validated sizes (topic ≤ 32767 bytes, properties ≤ 32767 bytes). `view` is a
 * DataView over exactly `target` (callers on the hot path keep one: DataView stores compile to
 * single instructions, Buffer#writeInt32BE to checked byte stores).
 */
export function writeRecord(
  target: Buffer,
  position: number,
  parts: RecordParts,
  view = new DataView(target.buffer, target.byteOffset, target.byteLength),
): number {
  const topicBytes = parts.topic.length;
  const sizeBytes = partsSizeBytes(parts);
  assert(position + sizeBytes <= target.length, 'record does not fit the target buffer');
  assert(view.byteLength === target.byteLength, 'the view covers the target');
  const v2 = topicBytes > TOPIC_V1_BYTES_MAX;
  let sysFlag = parts.sysFlag & ~(SYSFLAG_BORNHOST_V6 | SYSFLAG_STOREHOST_V6);
  if (parts.bornHost.length === IPV6_HOST_BYTES) sysFlag |= SYSFLAG_BORNHOST_V6;
  if (parts.storeHost.length === IPV6_HOST_BYTES) sysFlag |= SYSFLAG_STOREHOST_V6;
  let p = position;
  view.setInt32(p, sizeBytes, false);
  view.setInt32(p + 4, v2 ? MAGIC_V2 : MAGIC_V1, false);
  view.setInt32(p + 8, parts.bodyCrc, false);
  view.setInt32(p + 12, parts.queueId, false);
  view.setInt32(p + 16, parts.flag, false);
  setInt64(view, p + 20, parts.queueOffset);
  setInt64(view, p + 28, parts.physicalOffset);
  view.setInt32(p + 36, sysFlag, false);
  setInt64(view, p + 40, parts.bornTimestamp);
  target.set(parts.bornHost, p + 48);
  p += 48 + parts.bornHost.length;
  setInt64(view, p, parts.storeTimestamp);
  target.set(parts.storeHost, p + 8);
  p += 8 + parts.storeHost.length;
  view.setInt32(p, parts.reconsumeTimes, false);
  setInt64(view, p + 4, parts.preparedTransactionOffset);
  view.setInt32(p + 12, parts.body.length, false);
  p += 16;
  target.set(parts.body, p);
  p += parts.body.length;
  if (v2) {
    view.setInt16(p, topicBytes, false);
    p += 2;
  } else {
    view.setInt8(p, topicBytes);
    p += 1;
  }
  target.set(parts.topic, p);
  p += topicBytes;
  view.setInt16(p, parts.properties.length, false);
  target.set(parts.properties, p + 2);
  p += 2 + parts.properties.length;
  assert(p - position === sizeBytes, 'record layout and size disagree');
  return sizeBytes;
}

/** Big-endian signed 64-bit store of a safe integer through a DataView, without BigInt. */
function setInt64(view: DataView, position: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  view.setInt32(position, high | 0, false);
  view.setUint32(position + 4, value - high * TWO_POW_32, false);
}

/** Writes the 8-byte BLANK header that closes a segment with `bytesLeft` unused bytes. */
export function writeBlankRecord(target: Buffer, position: number, bytesLeft: number): void {
  assert(bytesLeft >= BLANK_RECORD_BYTES, 'a blank record needs 8 bytes');
  target.writeInt32BE(bytesLeft, position);
  target.writeInt32BE(MAGIC_BLANK, position + 4);
}

/** Big-endian signed 64-bit write of a safe integer without BigInt. */
export function writeInt64(target: Buffer, position: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  target.writeInt32BE(high | 0, position);
  target.writeUInt32BE(value - high * TWO_POW_32, position + 4);
}

/** Big-endian signed 64-bit read as a number (exact below 2^53). */
export function readInt64(source: Buffer, position: number): number {
  return source.readInt32BE(position) * TWO_POW_32 + source.readUInt32BE(position + 4);
}

/** Serialises properties as RocketMQ does: name\u0001value\u0002 per pair. */
export function propertiesToString(properties: Record<string, string>): string {
  let out = '';
  for (const name of Object.keys(properties)) {
    const value = properties[name];
    if (value === undefined || value === null) continue;
    out += name + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
  }
  return out;
}

/** Parses RocketMQ's properties string; fragments without a name or value are skipped. */
export function stringToProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf(PROPERTY_SEPARATOR, at);
    if (end < 0) end = text.length;
    const split = text.indexOf(NAME_VALUE_SEPARATOR, at);
    // A fragment needs a name and a value: name\u0001value.
    if (split > at && split < end - 1) setOwn(out, text.slice(at, split), text.slice(split + 1, end));
    at = end + 1;
  }
  return out;
}

/** Sets an own property, even for the name "__proto__" (plain assignment would hit the setter). */
function setOwn(target: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}

/** Upper-case two-digit hex of every byte value. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));

/** Upper-case hex of bytes [start, end). */
export function upperHex(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i++) out += HEX_BYTE[bytes[i]!]!;
  return out;
}

/** The 16 upper-case hex digits of a physical offset as an 8-byte big-endian long. */
export function offsetHex(physicalOffset: number): string {
  const high = Math.floor(physicalOffset / TWO_POW_32);
  const low = physicalOffset >>> 0;
  return (
    HEX_BYTE[(high >>> 24) & 0xff]! + HEX_BYTE[(high >>> 16) & 0xff]! + HEX_BYTE[(high >>> 8) & 0xff]! + HEX_BYTE[high & 0xff]! +
    HEX_BYTE[low >>> 24]! + HEX_BYTE[(low >>> 16) & 0xff]! + HEX_BYTE[(low >>> 8) & 0xff]! + HEX_BYTE[low & 0xff]!
  );
}

/** RocketMQ's offset message id: store host bytes + 8-byte physical offset, upper-case hex. */
export function offsetMsgId(storeHost: Uint8Array, physicalOffset: number): string {
  return upperHex(storeHost) + offsetHex(physicalOffset);
}

// ---------------------------------------------------------------------------------------------
// Public codec: encodeMessage / decodeMessage / decodeMessages.

export interface EncodeMessageInput {
  topic: string;
  queueId: number;
  body: Uint8Array | string;
  flag?: number;
  sysFlag?: number;
  queueOffset: number;
  commitLogOffset: number;
  bornTimestamp?: number;
  bornHost?: string;
  storeTimestamp: number;
  storeHost: string;
  reconsumeTimes?: number;
  preparedTransactionOffset?: number;
  tags?: string;
  keys?: string | string[];
  properties?: Record<string, string>;
}

/** Builds the stored properties: the given map, then TAGS and KEYS (which win over the map). */
export function buildPropertiesString(
  tags: string | undefined,
  keys: string | readonly string[] | undefined,
  properties: Record<string, string> | undefined,
): string {
  let out = '';
  if (properties !== undefined) {
    for (const name of Object.keys(properties)) {
      if (name === PROPERTY_TAGS && tags !== undefined) continue;
      if (name === PROPERTY_KEYS && keys !== undefined) continue;
      if (name === PROPERTY_WAIT) continue;
      const value = properties[name];
      if (value === undefined) continue;
      out += name + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
    }
  }
  if (tags !== undefined) out += PROPERTY_TAGS + NAME_VALUE_SEPARATOR + tags + PROPERTY_SEPARATOR;
  if (keys !== undefined) {
    const joined = typeof keys === 'string' ? keys : keys.join(' ');
    out += PROPERTY_KEYS + NAME_VALUE_SEPARATOR + joined + PROPERTY_SEPARATOR;
  }
  return out;
}

/** Encodes one complete record (for tools and tests; the store uses writeRecord directly). */
function invalidArgument(message: string): StoreError {
  return new StoreError('E_INVALID_ARGUMENT', message);
}

/** False for strings with a lone surrogate: UTF-8 cannot carry them, they would be stored as U+FFFD. */
export function wellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

function checkIntegerField(name: string, value: unknown, min: number, max: number, optional: boolean): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
}

function checkOptionalString(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || !wellFormed(value))) {
    throw invalidArgument(`${name} must be a well-formed string, got ${describeValue(value)}`);
  }
}

/** Every field of an encodeMessage input, checked before a byte is written: wrong types never wrap. */
function checkEncodeInput(msg: unknown): asserts msg is EncodeMessageInput {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw invalidArgument(`encodeMessage needs a message object, got ${describeValue(msg)}`);
  const m = msg as Record<string, unknown>;
  if (typeof m.topic !== 'string' || !wellFormed(m.topic)) throw invalidArgument(`topic must be a well-formed string, got ${describeValue(m.topic)}`);
  if (!(typeof m.body === 'string' ? wellFormed(m.body) : m.body instanceof Uint8Array)) {
    throw invalidArgument(`body must be a Uint8Array or a well-formed string, got ${describeValue(m.body)}`);
  }
  if (typeof m.storeHost !== 'string') throw invalidArgument(`storeHost must be "ip:port", got ${describeValue(m.storeHost)}`);
  if (m.bornHost !== undefined && typeof m.bornHost !== 'string') throw invalidArgument(`bornHost must be "ip:port", got ${describeValue(m.bornHost)}`);
  const INT32_MAX = 2147483647;
  checkIntegerField('queueId', m.queueId, 0, INT32_MAX, false);
  checkIntegerField('queueOffset', m.queueOffset, 0, Number.MAX_SAFE_INTEGER, false);
  checkIntegerField('commitLogOffset', m.commitLogOffset, 0, Number.MAX_SAFE_INTEGER, false);
  checkIntegerField('storeTimestamp', m.storeTimestamp, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, false);
  checkIntegerField('bornTimestamp', m.bornTimestamp, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  checkIntegerField('flag', m.flag, -INT32_MAX - 1, INT32_MAX, true);
  checkIntegerField('sysFlag', m.sysFlag, -INT32_MAX - 1, INT32_MAX, true);
  checkIntegerField('reconsumeTimes', m.reconsumeTimes, -INT32_MAX - 1, INT32_MAX, true);
  checkIntegerField('preparedTransactionOffset', m.preparedTransactionOffset, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  checkOptionalString('tags', m.tags);
  if (m.keys !== undefined && typeof m.keys !== 'string' && !(Array.isArray(m.keys) && m.keys.every((k) => typeof k === 'string'))) {
    throw invalidArgument(`keys must be a string or an array of strings, got ${describeValue(m.keys)}`);
  }
  if (m.properties !== undefined) {
    const p = m.properties;
    const plain = p !== null && typeof p === 'object' && !Array.isArray(p) && [Object.prototype, null].includes(Object.getPrototypeOf(p));
    if (!plain || !Object.values(p as object).every((v) => typeof v === 'string')) {
      throw invalidArgument(`properties must be a plain object of strings, got ${describeValue(p)}`);
    }
  }
}

function checkBytes(name: string, buf: unknown): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) throw invalidArgument(`${name} must be a Buffer or Uint8Array, got ${describeValue(buf)}`);
}

export function encodeMessage(msg: EncodeMessageInput): Buffer {
  checkEncodeInput(msg);
  const body = typeof msg.body === 'string' ? Buffer.from(msg.body, 'utf8') : msg.body;
  const storeHost = encodeHostAddress(msg.storeHost, 'storeHost');
  const bornHost = msg.bornHost === undefined ? storeHost : encodeHostAddress(msg.bornHost, 'bornHost');
  const topic = Buffer.from(msg.topic, 'utf8');
  const properties = Buffer.from(buildPropertiesString(msg.tags, msg.keys, msg.properties), 'utf8');
  if (topic.length === 0 || topic.length > TOPIC_V2_BYTES_MAX) {
    throw new StoreError('E_INVALID_ARGUMENT', `topic must be 1..${TOPIC_V2_BYTES_MAX} UTF-8 bytes`);
  }
  if (properties.length > PROPERTIES_BYTES_MAX) {
    throw new StoreError('E_INVALID_ARGUMENT', `properties exceed ${PROPERTIES_BYTES_MAX} bytes`);
  }
  const parts: RecordParts = {
    queueId: msg.queueId,
    flag: msg.flag ?? 0,
    queueOffset: msg.queueOffset,
    physicalOffset: msg.commitLogOffset,
    sysFlag: msg.sysFlag ?? 0,
    bornTimestamp: msg.bornTimestamp ?? msg.storeTimestamp,
    bornHost,
    storeTimestamp: msg.storeTimestamp,
    storeHost,
    reconsumeTimes: msg.reconsumeTimes ?? 0,
    preparedTransactionOffset: msg.preparedTransactionOffset ?? 0,
    body,
    bodyCrc: bodyCrc32(body),
    topic,
    properties,
  };
  const out = Buffer.alloc(partsSizeBytes(parts));
  writeRecord(out, 0, parts);
  return out;
}

function invalid(position: number, reason: string): StoreError {
  return new StoreError('E_RECORD_INVALID', `invalid record at byte ${position}: ${reason}`);
}

/**
 * Why the bytes at `position` are not one well-formed record, or null if they are.
 * `available` bounds the bytes that may be read. Checks magic, every length, the total size
 * against the field sizes and (when `verifyCrc`) the body CRC. BLANK records are not records.
 */
export function recordInvalidReason(
  buf: Buffer,
  position: number,
  available: number,
  verifyCrc: boolean,
  requireRecordCrc = false,
): string | null {
  if (available < 8) return 'fewer than 8 bytes';
  const totalSize = buf.readInt32BE(position);
  const magic = buf.readInt32BE(position + 4);
  if (magic !== MAGIC_V1 && magic !== MAGIC_V2) return `bad magic 0x${(magic >>> 0).toString(16)}`;
  if (totalSize < RECORD_FIXED_BYTES) return `total size ${totalSize} below the minimum`;
  if (totalSize > available) return `total size ${totalSize} exceeds the ${available} bytes available`;
  // The CRC covers only the body: a damaged QUEUEID or QUEUEOFFSET would otherwise reach the
  // consume queues and the queue offset table (which take int32 ≥ 0 and safe integers ≥ 0).
  const queueId = buf.readInt32BE(position + POS_QUEUEID);
  if (queueId < 0) return `queue id ${queueId} is negative`;
  const queueOffset = readInt64(buf, position + POS_QUEUEOFFSET);
  if (!Number.isSafeInteger(queueOffset) || queueOffset < 0) return `queue offset ${queueOffset} out of range`;
  const sysFlag = buf.readInt32BE(position + POS_SYSFLAG);
  const bodyLenPos = position + bodyLengthPosition(sysFlag);
  const end = position + totalSize;
  if (bodyLenPos + 4 > end) return 'body length beyond the record';
  const bodyBytes = buf.readInt32BE(bodyLenPos);
  if (bodyBytes < 0 || bodyLenPos + 4 + bodyBytes > end) return `body length ${bodyBytes} out of range`;
  const topicLenPos = bodyLenPos + 4 + bodyBytes;
  const topicLenBytes = magic === MAGIC_V2 ? 2 : 1;
  if (topicLenPos + topicLenBytes > end) return 'topic length beyond the record';
  const topicBytes = topicLenBytes === 2 ? buf.readInt16BE(topicLenPos) : buf.readInt8(topicLenPos);
  if (topicBytes < 1 || topicLenPos + topicLenBytes + topicBytes + 2 > end) {
    return `topic length ${topicBytes} out of range`;
  }
  const propsLenPos = topicLenPos + topicLenBytes + topicBytes;
  const propsBytes = buf.readInt16BE(propsLenPos);
  if (propsBytes < 0) return `properties length ${propsBytes} out of range`;
  if (propsLenPos + 2 + propsBytes !== end) {
    return `total size ${totalSize} disagrees with the field lengths (${propsLenPos + 2 + propsBytes - position})`;
  }
  if (requireRecordCrc) {
    // RocketMQ's forceVerifyPropCRC: the appended CRC covers the body too; it must be there.
    const check = checkRecordCrc(buf.subarray(position, end), totalSize);
    if (check !== 'ok') return check === 'absent' ? 'no appended record CRC (forceVerifyPropCRC)' : 'appended record CRC does not match';
  } else if (verifyCrc) {
    const stored = buf.readInt32BE(position + POS_BODYCRC);
    const actual = bodyCrc32(buf.subarray(bodyLenPos + 4, bodyLenPos + 4 + bodyBytes));
    if (stored !== actual) return `body CRC ${stored} does not match ${actual}`;
    // A record that carries the appended CRC (enabledAppendPropCRC) is held to it as well.
    if (checkRecordCrc(buf.subarray(position, end), totalSize) === 'mismatch') return 'appended record CRC does not match';
  }
  return null;
}

/**
 * Decodes the record at `offset`. Throws StoreError E_RECORD_INVALID if the bytes are not a
 * well-formed record (including a body CRC mismatch unless `verifyCrc` is false).
 */
export function decodeMessage(buf: Buffer | Uint8Array, offset = 0, verifyCrc = true): MessageExt {
  checkBytes('buf', buf);
  if (typeof offset !== 'number') throw invalidArgument(`offset must be a number, got ${describeValue(offset)}`);
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > view.length) {
    throw invalid(offset, 'offset outside the buffer');
  }
  const reason = recordInvalidReason(view, offset, view.length - offset, verifyCrc);
  if (reason !== null) throw invalid(offset, reason);
  return decodeValidRecord(view, offset);
}

function decodeValidRecord(buf: Buffer, position: number): MessageExt {
  const magic = buf.readInt32BE(position + POS_MAGIC);
  const sysFlag = buf.readInt32BE(position + POS_SYSFLAG);
  const bornV6 = (sysFlag & SYSFLAG_BORNHOST_V6) !== 0;
  const storeV6 = (sysFlag & SYSFLAG_STOREHOST_V6) !== 0;
  let p = position + POS_BORNHOST;
  const bornHost = decodeHostAddress(buf, p, bornV6);
  p += bornV6 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES;
  const storeTimestamp = readInt64(buf, p);
  p += 8;
  const storeHostStart = p;
  const storeHost = decodeHostAddress(buf, p, storeV6);
  p += storeV6 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES;
  const storeHostEnd = p;
  const reconsumeTimes = buf.readInt32BE(p);
  const preparedTransactionOffset = readInt64(buf, p + 4);
  const bodyBytes = buf.readInt32BE(p + 12);
  p += 16;
  // A copy: the message must not keep a larger read buffer alive (allocUnsafe + copy is a memcpy).
  const body = Buffer.allocUnsafe(bodyBytes);
  buf.copy(body, 0, p, p + bodyBytes);
  p += bodyBytes;
  const topicBytes = magic === MAGIC_V2 ? buf.readInt16BE(p) : buf.readInt8(p);
  p += magic === MAGIC_V2 ? 2 : 1;
  const topic = buf.toString('utf8', p, p + topicBytes);
  p += topicBytes;
  const propsBytes = buf.readInt16BE(p);
  const properties = stringToProperties(buf.toString('utf8', p + 2, p + 2 + propsBytes));
  const commitLogOffset = readInt64(buf, position + POS_PHYSICALOFFSET);
  const keysText = properties[PROPERTY_KEYS];
  return {
    topic,
    queueId: buf.readInt32BE(position + POS_QUEUEID),
    flag: buf.readInt32BE(position + POS_FLAG),
    queueOffset: readInt64(buf, position + POS_QUEUEOFFSET),
    commitLogOffset,
    storeSize: buf.readInt32BE(position + POS_TOTALSIZE),
    sysFlag,
    bornTimestamp: readInt64(buf, position + POS_BORNTIMESTAMP),
    bornHost,
    storeTimestamp,
    storeHost,
    reconsumeTimes,
    preparedTransactionOffset,
    bodyCRC: buf.readInt32BE(position + POS_BODYCRC),
    body,
    properties,
    tags: properties[PROPERTY_TAGS],
    keys: keysText === undefined ? [] : keysText.split(' ').filter((k) => k.length > 0),
    msgId: upperHex(buf, storeHostStart, storeHostEnd) + offsetHex(commitLogOffset),
  };
}

/**
 * Decodes consecutive records from the start of `buf`, stopping at a BLANK record, at zero
 * bytes (a preallocated tail) or at the end of the buffer. Throws E_RECORD_INVALID on a
 * malformed record.
 */
export function decodeMessages(buf: Buffer | Uint8Array, verifyCrc = true): MessageExt[] {
  checkBytes('buf', buf);
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: MessageExt[] = [];
  let position = 0;
  while (view.length - position >= 8) {
    const totalSize = view.readInt32BE(position);
    const magic = view.readInt32BE(position + 4);
    if (magic === MAGIC_BLANK) break;
    if (totalSize === 0 && magic === 0) break;
    out.push(decodeMessage(view, position, verifyCrc));
    position += totalSize;
  }
  return out;
}
