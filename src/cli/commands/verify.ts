// `mqstore verify <storeDir>`: checks a store without opening it (no lock, no workers).
//
//   CommitLog      every record of every segment: magic, lengths, body CRC, PHYSICALOFFSET =
//                  its position; segments are checked in parallel on a piscina pool (the task
//                  recovery uses, src/recovery/segment_scan_task.ts) and the rate is reported
//   consume queues every unit points at a record of its own topic, queue and queue offset, with
//                  its size, inside the valid log
//
// Every problem is printed as `PROBLEM <file> position <p> physicalOffset <o>: <reason>` (for a
// consume queue unit: its file and position, and the CommitLog offset it points at); the exit
// code is 1 when there is any. Index entries are not checked yet (issue 4, next step).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { decodeMessage } from '../../format/commit_log_record.js';
import { CQ_ENTRY_BYTES, consumeQueueEntryKind, readConsumeQueueEntry } from '../../format/consume_queue_entry.js';
import { parseSegmentName, segmentName } from '../../format/segment_name.js';
import { isEncodedTopicDir, isPlainTopicDir, TOPIC_NAME_FILE } from '../../format/topic_dir.js';
import { scanSegmentsInParallel } from '../../recovery/parallel_scan.js';

export interface VerifyResult {
  records: number;
  segments: number;
  scannedBytes: number;
  seconds: number;
  units: number;
  problems: string[];
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check every CommitLog record (magic, lengths, CRC, offset) and every consume queue unit against the CommitLog')
    .argument('<storeDir>', 'the store root (storePathRootDir)')
    .option('--threads <n>', 'segment scan threads (default: cores, at most 4)', (value: string) => {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new StoreError('E_INVALID_ARGUMENT', `--threads must be a positive integer, got ${JSON.stringify(value)}`);
      return Number(value);
    })
    .action(async (storeDir: string, options: { threads?: number }) => {
      const result = await verifyStore(storeDir, options.threads);
      for (const problem of result.problems) process.stdout.write(`PROBLEM ${problem}\n`);
      const gbPerSec = result.seconds > 0 ? result.scannedBytes / 1e9 / result.seconds : 0;
      process.stdout.write(
        `checked ${result.records} records in ${result.segments} segment(s), ${(result.scannedBytes / 1e6).toFixed(1)} MB in ` +
          `${result.seconds.toFixed(2)} s (${gbPerSec.toFixed(2)} GB/s); ${result.units} consume queue units; ` +
          `${result.problems.length} problem(s)\n`,
      );
      if (result.problems.length > 0) process.exitCode = 1;
    });
}

export async function verifyStore(storeDir: string, threads?: number): Promise<VerifyResult> {
  const commitLogDir = path.join(storeDir, 'commitlog');
  if (!fs.existsSync(commitLogDir)) throw new StoreError('E_STORE_DIR', `${storeDir} has no commitlog directory: not a store`);
  const segments = fs
    .readdirSync(commitLogDir)
    .map((name) => ({ startOffset: parseSegmentName(name), path: path.join(commitLogDir, name) }))
    .filter((s): s is { startOffset: number; path: string } => s.startOffset !== null)
    .sort((a, b) => a.startOffset - b.startOffset);
  const problems: string[] = [];
  const result: VerifyResult = { records: 0, segments: segments.length, scannedBytes: 0, seconds: 0, units: 0, problems };
  if (segments.length === 0) return result;
  const segmentSizeBytes = fs.statSync(segments[0]!.path).size;
  for (const segment of segments) {
    const size = fs.statSync(segment.path).size;
    if (size !== segmentSizeBytes) problems.push(`${segment.path} position 0 physicalOffset ${segment.startOffset}: segment is ${size} bytes, the first is ${segmentSizeBytes}`);
  }

  const startedNs = process.hrtime.bigint();
  const poolThreads = Math.max(1, Math.min(threads ?? Math.min(4, os.availableParallelism()), segments.length));
  const summaries = await scanSegmentsInParallel({ segments, segmentSizeBytes, verifyCrc: true, storage: undefined }, poolThreads);
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
  result.units = verifyConsumeQueues(path.join(storeDir, 'consumequeue'), commitLogDir, segmentSizeBytes, logMin, logEnd, problems);
  return result;
}

