// Java's String.hashCode(): h = 31 * h + c over UTF-16 code units, 32-bit two's complement.
// RocketMQ stores it as the ConsumeQueue tags code and uses it for index keys.

export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) {
    hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  }
  return hash;
}
