// RocketMQ 5's appended record CRC (`enabledAppendPropCRC`): the body CRC leaves the header,
// topic and properties unprotected, so a write torn inside them (a power cut) can pass as a
// valid record. With the option on, the last 20 bytes of the properties hold a CRC32 of the
// whole record before them:
//
//   ... properties ... [char 2 if the properties did not end with one]
//   "__CRC32#" (8 bytes)  char 1  ten ASCII digits, least significant first, zero padded  char 2
//   |<-------------------------------- 20 bytes (CRC32_RESERVED_BYTES) ------------------------->|
//
// The CRC is java.util.zip.CRC32 masked with 0x7FFFFFFF over bytes [0, totalSize − 20) of the
// record as stored (offsets, store time and body CRC included), so the writer fills it last.

import { crc32 } from 'node:zlib';

// The property separators (as in commit_log_record.ts, which imports this module).
const NAME_VALUE_SEPARATOR = '\u0001';
const PROPERTY_SEPARATOR = '\u0002';

export const PROPERTY_CRC32 = '__CRC32#';
export const CRC32_RESERVED_BYTES = 20;
const DIGITS = 10;
/** "__CRC32#" + char 1: the first 9 bytes of the reserve, which identify it. */
const RESERVE_HEAD = Buffer.from(PROPERTY_CRC32 + NAME_VALUE_SEPARATOR, 'latin1');
const SEPARATOR_BYTE = PROPERTY_SEPARATOR.charCodeAt(0);
const ZERO = 0x30;

/** The properties text with the reserve appended (digits zero until the writer fills them). */
export function withCrcReserve(properties: string): string {
  const separator = properties.length > 0 && !properties.endsWith(PROPERTY_SEPARATOR) ? PROPERTY_SEPARATOR : '';
  return `${properties}${separator}${PROPERTY_CRC32}${NAME_VALUE_SEPARATOR}${'0'.repeat(DIGITS)}${PROPERTY_SEPARATOR}`;
}

/** Whether the 20 bytes `tail` (a record's last 20) are a CRC reserve. */
export function isCrcReserve(tail: Uint8Array): boolean {
  if (tail.length !== CRC32_RESERVED_BYTES || tail[CRC32_RESERVED_BYTES - 1] !== SEPARATOR_BYTE) return false;
  for (let i = 0; i < RESERVE_HEAD.length; i++) if (tail[i] !== RESERVE_HEAD[i]) return false;
  return true;
}

/** Writes `crc` (masked, ≥ 0) into a reserve's digits, least significant digit first. */
export function writeCrcDigits(tail: Uint8Array, crc: number): void {
  let rest = crc;
  for (let i = 0; i < DIGITS; i++) {
    tail[RESERVE_HEAD.length + i] = ZERO + (rest % 10);
    rest = Math.floor(rest / 10);
  }
}

/** The CRC held by a reserve's digits, or −1 when they are not ten ASCII digits. */
export function readCrcDigits(tail: Uint8Array): number {
  let crc = 0;
  for (let i = DIGITS - 1; i >= 0; i--) {
    const digit = tail[RESERVE_HEAD.length + i]! - ZERO;
    if (digit < 0 || digit > 9) return -1;
    crc = crc * 10 + digit;
  }
  return crc;
}

/** Masked CRC32 of a record's bytes before its reserve. */
export function recordCrc(record: Uint8Array, totalSize: number): number {
  return crc32(record.subarray(0, totalSize - CRC32_RESERVED_BYTES)) & 0x7fffffff;
}

export type RecordCrcCheck = 'absent' | 'ok' | 'mismatch';

/**
 * Checks the appended CRC of the record `record[0, totalSize)`: absent, ok or mismatch. Digits
 * that are not ten ASCII digits, or that say 0, count as absent, as RocketMQ reads a value ≤ 0
 * (a reserve never filled; the one-in-2^31 record whose CRC is 0 goes unchecked).
 */
export function checkRecordCrc(record: Uint8Array, totalSize: number): RecordCrcCheck {
  if (totalSize < CRC32_RESERVED_BYTES || record.length < totalSize) return 'absent';
  const tail = record.subarray(totalSize - CRC32_RESERVED_BYTES, totalSize);
  if (!isCrcReserve(tail)) return 'absent';
  const stored = readCrcDigits(tail);
  if (stored <= 0) return 'absent';
  return stored === recordCrc(record, totalSize) ? 'ok' : 'mismatch';
}
