// `mqstore verify <storeDir>`: checks a store without opening it (no lock, no workers).
//
//   CommitLog      every record of every segment: magic, lengths, body CRC, PHYSICALOFFSET =
//                  its position; segments are checked in parallel on a piscina pool (the task
//                  recovery uses, src/recovery/segment_scan_task.ts) and the rate is reported
//   consume queues every unit points at a record of its own topic, queue and queue offset, with
//                  its size, inside the valid log
//   index files    every entry points at a record inside the valid log that has a key (KEYS or
//                  UNIQ_KEY) with the entry's hash (layout: --slots/--entries, RocketMQ's defaults)
//
// Every problem is printed as `PROBLEM <file> position <p> physicalOffset <o>: <reason>` (for a
// consume queue unit: its file and position, and the CommitLog offset it points at); the exit
// code is 1 when there is any.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { StoreError } from '../../errors.js';
import { readInt64 } from '../../format/commit_log_record.js';
import {
  ENTRY_POS_KEY_HASH,
  ENTRY_POS_PHYSICAL_OFFSET,
  ENTRY_POS_PREV_INDEX,
  ENTRY_POS_TIME_DIFF,
  entryPosition,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEX_SLOT_BYTES,
  indexFileSizeBytes,
  MAX_HASH_SLOT_NUM_DEFAULT,
  MAX_INDEX_NUM_DEFAULT,
  readIndexHeader,
} from '../../format/hash_index.js';
import { CQ_ENTRY_BYTES, consumeQueueEntryKind, readConsumeQueueEntry } from '../../format/consume_queue_entry.js';
import { TOPIC_NAME_FILE } from '../../format/topic_dir.js';
import { RecordChecker } from '../../dispatcher/record_checker.js';
import { FsStorage } from '../../io/storage_fs.js';
import { scanSegmentsInParallel } from '../../recovery/parallel_scan.js';
import { ProgressLine } from '../progress.js';
import { offsetFiles, queueDirs } from '../store_files.js';

export interface VerifyResult {
  records: number;
  segments: number;
  scannedBytes: number;
  seconds: number;
  units: number;
  indexEntries: number;
  /** Things not checked, and why (an index file of another layout). */
  notes: string[];
  problems: string[];
}

export interface VerifyOptions {
  threads?: number | undefined;
  slots?: number | undefined;
  entries?: number | undefined;
  /**
   * forceVerifyPropCRC: every record must carry a matching appended record CRC (a store written
   * with enabledAppendPropCRC). Without it a record whose CRC reserve itself was damaged
   * reads as one without a CRC, and only its body CRC is checked.
   */
  requireRecordCrc?: boolean | undefined;
  /** Where to show progress (the command: stderr); none by default. */
  progress?: ProgressLine | undefined;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check every CommitLog record (magic, lengths, CRC, offset) and every consume queue unit against the CommitLog')
    .argument('<storeDir>', 'the store root (storePathRootDir)')
    .option('--threads <n>', 'segment scan threads (default: cores, at most 4)', positiveInteger('--threads'))
    .option('--slots <n>', 'maxHashSlotNum of the index files (default 5000000)', positiveInteger('--slots'))
    .option('--entries <n>', 'maxIndexNum of the index files (default 20000000)', positiveInteger('--entries'))
    .option('--require-record-crc', 'every record must carry the appended record CRC (a store with forceVerifyPropCRC)')
    .action(async (storeDir: string, options: VerifyOptions) => {
      const progress = new ProgressLine();
      let result: VerifyResult;
      try {
        result = await verifyStore(storeDir, { ...options, progress });
      } finally {
        progress.clear();
      }
      for (const note of result.notes) process.stdout.write(`NOTE ${note}\n`);
      for (const problem of result.problems) process.stdout.write(`PROBLEM ${problem}\n`);
      const gbPerSec = result.seconds > 0 ? result.scannedBytes / 1e9 / result.seconds : 0;
      process.stdout.write(
        `checked ${result.records} records in ${result.segments} segment(s), ${(result.scannedBytes / 1e6).toFixed(1)} MB in ` +
          `${result.seconds.toFixed(2)} s (${gbPerSec.toFixed(2)} GB/s); ${result.units} consume queue units; ${result.indexEntries} index entries; ` +
          `${result.problems.length} problem(s)\n`,
      );
      if (result.problems.length > 0) process.exitCode = 1;
    });
}

function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

