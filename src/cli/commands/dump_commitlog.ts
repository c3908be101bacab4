// `mqstore dump commitlog <segmentFile|commitlogDir>`: every record of one CommitLog segment, or
// of every segment of a directory in order, one line per record with every field (the format
// of src/format/commit_log_record.md). BLANK records and the zero tail are shown as such; a
// record that fails its checks (magic, lengths, CRC, PHYSICALOFFSET) is named by file, position
// and physical offset, and the command exits 1.

import fs from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { StoreError } from '../../errors.js';
import {
  BLANK_RECORD_BYTES,
  decodeMessage,
  MAGIC_BLANK,
  MAGIC_V2,
  POS_MAGIC,
  POS_PHYSICALOFFSET,
  readInt64,
  recordInvalidReason,
  RECORD_FIXED_BYTES,
} from '../../format/commit_log_record.js';
import { parseSegmentName } from '../../format/segment_name.js';

export interface DumpCommitLogOptions {
  /** First physical offset to print (records before it are skipped). */
  from?: number;
  /** Physical offset to stop before. */
  to?: number;
  printBody?: boolean;
  /** With printBody: the body as hex instead of UTF-8. */
  hex?: boolean;
}

interface Segment {
  file: string;
  startOffset: number;
}

const READ_BYTES = 4 * 1024 * 1024;

export function registerDumpCommitLog(dump: Command): void {
  dump
    .command('commitlog')
    .description('every record of a CommitLog segment file, or of every segment in a commitlog directory')
    .argument('<segmentFile|commitlogDir>', 'a segment (20-digit name) or the directory holding them')
    .option('--from <offset>', 'first physical offset to print', parseOffset)
    .option('--to <offset>', 'physical offset to stop before', parseOffset)
    .option('--print-body', 'print each body (UTF-8; with --hex as hex)')
    .option('--hex', 'with --print-body: the body as hex')
    .action((target: string, options: DumpCommitLogOptions) => {
      const problems = dumpCommitLog(target, options, (line) => process.stdout.write(`${line}\n`));
      if (problems > 0) process.exitCode = 1;
    });
}