/** Checks every unit of every queue against the record it points at; returns the units checked. */
function verifyConsumeQueues(
  consumeQueueDir: string,
  commitLogDir: string,
  segmentSizeBytes: number,
  logMin: number,
  logEnd: number,
  problems: string[],
): number {
  if (!fs.existsSync(consumeQueueDir)) return 0;
  const records = new RecordReader(commitLogDir, segmentSizeBytes);
  let units = 0;
  try {
    for (const dirName of fs.readdirSync(consumeQueueDir).sort()) {
      const topicDir = path.join(consumeQueueDir, dirName);
      let topic: string | null = isPlainTopicDir(dirName) ? dirName : null;
      if (isEncodedTopicDir(dirName)) {
        const nameFile = path.join(topicDir, TOPIC_NAME_FILE);
        topic = fs.existsSync(nameFile) ? fs.readFileSync(nameFile, 'utf8') : null;
        if (topic === null) problems.push(`${topicDir} position 0 physicalOffset -1: encoded topic directory without its ${TOPIC_NAME_FILE} file`);
      }
      if (topic === null || !fs.statSync(topicDir).isDirectory()) continue;
      for (const queueName of fs.readdirSync(topicDir).filter((name) => /^\d{1,9}$/.test(name))) {
        const queueDir = path.join(topicDir, queueName);
        const files = fs
          .readdirSync(queueDir)
          .map((name) => ({ name, start: parseSegmentName(name) }))
          .filter((f): f is { name: string; start: number } => f.start !== null)
          .sort((a, b) => a.start - b.start);
        for (const file of files) {
          const full = path.join(queueDir, file.name);
          const bytes = fs.readFileSync(full);
          for (let at = 0; at + CQ_ENTRY_BYTES <= bytes.length; at += CQ_ENTRY_BYTES) {
            const entry = readConsumeQueueEntry(bytes, at);
            const kind = consumeQueueEntryKind(entry);
            if (kind === 'end') break;
            if (kind === 'filler') continue;
            units += 1;
            const queueOffset = (file.start + at) / CQ_ENTRY_BYTES;
            const where = `${full} position ${at} physicalOffset ${entry.physicalOffset}`;
            if (kind === 'invalid') {
              problems.push(`${where}: invalid unit (size ${entry.sizeBytes})`);
              continue;
            }
            if (entry.physicalOffset < logMin) continue; // Removed by retention: nothing to compare.
            if (entry.physicalOffset + entry.sizeBytes > logEnd) {
              problems.push(`${where}: points past the end of the valid log (${logEnd})`);
              continue;
            }
            const reason = records.mismatch(entry.physicalOffset, entry.sizeBytes, topic, Number(queueName), queueOffset);
            if (reason !== null) problems.push(`${where}: ${reason}`);
          }
        }
      }
    }
  } finally {
    records.close();
  }
  return units;
}

/** Reads single records by physical offset, keeping one segment open at a time. */
class RecordReader {
  private readonly dir: string;
  private readonly segmentSizeBytes: number;
  private fd = -1;
  private fdStart = -1;

  constructor(dir: string, segmentSizeBytes: number) {
    this.dir = dir;
    this.segmentSizeBytes = segmentSizeBytes;
  }

  /** Why the record at `physicalOffset` is not the unit's message, or null when it is. */
  mismatch(physicalOffset: number, sizeBytes: number, topic: string, queueId: number, queueOffset: number): string | null {
    const start = physicalOffset - (physicalOffset % this.segmentSizeBytes);
    if (physicalOffset - start + sizeBytes > this.segmentSizeBytes) return `unit of size ${sizeBytes} crosses a segment end`;
    if (start !== this.fdStart) {
      this.close();
      try {
        this.fd = fs.openSync(path.join(this.dir, segmentName(start)), 'r');
      } catch {
        return `segment ${segmentName(start)} is missing`;
      }
      this.fdStart = start;
    }
    const record = Buffer.allocUnsafe(sizeBytes);
    if (fs.readSync(this.fd, record, 0, sizeBytes, physicalOffset - start) !== sizeBytes) return 'record cut short';
    try {
      const message = decodeMessage(record, 0, false);
      if (message.storeSize !== sizeBytes) return `record size ${message.storeSize}, unit size ${sizeBytes}`;
      if (message.topic !== topic || message.queueId !== queueId || message.queueOffset !== queueOffset) {
        return `points at ${message.topic}/${message.queueId} queue offset ${message.queueOffset}, not ${topic}/${queueId} ${queueOffset}`;
      }
      return null;
    } catch (error) {
      return `does not point at a record (${(error as Error).message})`;
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.fdStart = -1;
  }
}