export async function verifyStore(storeDir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const threads = options.threads;
  const commitLogDir = path.join(storeDir, 'commitlog');
  if (!fs.existsSync(commitLogDir)) throw new StoreError('E_STORE_DIR', `${storeDir} has no commitlog directory: not a store`);
  const segments = offsetFiles(commitLogDir).map((file) => ({ startOffset: file.start, path: file.path }));
  const problems: string[] = [];
  const result: VerifyResult = { records: 0, segments: segments.length, scannedBytes: 0, seconds: 0, units: 0, indexEntries: 0, notes: [], problems };
  if (segments.length === 0) return result;
  const segmentSizeBytes = fs.statSync(segments[0]!.path).size;
  for (const segment of segments) {
    const size = fs.statSync(segment.path).size;
    if (size !== segmentSizeBytes) problems.push(`${segment.path} position 0 physicalOffset ${segment.startOffset}: segment is ${size} bytes, the first is ${segmentSizeBytes}`);
  }

  const startedNs = process.hrtime.bigint();
  const poolThreads = Math.max(1, Math.min(threads ?? Math.min(4, os.availableParallelism()), segments.length));
  const progress = options.progress;
  let segmentsDone = 0;
  let bytesDone = 0;
  const onSegmentDone = (summary: { scannedBytes: number }): void => {
    segmentsDone++;
    bytesDone += summary.scannedBytes;
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    progress?.update(
      `verify: CommitLog ${segmentsDone}/${segments.length} segments, ${(bytesDone / 1e9).toFixed(2)} GB, ${(bytesDone / 1e9 / Math.max(seconds, 1e-9)).toFixed(2)} GB/s`,
      segmentsDone === segments.length,
    );
  };
  const summaries = await scanSegmentsInParallel(
    { segments, segmentSizeBytes, verifyCrc: true, requireRecordCrc: options.requireRecordCrc === true, storage: undefined, onSegmentDone },
    poolThreads,
  );
  result.seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  // The valid log: segment after segment while each closes with a BLANK; it ends where one stops.
  let logEnd = segments[0]!.startOffset;
  let ended = false;
  for (const segment of segments) {
    const summary = summaries.get(segment.startOffset)!;
    result.records += summary.recordCount;
    result.scannedBytes += summary.scannedBytes;
    const at = segment.startOffset + summary.endPosition;
    if (summary.stop.kind === 'invalid') {
      problems.push(`${segment.path} position ${summary.endPosition} physicalOffset ${at}: ${summary.stop.reason}`);
    } else if (ended && summary.recordCount > 0) {
      problems.push(`${segment.path} position 0 physicalOffset ${segment.startOffset}: holds records after the log ended at ${logEnd}`);
    }
    if (!ended) {
      logEnd = summary.stop.kind === 'blank' ? segment.startOffset + segmentSizeBytes : at;
      ended = summary.stop.kind !== 'blank';
    }
  }
  const logMin = segments[0]!.startOffset;
  const checker = new RecordChecker(new FsStorage(), commitLogDir, segmentSizeBytes);
  try {
    progress?.update('verify: consume queues against the CommitLog', true);
    result.units = verifyConsumeQueues(path.join(storeDir, 'consumequeue'), checker, logMin, logEnd, problems);
    progress?.update('verify: index entries against their records', true);
    const layout = { hashSlotNum: options.slots ?? MAX_HASH_SLOT_NUM_DEFAULT, indexNum: options.entries ?? MAX_INDEX_NUM_DEFAULT };
    result.indexEntries = verifyIndexFiles(path.join(storeDir, 'index'), layout, checker, logMin, logEnd, result);
  } finally {
    checker.close();
  }
  return result;
}

const INDEX_READ_BYTES = 1024 * 1024;

/**
 * Checks every entry of every index file against the record it points at (a key with the
 * entry's hash, the entry's time), and the file's structure: every slot and prevIndex points at
 * an older entry of the same slot, every entry is reached exactly once (from its slot or from
 * the next entry of its chain), and the header's counts and end agree with the entries. A
 * flipped slot or prevIndex hides keys from queryMessage without making any entry wrong, so
 * only the structure shows it. Returns the entries checked.
 */
function verifyIndexFiles(
  indexDir: string,
  layout: { hashSlotNum: number; indexNum: number },
  records: RecordChecker,
  logMin: number,
  logEnd: number,
  result: VerifyResult,
): number {
  if (!fs.existsSync(indexDir)) return 0;
  const expectedBytes = indexFileSizeBytes(layout.hashSlotNum, layout.indexNum);
  let checked = 0;
  for (const name of fs.readdirSync(indexDir).filter((n) => /^\d{17}$/.test(n)).sort()) {
    const file = path.join(indexDir, name);
    const size = fs.statSync(file).size;
    if (size !== expectedBytes) {
      result.notes.push(`${file}: ${size} bytes, not the ${expectedBytes} of ${layout.hashSlotNum} slots × ${layout.indexNum} entries; pass --slots/--entries to check it`);
      continue;
    }
    const fd = fs.openSync(file, 'r');
    try {
      checked += verifyIndexFile(fd, file, layout, records, logMin, logEnd, result.problems);
    } finally {
      fs.closeSync(fd);
    }
  }
  return checked;
}

