// `mqstore dump cq <storeDir> <topic> <queueId>`: every unit of one consume queue (the files
// under <storeDir>/consumequeue/<topicDirName(topic)>/<queueId>/, in order), one line per unit
// with its queue offset, file, position in the file and the three fields of
// src/format/consume_queue_entry.md. Filler units are marked; the dump stops at the first zero
// unit (the unwritten tail). A unit the reader would reject (kind 'invalid', or a physical offset
// below the end of the previous unit) is printed as INVALID with its file and position, and the
// command exits 1. The files are read directly; no store is opened (that would take its lock).

import fs from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { StoreError } from '../../errors.js';
import {
  CQ_ENTRY_BYTES,
  consumeQueueEntryInvalidReason,
  consumeQueueEntryKind,
  isTagsCodeExtAddress,
  readConsumeQueueEntry,
  type ConsumeQueueEntry,
} from '../../format/consume_queue_entry.js';
import { topicDirName } from '../../format/topic_dir.js';
import { offsetFiles } from '../store_files.js';

export interface DumpConsumeQueueOptions {
  /** First queue offset to print (units before it are not read). */
  from?: number;
  /** Queue offset to stop before. */
  to?: number;
}

interface QueueFile {
  file: string;
  /** The file's start byte offset in the queue's file sequence (its name). */
  startBytes: number;
}

/** What the walk has seen so far, across files. */
interface DumpState {
  units: number;
  fillers: number;
  problems: number;
  queueOffsetMin: number | null;
  queueOffsetMax: number | null;
  /** End (physical offset + size) of the last unit that passed its checks; 0 before the first. */
  physicalEnd: number;
  ended: boolean;
}

/** Units read per pread: 4 MiB worth. */
const READ_UNITS = 209715;

export function registerDumpConsumeQueue(dump: Command): void {
  dump
    .command('cq')
    .description('every unit of one consume queue: queue offset, file, position, physical offset, size, tags code')
    .argument('<storeDir>', 'the store directory (storePathRootDir)')
    .argument('<topic>', 'the topic (its directory name is derived as the store does)')
    .argument('<queueId>', 'the queue id', parseQueueId)
    .option('--from <queueOffset>', 'first queue offset to print', parseQueueOffset)
    .option('--to <queueOffset>', 'queue offset to stop before', parseQueueOffset)
    .action((storeDir: string, topic: string, queueId: number, options: DumpConsumeQueueOptions) => {
      const problems = dumpConsumeQueue(storeDir, topic, queueId, options, (line) => process.stdout.write(`${line}\n`));
      if (problems > 0) process.exitCode = 1;
    });
}

