// Segment file names are the segment's start offset, zero-padded to 20 decimal digits
// (RocketMQ UtilAll.offset2FileName), e.g. 00000000001073741824.

import { assert } from '../assert.js';

export const SEGMENT_NAME_DIGITS = 20;

export function segmentName(startOffset: number): string {
  assert(Number.isSafeInteger(startOffset) && startOffset >= 0, 'segment start must be a safe integer ≥ 0');
  return String(startOffset).padStart(SEGMENT_NAME_DIGITS, '0');
}

/** The start offset a name encodes, or null if the name is not a segment name. */
export function parseSegmentName(name: string): number | null {
  if (name.length !== SEGMENT_NAME_DIGITS || !/^\d+$/.test(name)) return null;
  const value = Number(name);
  return Number.isSafeInteger(value) ? value : null;
}