function verifyIndexFile(
  fd: number,
  file: string,
  layout: { hashSlotNum: number; indexNum: number },
  records: RecordChecker,
  logMin: number,
  logEnd: number,
  problems: string[],
): number {
  const head = Buffer.alloc(INDEX_HEADER_BYTES);
  fs.readSync(fd, head, 0, INDEX_HEADER_BYTES, 0);
  const header = readIndexHeader(head);
  if (header.indexCount > layout.indexNum) {
    problems.push(`${file} position 36 physicalOffset -1: indexCount ${header.indexCount} exceeds maxIndexNum ${layout.indexNum}`);
    return 0;
  }
  const count = Math.max(1, header.indexCount); // Entries 1 … count − 1 are in use.
  const keyHashes = new Int32Array(count);
  const prevIndexes = new Int32Array(count);
  let firstPhysicalOffset = -1;
  let lastPhysicalOffset = -1;
  const chunk = Buffer.allocUnsafe(INDEX_READ_BYTES - (INDEX_READ_BYTES % INDEX_ENTRY_BYTES));
  for (let first = 1; first < count; ) {
    const n = Math.min(count - first, chunk.length / INDEX_ENTRY_BYTES);
    const at = entryPosition(layout.hashSlotNum, first);
    fs.readSync(fd, chunk, 0, n * INDEX_ENTRY_BYTES, at);
    for (let i = 0; i < n; i++) {
      const entry = first + i;
      const position = at + i * INDEX_ENTRY_BYTES;
      const keyHash = chunk.readInt32BE(i * INDEX_ENTRY_BYTES + ENTRY_POS_KEY_HASH);
      const physicalOffset = readInt64(chunk, i * INDEX_ENTRY_BYTES + ENTRY_POS_PHYSICAL_OFFSET);
      const timeDiff = chunk.readInt32BE(i * INDEX_ENTRY_BYTES + ENTRY_POS_TIME_DIFF);
      keyHashes[entry] = keyHash;
      prevIndexes[entry] = chunk.readInt32BE(i * INDEX_ENTRY_BYTES + ENTRY_POS_PREV_INDEX);
      if (entry === 1) firstPhysicalOffset = physicalOffset;
      lastPhysicalOffset = physicalOffset;
      if (physicalOffset < logMin) continue; // Removed by retention.
      const where = `${file} position ${position} physicalOffset ${physicalOffset}`;
      if (physicalOffset >= logEnd) {
        problems.push(`${where}: entry ${entry} points past the end of the valid log (${logEnd})`);
        continue;
      }
      const reason = records.keyMismatch(physicalOffset, keyHash) ?? (entry > 1 ? records.timeDiffMismatch(physicalOffset, header.beginTimestamp, timeDiff) : null);
      if (reason !== null) problems.push(`${where}: entry ${entry} ${reason}`);
    }
    first += n;
  }
  const slots = Buffer.allocUnsafe(layout.hashSlotNum * INDEX_SLOT_BYTES);
  fs.readSync(fd, slots, 0, slots.length, INDEX_HEADER_BYTES);
  // Every entry has exactly one way in: its slot (the newest of the slot) or the entry after it.
  const incoming = new Uint8Array(count);
  const slotOf = (entry: number): number => Math.abs(keyHashes[entry]!) % layout.hashSlotNum;
  let usedSlots = 0;
  for (let slot = 0; slot < layout.hashSlotNum; slot++) {
    const value = slots.readInt32BE(slot * INDEX_SLOT_BYTES);
    if (value === 0) continue;
    usedSlots += 1;
    const where = `${file} position ${INDEX_HEADER_BYTES + slot * INDEX_SLOT_BYTES} physicalOffset -1: slot ${slot}`;
    if (value < 0 || value >= count) problems.push(`${where} points at entry ${value}, outside 1 … ${count - 1}`);
    else if (slotOf(value) !== slot) problems.push(`${where} points at entry ${value}, whose key hash belongs to slot ${slotOf(value)}`);
    else incoming[value]! += 1;
  }
  for (let entry = 1; entry < count; entry++) {
    const prev = prevIndexes[entry]!;
    if (prev === 0) continue;
    const where = `${file} position ${entryPosition(layout.hashSlotNum, entry) + ENTRY_POS_PREV_INDEX} physicalOffset -1: entry ${entry}`;
    if (prev < 0 || prev >= entry) problems.push(`${where} has prevIndex ${prev}, not an older entry`);
    else if (slotOf(prev) !== slotOf(entry)) problems.push(`${where} has prevIndex ${prev}, an entry of slot ${slotOf(prev)}, not ${slotOf(entry)}`);
    else incoming[prev]! += 1;
  }
  for (let entry = 1; entry < count; entry++) {
    if (incoming[entry] === 1) continue;
    const where = `${file} position ${entryPosition(layout.hashSlotNum, entry)} physicalOffset -1: entry ${entry}`;
    problems.push(`${where} is reached ${incoming[entry]} times from slots and chains, not once`);
  }
  if (header.hashSlotCount !== usedSlots) {
    problems.push(`${file} position 32 physicalOffset -1: hashSlotCount ${header.hashSlotCount}, but ${usedSlots} slots are in use`);
  }
  // The first put sets the begin time to its message's store time; the end time is the last
  // message's, or (after a rewind) that time truncated to the second.
  const firstTime = count > 1 && firstPhysicalOffset >= logMin && firstPhysicalOffset < logEnd ? records.storeTimestampAt(firstPhysicalOffset) : null;
  if (typeof firstTime === 'number' && header.beginTimestamp !== firstTime) {
    problems.push(`${file} position 0 physicalOffset ${firstPhysicalOffset}: beginTimestamp ${header.beginTimestamp} is not the first entry's store time ${firstTime}`);
  }
  const lastTime = count > 1 && lastPhysicalOffset >= logMin && lastPhysicalOffset < logEnd ? records.storeTimestampAt(lastPhysicalOffset) : null;
  if (typeof lastTime === 'number' && !(header.endTimestamp <= lastTime && header.endTimestamp > lastTime - 1000)) {
    problems.push(`${file} position 8 physicalOffset ${lastPhysicalOffset}: endTimestamp ${header.endTimestamp} is not the last entry's store time ${lastTime}`);
  }
  if (count > 1 && header.beginPhyOffset !== firstPhysicalOffset) {
    problems.push(`${file} position 16 physicalOffset ${header.beginPhyOffset}: beginPhyOffset is not the first entry's physical offset ${firstPhysicalOffset}`);
  }
  if (count > 1 && header.endPhyOffset !== lastPhysicalOffset) {
    problems.push(`${file} position 24 physicalOffset ${header.endPhyOffset}: endPhyOffset is not the last entry's physical offset ${lastPhysicalOffset}`);
  }
  return count - 1;
}

