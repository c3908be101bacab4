// Socket addresses as RocketMQ stores them: 4-byte IPv4 or 16-byte IPv6 address followed by a
// 4-byte big-endian port. Text form is "ip:port" or "[ipv6]:port" (RFC 5952 canonical on output).

import { StoreError } from '../errors.js';

export const IPV4_HOST_BYTES = 8;
export const IPV6_HOST_BYTES = 20;

const PORT_MAX = 65535;

/** Encodes "1.2.3.4:5" or "[::1]:5" into 8 or 20 bytes. Throws E_INVALID_ARGUMENT on bad text. */
export function encodeHostAddress(text: string, what = 'host'): Buffer {
  if (typeof text !== 'string') {
    throw new StoreError('E_INVALID_ARGUMENT', `${what} must be a string like "127.0.0.1:10911"`);
  }
  const bad = (): never => {
    throw new StoreError(
      'E_INVALID_ARGUMENT',
      `${what} ${JSON.stringify(text)} is not "ip:port" or "[ipv6]:port"`,
    );
  };
  const colon = text.lastIndexOf(':');
  if (colon <= 0) bad();
  const port = parsePort(text.slice(colon + 1));
  if (port < 0) bad();
  const host = text.slice(0, colon);
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) bad();
    const address = parseIpv6(host.slice(1, -1));
    if (address === null) bad();
    const out = Buffer.alloc(IPV6_HOST_BYTES);
    out.set(address!, 0);
    out.writeInt32BE(port, 16);
    return out;
  }
  const address = parseIpv4(host);
  if (address === null) bad();
  const out = Buffer.alloc(IPV4_HOST_BYTES);
  out.set(address!, 0);
  out.writeInt32BE(port, 4);
  return out;
}

/** Decodes 8 or 20 bytes at `position` into "ip:port" / "[ipv6]:port". */
export function decodeHostAddress(buf: Uint8Array, position: number, ipv6: boolean): string {
  const view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!ipv6) {
    const port = view.readInt32BE(position + 4);
    return `${view[position]}.${view[position + 1]}.${view[position + 2]}.${view[position + 3]}:${port}`;
  }
  const port = view.readInt32BE(position + 16);
  return `[${formatIpv6(view.subarray(position, position + 16))}]:${port}`;
}

/** True when the encoded host is the 20-byte IPv6 form. */
export function isIpv6HostBytes(hostBytes: Uint8Array): boolean {
  return hostBytes.length === IPV6_HOST_BYTES;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) return -1;
  const port = Number(text);
  return port <= PORT_MAX ? port : -1;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    out[i] = value;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  if (zone >= 0) return null; // Zone ids cannot be stored in 16 bytes.
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap >= 0) {
    if (text.indexOf('::', gap + 1) >= 0) return null;
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const words: number[] = [];
  // A dotted IPv4 part may only stand in the last 32 bits: the end of the text.
  const pushGroups = (groups: string[], into: number[], endsText: boolean): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      if (endsText && i === groups.length - 1 && group.includes('.')) {
        const v4 = parseIpv4(group);
        if (v4 === null) return false;
        into.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
        into.push(parseInt(group, 16));
      }
    }
    return true;
  };
  const tailWords: number[] = [];
  if (!pushGroups(headGroups, words, gap < 0) || !pushGroups(tailGroups, tailWords, true)) return null;
  if (gap >= 0) {
    if (words.length + tailWords.length > 7) return null;
    while (words.length + tailWords.length < 8) words.push(0);
  }
  words.push(...tailWords);
  if (words.length !== 8) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (≥ 2) of zero words as "::". */
function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLength).join(':');
  return `${left}::${right}`;
}