function parseOffset(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError(`an offset must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Writes the dump through `print`; returns the number of invalid records found. */
export function dumpCommitLog(target: string, options: DumpCommitLogOptions, print: (line: string) => void): number {
  const segments = segmentsOf(target);
  let records = 0;
  let problems = 0;
  for (const segment of segments) {
    const sizeBytes = fs.statSync(segment.file).size;
    const fd = fs.openSync(segment.file, 'r');
    try {
      const result = dumpSegment(fd, segment, sizeBytes, options, print);
      records += result.records;
      problems += result.problems;
      if (result.problems > 0) break; // Past a bad record nothing can be trusted to line up.
    } finally {
      fs.closeSync(fd);
    }
  }
  print(`records ${records}, invalid ${problems}, segments ${segments.length}`);
  return problems;
}

function segmentsOf(target: string): Segment[] {
  let info: fs.Stats;
  try {
    info = fs.statSync(target);
  } catch (error) {
    throw new StoreError('E_INVALID_ARGUMENT', `cannot read ${target}: ${(error as Error).message}`);
  }
  const files = info.isDirectory() ? fs.readdirSync(target).map((name) => path.join(target, name)) : [target];
  const segments: Segment[] = [];
  for (const file of files) {
    const startOffset = parseSegmentName(path.basename(file));
    if (startOffset !== null) segments.push({ file, startOffset });
  }
  if (segments.length === 0) throw new StoreError('E_INVALID_ARGUMENT', `${target} is not a CommitLog segment (20-digit name) nor a directory of them`);
  return segments.sort((a, b) => a.startOffset - b.startOffset);
}

function dumpSegment(
  fd: number,
  segment: Segment,
  sizeBytes: number,
  options: DumpCommitLogOptions,
  print: (line: string) => void,
): { records: number; problems: number } {
  let buffer = Buffer.allocUnsafe(READ_BYTES);
  let bufferStart = -1;
  let bufferBytes = 0;
  /** Makes [position, position + length) of the file resident; returns its index in the buffer. */
  const window = (position: number, length: number): number => {
    if (position >= bufferStart && position + length <= bufferStart + bufferBytes) return position - bufferStart;
    if (length > buffer.length) buffer = Buffer.allocUnsafe(length);
    bufferBytes = fs.readSync(fd, buffer, 0, Math.min(buffer.length, sizeBytes - position), position);
    bufferStart = position;
    return 0;
  };
  let records = 0;
  let position = 0;
  while (position + BLANK_RECORD_BYTES <= sizeBytes) {
    const physicalOffset = segment.startOffset + position;
    if (options.to !== undefined && physicalOffset >= options.to) break;
    const at = window(position, BLANK_RECORD_BYTES);
    const totalSize = buffer.readInt32BE(at);
    const magic = buffer.readInt32BE(at + POS_MAGIC);
    if (totalSize === 0 && magic === 0) {
      print(`physicalOffset: ${physicalOffset} end: zero header (unwritten tail of ${path.basename(segment.file)})`);
      break;
    }
    if (magic === MAGIC_BLANK) {
      if (options.from === undefined || physicalOffset >= options.from) print(`physicalOffset: ${physicalOffset} BLANK size: ${totalSize}`);
      break;
    }
    const bytesLeft = sizeBytes - position;
    const sizeOk = totalSize >= RECORD_FIXED_BYTES && totalSize <= bytesLeft;
    const start = sizeOk ? window(position, totalSize) : at;
    let reason = sizeOk ? recordInvalidReason(buffer, start, totalSize, true) : `size ${totalSize} impossible with ${bytesLeft} bytes left`;
    if (reason === null && readInt64(buffer, start + POS_PHYSICALOFFSET) !== physicalOffset) {
      reason = `PHYSICALOFFSET ${readInt64(buffer, start + POS_PHYSICALOFFSET)} is not the record's position`;
    }
    if (reason !== null) {
      print(`INVALID file: ${segment.file} position: ${position} physicalOffset: ${physicalOffset}: ${reason}`);
      return { records, problems: 1 };
    }
    records += 1;
    if (options.from === undefined || physicalOffset >= options.from) print(describe(buffer, start, physicalOffset, options));
    position += totalSize;
  }
  return { records, problems: 0 };
}

function describe(buffer: Buffer, start: number, physicalOffset: number, options: DumpCommitLogOptions): string {
  const message = decodeMessage(buffer, start, false);
  const magic = buffer.readInt32BE(start + POS_MAGIC) === MAGIC_V2 ? 'V2' : 'V1';
  const fields = [
    `physicalOffset: ${physicalOffset}`,
    `size: ${message.storeSize}`,
    `magic: ${magic}`,
    `bodyCRC: ${message.bodyCRC}`,
    `queueId: ${message.queueId}`,
    `flag: ${message.flag}`,
    `queueOffset: ${message.queueOffset}`,
    `sysFlag: ${message.sysFlag}`,
    `bornTimestamp: ${message.bornTimestamp}`,
    `bornHost: ${message.bornHost}`,
    `storeTimestamp: ${message.storeTimestamp}`,
    `storeHost: ${message.storeHost}`,
    `reconsumeTimes: ${message.reconsumeTimes}`,
    `preparedTransactionOffset: ${message.preparedTransactionOffset}`,
    `msgId: ${message.msgId}`,
    `topic: ${JSON.stringify(message.topic)}`,
    `bodyLength: ${message.body.length}`,
    `properties: ${JSON.stringify(message.properties)}`,
  ];
  if (options.printBody === true) fields.push(`body: ${options.hex === true ? message.body.toString('hex') : JSON.stringify(message.body.toString('utf8'))}`);
  return fields.join(' ');
}