/** Checks every unit of every queue against the record it points at; returns the units checked. */
function verifyConsumeQueues(consumeQueueDir: string, records: RecordChecker, logMin: number, logEnd: number, problems: string[]): number {
  let units = 0;
  for (const queue of queueDirs(consumeQueueDir)) {
    const topic = queue.topic;
    if (topic === null) {
      problems.push(`${queue.topicDir} position 0 physicalOffset -1: encoded topic directory without its ${TOPIC_NAME_FILE} file`);
      continue;
    }
    for (const file of offsetFiles(queue.dir)) {
      const bytes = fs.readFileSync(file.path);
      for (let at = 0; at + CQ_ENTRY_BYTES <= bytes.length; at += CQ_ENTRY_BYTES) {
        const entry = readConsumeQueueEntry(bytes, at);
        const kind = consumeQueueEntryKind(entry);
        if (kind === 'end') break;
        if (kind === 'filler') continue;
        units += 1;
        const queueOffset = (file.start + at) / CQ_ENTRY_BYTES;
        const where = `${file.path} position ${at} physicalOffset ${entry.physicalOffset}`;
        if (kind === 'invalid') {
          problems.push(`${where}: invalid unit (size ${entry.sizeBytes})`);
          continue;
        }
        if (entry.physicalOffset < logMin) continue; // Removed by retention: nothing to compare.
        if (entry.physicalOffset + entry.sizeBytes > logEnd) {
          problems.push(`${where}: points past the end of the valid log (${logEnd})`);
          continue;
        }
        const reason = records.unitMismatch(entry.physicalOffset, entry.sizeBytes, topic, queue.queueId, queueOffset, entry.tagsCode);
        if (reason !== null) problems.push(`${where}: ${reason}`);
      }
    }
  }
  return units;
}