function parseQueueId(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 2147483647) {
    throw new InvalidArgumentError(`a queue id must be an integer in [0, 2147483647], got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function parseQueueOffset(value: string): number {
  // queueOffset × 20 must stay a safe integer (it is a byte position).
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value) * CQ_ENTRY_BYTES)) {
    throw new InvalidArgumentError(`a queue offset must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Writes the dump through `print`; returns the number of invalid units found. */
export function dumpConsumeQueue(
  storeDir: string,
  topic: string,
  queueId: number,
  options: DumpConsumeQueueOptions,
  print: (line: string) => void,
): number {
  const queueDir = path.join(storeDir, 'consumequeue', topicDirName(topic), String(queueId));
  const files = queueFilesOf(queueDir, topic, queueId);
  print(`queue: ${queueDir} topic: ${JSON.stringify(topic)} queueId: ${queueId} files: ${files.length}`);
  const state: DumpState = {
    units: 0,
    fillers: 0,
    problems: 0,
    queueOffsetMin: null,
    queueOffsetMax: null,
    physicalEnd: 0,
    ended: false,
  };
  const fromBytes = (options.from ?? 0) * CQ_ENTRY_BYTES;
  const toBytes = options.to === undefined ? Number.POSITIVE_INFINITY : options.to * CQ_ENTRY_BYTES;
  let expectedStart: number | null = null;
  for (const [i, queueFile] of files.entries()) {
    if (state.ended) {
      print(`note: ${files.length - i} later file(s) after the end were not read, the first ${queueFile.file}`);
      break;
    }
    const sizeBytes = fs.statSync(queueFile.file).size;
    const endBytes = queueFile.startBytes + sizeBytes - (sizeBytes % CQ_ENTRY_BYTES);
    if (expectedStart !== null && queueFile.startBytes !== expectedStart) {
      state.problems++;
      print(`INVALID file: ${queueFile.file} position: 0: gap, the previous file ends at byte ${expectedStart} of the queue`);
    }
    expectedStart = queueFile.startBytes + sizeBytes;
    if (sizeBytes % CQ_ENTRY_BYTES !== 0) {
      state.problems++;
      print(`INVALID file: ${queueFile.file} position: ${sizeBytes - (sizeBytes % CQ_ENTRY_BYTES)}: size ${sizeBytes} is not a multiple of 20`);
    }
    if (endBytes <= fromBytes) continue;
    if (queueFile.startBytes >= toBytes) break;
    dumpFile(queueFile, Math.max(queueFile.startBytes, fromBytes), Math.min(endBytes, toBytes), state, print);
  }
  print(
    `units ${state.units}, fillers ${state.fillers}, invalid ${state.problems}, ` +
      `minQueueOffset ${state.queueOffsetMin ?? 'none'}, maxQueueOffset ${state.queueOffsetMax ?? 'none'}`,
  );
  return state.problems;
}

function queueFilesOf(queueDir: string, topic: string, queueId: number): QueueFile[] {
  if (!fs.existsSync(queueDir)) {
    throw new StoreError('E_INVALID_ARGUMENT', `no consume queue for topic ${JSON.stringify(topic)} queue ${queueId}: ${queueDir} does not exist`);
  }
  return offsetFiles(queueDir).map((file) => ({ file: file.path, startBytes: file.start }));
}

/** Dumps the units of byte range [fromBytes, toBytes) of the queue, all inside `queueFile`. */
function dumpFile(queueFile: QueueFile, fromBytes: number, toBytes: number, state: DumpState, print: (line: string) => void): void {
  const name = path.basename(queueFile.file);
  const buffer = Buffer.allocUnsafe(READ_UNITS * CQ_ENTRY_BYTES);
  const fd = fs.openSync(queueFile.file, 'r');
  try {
    let chunkBytes = fromBytes;
    while (chunkBytes < toBytes) {
      const wantBytes = Math.min(buffer.length, toBytes - chunkBytes);
      const readBytes = fs.readSync(fd, buffer, 0, wantBytes, chunkBytes - queueFile.startBytes);
      const unitsRead = Math.floor(readBytes / CQ_ENTRY_BYTES);
      for (let unit = 0; unit < unitsRead; unit++) {
        const bytePosition = chunkBytes + unit * CQ_ENTRY_BYTES;
        const entry = readConsumeQueueEntry(buffer, unit * CQ_ENTRY_BYTES);
        const where = `file: ${name} position: ${bytePosition - queueFile.startBytes}`;
        if (!dumpUnit(queueFile, bytePosition, where, entry, state, print)) return;
      }
      if (readBytes < wantBytes) return; // the file is shorter than its stat said; nothing more to read
      chunkBytes += unitsRead * CQ_ENTRY_BYTES;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Prints one unit and updates `state`; false once the end of written data is reached. */
function dumpUnit(
  queueFile: QueueFile,
  bytePosition: number,
  where: string,
  entry: ConsumeQueueEntry,
  state: DumpState,
  print: (line: string) => void,
): boolean {
  const queueOffset = bytePosition / CQ_ENTRY_BYTES;
  const fields = `physicalOffset: ${entry.physicalOffset} size: ${entry.sizeBytes} tagsCode: ${entry.tagsCode}`;
  const kind = consumeQueueEntryKind(entry);
  switch (kind) {
    case 'end':
      state.ended = true;
      print(`queueOffset: ${queueOffset} ${where} end: zero unit (unwritten tail)`);
      return false;
    case 'filler':
      state.fillers++;
      print(`queueOffset: ${queueOffset} ${where} ${fields} filler: yes`);
      return true;
    case 'invalid':
    case 'unit': {
      let reason = kind === 'invalid' ? consumeQueueEntryInvalidReason(entry) : null;
      if (reason === null && entry.physicalOffset < state.physicalEnd) {
        reason = `physicalOffset ${entry.physicalOffset} is below the previous unit's end ${state.physicalEnd}`;
      }
      if (reason !== null) {
        state.problems++;
        print(`INVALID queueOffset: ${queueOffset} file: ${queueFile.file} position: ${bytePosition - queueFile.startBytes} ${fields}: ${reason}`);
        return true; // units are fixed-size, so the next one still lines up
      }
      state.units++;
      state.queueOffsetMin ??= queueOffset;
      state.queueOffsetMax = queueOffset;
      state.physicalEnd = entry.physicalOffset + entry.sizeBytes;
      const ext = isTagsCodeExtAddress(entry.tagsCode) ? ' (ConsumeQueueExt address)' : '';
      print(`queueOffset: ${queueOffset} ${where} ${fields}${ext} filler: no`);
      return true;
    }
  }
}

