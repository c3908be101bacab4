// `mqstore query <storeDir> --topic T --key K | --id MSGID | --offset N`: the message view of
// RocketMQ's mqadmin queryMsgByKey / queryMsgById / queryMsgByUniqueKey / queryMsgByOffset,
// read from the store's files. It never opens a MessageStore, takes no lock and writes nothing,
// so it also works while another process has the store open.
//
//   --topic T --key K            KEYS (space-separated) or UNIQ_KEY equal to K: the chain of
//                                `T#K` in every index file, newest file first; every hit is
//                                checked on its record (topic, key, store time), so hash
//                                collisions are dropped; at most --max (64), in [--begin, --end]
//   --id MSGID                   an offsetMsgId (store host + physical offset, 32 or 56 hex
//                                digits) when the record there is valid and has exactly that id;
//                                otherwise, with --topic, a UNIQ_KEY looked up like --key
//   --offset N                   the record starting at CommitLog (physical) offset N
//   --topic T --queue Q --offset N  the message at queue offset N of consume queue T/Q
//
// A record deleted by retention (its segment is gone), a unit below the first segment, a unit
// or offset that points at no valid record: "Message not found!" and exit code 1.
//
// Index layout: the files do not record their hashSlotNum/indexNum. Given --slots/--entries are
// used; otherwise RocketMQ's defaults when they account for the file size, else the layout is
// inferred from the file itself (inferIndexLayout), or the command asks for --slots/--entries.

import fs from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { StoreError } from '../../errors.js';
import {
  BLANK_RECORD_BYTES,
  decodeMessage,
  type MessageExt,
  POS_PHYSICALOFFSET,
  POS_TOTALSIZE,
  PROPERTY_KEYS,
  PROPERTY_UNIQ_KEY,
  readInt64,
  recordInvalidReason,
  RECORD_FIXED_BYTES,
} from '../../format/commit_log_record.js';
import {
  CQ_ENTRY_BYTES,
  consumeQueueEntryInvalidReason,
  consumeQueueEntryKind,
  readConsumeQueueEntry,
  type ConsumeQueueEntry,
} from '../../format/consume_queue_entry.js';
import {
  ENTRY_POS_KEY_HASH,
  ENTRY_POS_PHYSICAL_OFFSET,
  ENTRY_POS_PREV_INDEX,
  entryPosition,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  INDEX_INVALID,
  INDEX_NAME_DIGITS,
  INDEX_SLOT_BYTES,
  indexFileSizeBytes,
  indexKey,
  indexLayoutForSize,
  indexKeyHash,
  MAX_HASH_SLOT_NUM_DEFAULT,
  MAX_INDEX_NUM_DEFAULT,
  readIndexHeader,
  slotPosition,
  walkIndexChain,
  type HashIndexLayout,
  type IndexHeader,
} from '../../format/hash_index.js';
import { topicDirName } from '../../format/topic_dir.js';
import { offsetFiles } from '../store_files.js';

export interface QueryOptions {
  topic?: string;
  key?: string;
  id?: string;
  offset?: number;
  queue?: number;
  /** Most messages of a --key or unique-key search (default 64). */
  max?: number;
  /** Store-time bounds (epoch ms, inclusive) of a --key or unique-key search. */
  begin?: number;
  end?: number;
  /** Index layout (maxHashSlotNum / maxIndexNum); see the file comment. */
  slots?: number;
  entries?: number;
  json?: boolean;
  hex?: boolean;
  /** False with --no-body. */
  body?: boolean;
}

export interface QueryResult {
  /** Oldest first (CommitLog order). */
  messages: MessageExt[];
  /** Said on stderr: why a search could not be complete. */
  notes: string[];
}

/** mqadmin queryMsgByKey's -m default (and RocketMQ's maxMsgsNumBatch). */
export const QUERY_MAX_DEFAULT = 64;
/** An index file whose layout must be inferred is read whole; larger ones need --slots/--entries. */
const INDEX_INFER_BYTES_MAX = 64 * 1024 * 1024;
/** Index entries keep the store time in whole seconds after the file's beginTimestamp. */
const INDEX_TIME_SLACK_MS = 1000;
const INDEX_NAME_PATTERN = new RegExp(`^\\d{${INDEX_NAME_DIGITS}}$`);
const OFFSET_MSG_ID_PATTERN = /^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{56})$/;
const TWO_POW_32 = 4294967296;
/** The label column of mqadmin's printf("%-20s %s%n", …). */
const LABEL_WIDTH = 20;

const HELP_AFTER = `
Exactly one of --key, --id, --offset:
  --topic T --key K             messages of topic T whose KEYS (space-separated) or UNIQ_KEY is K,
                                through the index files (newest first); each hit is checked on its
                                record, so hash collisions are never shown
  --id MSGID                    an offsetMsgId (store host + CommitLog offset, 32 or 56 hex digits, as
                                putMessage returns it); if no record of this store has that id, MSGID
                                is taken as a unique key (UNIQ_KEY), which needs --topic
  --offset N                    N is a CommitLog (physical) offset: the record starting there
  --topic T --queue Q --offset N  N is a queue offset of consume queue T/Q (mqadmin queryMsgByOffset)

Each message is printed as mqadmin prints it (OffsetID:, Topic:, Tags:, … Properties:), then
"Message Body:" (UTF-8, --hex for hex, --no-body to leave out); messages are separated by a blank
line and followed by a count line. --json prints one JSON array of message objects instead, the
body base64 in "bodyBase64" (--hex does not apply). None found: "Message not found!" and exit
code 1. Index files are read with --slots/--entries, else RocketMQ's default layout when it fits
the file size, else the one layout the file's entries agree with. The files are only read: no
lock is taken, so a store open in another process can be queried.`;

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('find messages by key, message id, unique key, CommitLog offset or queue offset (read-only)')
    .argument('<storeDir>', 'the store root (storePathRootDir)')
    .option('--topic <topic>', 'the topic (needed by --key, a unique key and --queue)')
    .option('--key <key>', 'with --topic: messages whose KEYS or UNIQ_KEY is this key')
    .option('--id <msgId>', 'an offsetMsgId, or (with --topic) a unique key')
    .option('--offset <n>', 'a CommitLog offset, or with --topic/--queue a queue offset', nonNegativeInteger('--offset'))
    .option('--queue <queueId>', 'with --topic and --offset: the queue id', queueIdOption)
    .option('--max <n>', `most messages found by key or unique key (default ${QUERY_MAX_DEFAULT})`, positiveInteger('--max'))
    .option('--begin <epochMs>', 'earliest store time of a key or unique-key search', nonNegativeInteger('--begin'))
    .option('--end <epochMs>', 'latest store time of a key or unique-key search', nonNegativeInteger('--end'))
    .option('--slots <n>', 'maxHashSlotNum of the index files (default: 5000000, or inferred)', positiveInteger('--slots'))
    .option('--entries <n>', 'maxIndexNum of the index files (default: 20000000, or inferred)', positiveInteger('--entries'))
    .option('--hex', 'print the body as hex')
    .option('--no-body', 'leave the body out')
    .option('--json', 'print one JSON array of messages (body base64 in "bodyBase64")')
    .addHelpText('after', HELP_AFTER)
    .action(function (this: Command, storeDir: string, options: QueryOptions) {
      const usage = usageProblem(options);
      if (usage !== null) this.error(`error: ${usage}`, { exitCode: 2, code: 'mqstore.usage' });
      const result = queryStore(storeDir, options);
      for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
      if (result.messages.length === 0) {
        process.stdout.write('Message not found!\n');
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${formatMessages(result.messages, options).join('\n')}\n`);
    });
}

function nonNegativeInteger(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
}

function positiveInteger(name: string): (value: string) => number {
  const parse = nonNegativeInteger(name);
  return (value) => {
    const n = parse(value);
    if (n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

function queueIdOption(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 2147483647) {
    throw new InvalidArgumentError(`--queue must be an integer in [0, 2147483647], got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** What is wrong with the combination of options, or null. */
export function usageProblem(options: QueryOptions): string | null {
  const modes = [options.key, options.id, options.offset].filter((value) => value !== undefined).length;
  if (modes !== 1) return 'give exactly one of --key, --id, --offset';
  if (options.topic === '') return '--topic must not be empty';
  if (options.key !== undefined) {
    if (options.key === '') return '--key must not be empty';
    if (options.topic === undefined) return '--key needs --topic (the index key is topic#key)';
  }
  if (options.id === '') return '--id must not be empty';
  if (options.id !== undefined && options.topic === undefined && !OFFSET_MSG_ID_PATTERN.test(options.id)) {
    const what = `--id ${JSON.stringify(options.id)} is not an offsetMsgId (32 or 56 hex digits)`;
    return `${what}; to look it up as a unique key give --topic`;
  }
  if (options.queue !== undefined && (options.offset === undefined || options.topic === undefined)) {
    return '--queue goes with --topic and --offset (a queue offset)';
  }
  if (options.offset !== undefined) {
    if (options.max !== undefined || options.begin !== undefined || options.end !== undefined) {
      return '--max, --begin and --end go with --key or --id';
    }
    const bytePosition = options.offset * CQ_ENTRY_BYTES;
    if (options.queue !== undefined && !Number.isSafeInteger(bytePosition)) return '--offset is too large for a queue offset';
  }
  if (options.begin !== undefined && options.end !== undefined && options.begin > options.end) return '--begin is after --end';
  return null;
}

/** Runs the query (the options must pass usageProblem). Throws E_STORE_DIR when `storeDir` is not a store. */
export function queryStore(storeDir: string, options: QueryOptions): QueryResult {
  const commitLogDir = path.join(storeDir, 'commitlog');
  if (!fs.existsSync(commitLogDir)) throw new StoreError('E_STORE_DIR', `${storeDir} has no commitlog directory: not a store`);
  const records = new CommitLogRecords(commitLogDir);
  if (options.key !== undefined) {
    const key = options.key;
    const matches = (message: MessageExt): boolean => message.keys.includes(key) || message.properties[PROPERTY_UNIQ_KEY] === key;
    return searchIndex(storeDir, records, options.topic!, key, matches, options);
  }
  if (options.id !== undefined) return queryById(storeDir, records, options.id, options);
  const offset = options.offset!;
  const found =
    options.queue === undefined
      ? records.messageAt(offset)
      : messageAtQueueOffset(storeDir, records, options.topic!, options.queue, offset);
  if (typeof found === 'string') return { messages: [], notes: [found] };
  if (options.topic !== undefined && found.topic !== options.topic) {
    return { messages: [], notes: [`the record at CommitLog offset ${offset} is of topic ${found.topic}`] };
  }
  return { messages: [found], notes: [] };
}

/** An offsetMsgId naming a record of this store, else (with --topic) a unique key. */
function queryById(storeDir: string, records: CommitLogRecords, id: string, options: QueryOptions): QueryResult {
  const physicalOffset = offsetMsgIdPhysicalOffset(id);
  if (physicalOffset !== null) {
    const message = records.messageAt(physicalOffset);
    // The record's own id (its STOREHOST and PHYSICALOFFSET) must be the one asked for: a
    // client UNIQ_KEY is also 32 hex digits, and an id of another broker names another log.
    const sameId = typeof message !== 'string' && message.msgId === id.toUpperCase();
    if (sameId && (options.topic === undefined || message.topic === options.topic)) return { messages: [message], notes: [] };
  }
  if (options.topic === undefined) {
    const note = `${id} is not the offsetMsgId of a record in this store; to look it up as a unique key (UNIQ_KEY) give --topic`;
    return { messages: [], notes: [note] };
  }
  const matches = (message: MessageExt): boolean => message.properties[PROPERTY_UNIQ_KEY] === id;
  return searchIndex(storeDir, records, options.topic, id, matches, options);
}

/** The physical offset in an offsetMsgId (its last 16 hex digits), or null when `id` is none. */
function offsetMsgIdPhysicalOffset(id: string): number | null {
  if (!OFFSET_MSG_ID_PATTERN.test(id)) return null;
  const high = Number.parseInt(id.slice(-16, -8), 16);
  const low = Number.parseInt(id.slice(-8), 16);
  const physicalOffset = high * TWO_POW_32 + low;
  return Number.isSafeInteger(physicalOffset) ? physicalOffset : null;
}

/** The message of unit `queueOffset` of queue `topic`/`queueId`, checked against the unit, or why there is none. */
function messageAtQueueOffset(
  storeDir: string,
  records: CommitLogRecords,
  topic: string,
  queueId: number,
  queueOffset: number,
): MessageExt | string {
  const unit = consumeQueueUnit(storeDir, topic, queueId, queueOffset);
  if (typeof unit === 'string') return unit;
  const message = records.messageAt(unit.physicalOffset);
  if (typeof message === 'string') {
    return `queue offset ${queueOffset} points at CommitLog offset ${unit.physicalOffset}: ${message}`;
  }
  const same =
    message.storeSize === unit.sizeBytes &&
    message.topic === topic &&
    message.queueId === queueId &&
    message.queueOffset === queueOffset;
  if (!same) {
    return (
      `queue offset ${queueOffset} points at a record of ${message.storeSize} bytes of ` +
      `${message.topic}/${message.queueId} queue offset ${message.queueOffset}, not this unit's message`
    );
  }
  return message;
}

/** Unit `queueOffset` of a consume queue, or why there is no message there. */
function consumeQueueUnit(storeDir: string, topic: string, queueId: number, queueOffset: number): ConsumeQueueEntry | string {
  const queueDir = path.join(storeDir, 'consumequeue', topicDirName(topic), String(queueId));
  const bytePosition = queueOffset * CQ_ENTRY_BYTES;
  let file: string | null = null;
  let fileStart = 0;
  for (const candidate of offsetFiles(queueDir)) {
    if (candidate.start > bytePosition) break;
    file = candidate.path;
    fileStart = candidate.start;
  }
  const beyond = `queue offset ${queueOffset} is beyond the last message of ${topic}/${queueId}`;
  if (file === null) return `no consume queue file of ${topic}/${queueId} holds queue offset ${queueOffset}`;
  const bytes = readAt(file, CQ_ENTRY_BYTES, bytePosition - fileStart);
  if (bytes === null) return beyond;
  const unit = readConsumeQueueEntry(bytes, 0);
  switch (consumeQueueEntryKind(unit)) {
    case 'end':
      return beyond;
    case 'filler':
      return `queue offset ${queueOffset} is below the first message of ${topic}/${queueId}`;
    case 'invalid':
      return `unit ${queueOffset} of ${topic}/${queueId} is invalid: ${consumeQueueEntryInvalidReason(unit)}`;
    case 'unit':
      return unit;
  }
}

/**
 * The messages `matches` accepts among the index hits of `topic#key` stored in [--begin, --end],
 * newest first up to --max, returned oldest first (RocketMQ queryMessage, with every hit checked).
 */
function searchIndex(
  storeDir: string,
  records: CommitLogRecords,
  topic: string,
  key: string,
  matches: (message: MessageExt) => boolean,
  options: QueryOptions,
): QueryResult {
  const result: QueryResult = { messages: [], notes: [] };
  const countMax = options.max ?? QUERY_MAX_DEFAULT;
  const window = { beginMs: options.begin ?? 0, endMs: options.end ?? Number.MAX_SAFE_INTEGER };
  const indexDir = path.join(storeDir, 'index');
  const names = fs.existsSync(indexDir) ? fs.readdirSync(indexDir).filter((name) => INDEX_NAME_PATTERN.test(name)) : [];
  if (names.length === 0) result.notes.push(`no index files in ${indexDir} (is messageIndexEnable off?)`);
  const layouts = new IndexLayouts(options, result.notes);
  const seen = new Set<number>();
  const keyHash = indexKeyHash(indexKey(topic, key));
  // Newest file first: the 17-digit names are creation times.
  for (const name of names.sort().reverse()) {
    const hits = indexFileHits(path.join(indexDir, name), keyHash, window, layouts);
    for (const physicalOffset of hits.physicalOffsets) {
      if (result.messages.length >= countMax) break;
      if (seen.has(physicalOffset)) continue; // re-indexed after a crash
      seen.add(physicalOffset);
      const message = records.messageAt(physicalOffset);
      if (typeof message === 'string' || message.topic !== topic || !matches(message)) continue; // deleted, or a collision
      if (message.storeTimestamp >= window.beginMs && message.storeTimestamp <= window.endMs) result.messages.push(message);
    }
    if (result.messages.length >= countMax || hits.beginTimestamp < window.beginMs) break;
  }
  result.messages.sort((a, b) => a.commitLogOffset - b.commitLogOffset);
  return result;
}

interface IndexFileHits {
  /** Physical offsets of the entries with the key's hash, newest first. */
  physicalOffsets: number[];
  /** The file's beginTimestamp (older files hold only earlier entries); +∞ for a file without entries. */
  beginTimestamp: number;
}

/** Entries of one index file whose hash is `keyHash` and whose time may lie in the window. */
function indexFileHits(
  file: string,
  keyHash: number,
  window: { beginMs: number; endMs: number },
  layouts: IndexLayouts,
): IndexFileHits {
  const none = { physicalOffsets: [], beginTimestamp: Number.POSITIVE_INFINITY };
  const fd = openIfPresent(file);
  if (fd === null) return none; // deleted by retention meanwhile
  try {
    const sizeBytes = fs.fstatSync(fd).size;
    if (sizeBytes < INDEX_HEADER_BYTES) return none;
    const header = readIndexHeader(readFd(fd, INDEX_HEADER_BYTES, 0));
    if (header.indexCount <= 1) return none;
    const hits: IndexFileHits = { physicalOffsets: [], beginTimestamp: header.beginTimestamp };
    if (header.endTimestamp < window.beginMs || header.beginTimestamp > window.endMs) return hits;
    const layout = layouts.of(file, fd, sizeBytes, header);
    const slotValue = readFd(fd, INDEX_SLOT_BYTES, slotPosition(keyHash, layout.hashSlotNum)).readInt32BE(0);
    // The same pre-check as RocketMQ's selectPhyOffset.
    if (slotValue <= INDEX_INVALID || slotValue > header.indexCount) return hits;
    // An entry's time is whole seconds after beginTimestamp, up to 1 s before the store time:
    // the walk takes a second more, and the records are checked against the exact window.
    const beginMs = window.beginMs - INDEX_TIME_SLACK_MS;
    const readEntry = (indexNumber: number, entry: Buffer): void => {
      entry.fill(0);
      fs.readSync(fd, entry, 0, INDEX_ENTRY_BYTES, entryPosition(layout.hashSlotNum, indexNumber));
    };
    // No count limit: hits are checked on their records, so collisions must not crowd out
    // real matches; the walk itself stops after indexNum steps.
    const countMax = Number.MAX_SAFE_INTEGER;
    walkIndexChain(header, layout.indexNum, keyHash, slotValue, countMax, beginMs, window.endMs, hits.physicalOffsets, readEntry);
    return hits;
  } finally {
    fs.closeSync(fd);
  }
}

/** The layout of each index file: given, RocketMQ's default, or inferred (once per file size). */
class IndexLayouts {
  private readonly hashSlotNum: number | undefined;
  private readonly indexNum: number | undefined;
  private readonly bySize = new Map<number, HashIndexLayout>();
  private readonly notes: string[];

  /** Files whose entries disagree with their layout are named in `notes`. */
  constructor(options: QueryOptions, notes: string[]) {
    this.hashSlotNum = options.slots;
    this.indexNum = options.entries;
    this.notes = notes;
  }

  /** The layout of a file with entries (indexCount > 1). */
  of(file: string, fd: number, sizeBytes: number, header: IndexHeader): HashIndexLayout {
    const layout = this.bySize.get(sizeBytes) ?? this.choose(file, fd, sizeBytes, header);
    this.bySize.set(sizeBytes, layout);
    if (!entriesAgree((position, length) => readFd(fd, length, position), layout, header)) {
      this.notes.push(
        `index file ${file}: its entries do not agree with ${layout.hashSlotNum} slots and ${layout.indexNum} entries ` +
          '(not the store\'s maxHashSlotNum/maxIndexNum?); matches in it may be missed',
      );
    }
    return layout;
  }

  private choose(file: string, fd: number, sizeBytes: number, header: IndexHeader): HashIndexLayout {
    let layout: HashIndexLayout | null;
    if (this.hashSlotNum === undefined && this.indexNum === undefined) {
      const fitsDefault = sizeBytes === indexFileSizeBytes(MAX_HASH_SLOT_NUM_DEFAULT, MAX_INDEX_NUM_DEFAULT);
      layout = fitsDefault
        ? { hashSlotNum: MAX_HASH_SLOT_NUM_DEFAULT, indexNum: MAX_INDEX_NUM_DEFAULT }
        : inferIndexLayout(fd, sizeBytes, header);
    } else {
      layout = indexLayoutForSize(sizeBytes, this.hashSlotNum, this.indexNum);
    }
    if (layout === null) {
      const given = this.hashSlotNum !== undefined || this.indexNum !== undefined;
      const which = given
        ? `--slots ${this.hashSlotNum ?? '?'} --entries ${this.indexNum ?? '?'} do not account for it`
        : "RocketMQ's default layout does not account for it and no other layout fits its entries";
      throw new StoreError(
        'E_INVALID_ARGUMENT',
        `index file ${file} is ${sizeBytes} bytes (40 + 4 × slots + 20 × entries): ${which}; ` +
          "give the store's maxHashSlotNum and maxIndexNum as --slots and --entries",
      );
    }
    return layout;
  }
}

/**
 * The one layout (hashSlotNum, indexNum) under which the file's entries agree with its header, or
 * null when none or several do, or the file is too large to read whole. Under the true layout,
 * entry 1 starts a chain (prevIndex 0) at beginPhyOffset, entry indexCount − 1 is at endPhyOffset
 * and its slot points at it (or, while a commit is under way, at a newer entry). Under another
 * layout those positions hold slot values or other entries, which match all of this only by
 * chance. A file without entries needs no layout (it is never read past its header).
 */
export function inferIndexLayout(fd: number, sizeBytes: number, header: IndexHeader): HashIndexLayout | null {
  if (sizeBytes > INDEX_INFER_BYTES_MAX || header.indexCount <= 1) return null;
  const bytes = readFd(fd, sizeBytes, 0);
  const read = (position: number, length: number): Buffer => bytes.subarray(position, position + length);
  const found: HashIndexLayout[] = [];
  for (let hashSlotNum = 1; indexFileSizeBytes(hashSlotNum, header.indexCount) <= sizeBytes; hashSlotNum++) {
    const entryBytes = sizeBytes - INDEX_HEADER_BYTES - hashSlotNum * INDEX_SLOT_BYTES;
    if (entryBytes % INDEX_ENTRY_BYTES !== 0) continue;
    const layout = { hashSlotNum, indexNum: entryBytes / INDEX_ENTRY_BYTES };
    if (layout.indexNum >= 2 && entriesAgree(read, layout, header)) found.push(layout);
  }
  return found.length === 1 ? found[0]! : null;
}

/** The checks of inferIndexLayout, through `read` (a whole file in memory, or positioned reads). */
function entriesAgree(read: (position: number, length: number) => Buffer, layout: HashIndexLayout, header: IndexHeader): boolean {
  const first = read(entryPosition(layout.hashSlotNum, 1), INDEX_ENTRY_BYTES);
  const last = read(entryPosition(layout.hashSlotNum, header.indexCount - 1), INDEX_ENTRY_BYTES);
  if (first.readInt32BE(ENTRY_POS_KEY_HASH) < 0 || first.readInt32BE(ENTRY_POS_PREV_INDEX) !== INDEX_INVALID) return false;
  if (readInt64(first, ENTRY_POS_PHYSICAL_OFFSET) !== header.beginPhyOffset) return false;
  const lastKeyHash = last.readInt32BE(ENTRY_POS_KEY_HASH);
  const lastPrevIndex = last.readInt32BE(ENTRY_POS_PREV_INDEX);
  if (lastKeyHash < 0 || lastPrevIndex < INDEX_INVALID) return false;
  if (header.indexCount > 2 && lastPrevIndex >= header.indexCount - 1) return false;
  if (readInt64(last, ENTRY_POS_PHYSICAL_OFFSET) !== header.endPhyOffset) return false;
  // A writer commits entries, then slots, then the header: while another process is between the
  // two, the slot may already point at a newer entry of the same slot.
  const slotValue = read(slotPosition(lastKeyHash, layout.hashSlotNum), INDEX_SLOT_BYTES).readInt32BE(0);
  return slotValue >= header.indexCount - 1 && slotValue < layout.indexNum;
}

/** `length` bytes at `position` of an open file (zeros past its end). */
function readFd(fd: number, length: number, position: number): Buffer {
  const out = Buffer.alloc(length);
  fs.readSync(fd, out, 0, length, position);
  return out;
}

/** A read-only descriptor of `file`, or null when it does not exist (retention may delete files at any time). */
function openIfPresent(file: string): number | null {
  try {
    return fs.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StoreError('E_STORE_IO', `cannot open ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** `length` bytes at `position` of `file`, or null when it is missing or shorter. */
function readAt(file: string, length: number, position: number): Buffer | null {
  const fd = openIfPresent(file);
  if (fd === null) return null;
  try {
    const out = Buffer.allocUnsafe(length);
    return fs.readSync(fd, out, 0, length, position) === length ? out : null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Single records of the CommitLog, by physical offset. The segment list is read once; every read
 * opens and closes its segment (a query reads few records, and nothing is left open).
 */
class CommitLogRecords {
  private readonly segments: Array<{ start: number; path: string; sizeBytes: number }>;

  constructor(commitLogDir: string) {
    this.segments = offsetFiles(commitLogDir).map((file) => ({ ...file, sizeBytes: fs.statSync(file.path).size }));
  }

  /** The valid record (CRC checked) whose PHYSICALOFFSET is `physicalOffset` and that starts there, or why there is none. */
  messageAt(physicalOffset: number): MessageExt | string {
    const segment = this.segments.find((s) => s.start <= physicalOffset && physicalOffset < s.start + s.sizeBytes);
    if (segment === undefined) {
      const first = this.segments[0]?.start;
      const below = first !== undefined && physicalOffset < first;
      const why = below ? `below the first segment (${first}): deleted` : 'beyond the CommitLog';
      return `CommitLog offset ${physicalOffset} is ${why}`;
    }
    const position = physicalOffset - segment.start;
    const head = readAt(segment.path, BLANK_RECORD_BYTES, position);
    if (head === null) return `CommitLog offset ${physicalOffset}: segment ${segment.path} is gone or short`;
    const totalSize = head.readInt32BE(POS_TOTALSIZE);
    if (totalSize < RECORD_FIXED_BYTES || totalSize > segment.sizeBytes - position) {
      return `no record starts at CommitLog offset ${physicalOffset}`;
    }
    const record = readAt(segment.path, totalSize, position);
    if (record === null) return `CommitLog offset ${physicalOffset}: segment ${segment.path} is gone or short`;
    const reason = recordInvalidReason(record, 0, totalSize, true);
    if (reason !== null) return `no valid record at CommitLog offset ${physicalOffset} (${reason})`;
    const stated = readInt64(record, POS_PHYSICALOFFSET);
    if (stated !== physicalOffset) return `the record at CommitLog offset ${physicalOffset} states PHYSICALOFFSET ${stated}`;
    return decodeMessage(record, 0, false);
  }
}

/** The text view of every message (mqadmin's layout), blank-line separated, then the count. */
export function formatMessages(messages: readonly MessageExt[], options: QueryOptions): string[] {
  if (options.json === true) {
    return [JSON.stringify(messages.map((message) => messageJson(message, options.body !== false)), null, 2)];
  }
  const lines: string[] = [];
  for (const message of messages) lines.push(...messageView(message, options), '');
  lines.push(`${messages.length} message(s) found`);
  return lines;
}

function messageView(message: MessageExt, options: QueryOptions): string[] {
  const row = (label: string, value: string | number): string => `${label.padEnd(LABEL_WIDTH)} ${value}`;
  // Java's "[" + getTags() + "]": an absent property prints as null.
  const lines = [
    row('OffsetID:', message.msgId),
    row('Topic:', message.topic),
    row('Tags:', `[${message.tags ?? 'null'}]`),
    row('Keys:', `[${message.properties[PROPERTY_KEYS] ?? 'null'}]`),
    row('Queue ID:', message.queueId),
    row('Queue Offset:', message.queueOffset),
    row('CommitLog Offset:', message.commitLogOffset),
    row('Reconsume Times:', message.reconsumeTimes),
    row('Born Timestamp:', humanTime(message.bornTimestamp)),
    row('Store Timestamp:', humanTime(message.storeTimestamp)),
    row('Born Host:', message.bornHost),
    row('Store Host:', message.storeHost),
    row('System Flag:', message.sysFlag),
    row('Properties:', `{${Object.entries(message.properties).map(([name, value]) => `${name}=${value}`).join(', ')}}`),
  ];
  if (options.body !== false) {
    lines.push(row('Message Body:', message.body.toString(options.hex === true ? 'hex' : 'utf8')));
  }
  return lines;
}

/** RocketMQ's UtilAll.timeMillisToHumanString2: yyyy-MM-dd HH:mm:ss,SSS in local time. */
export function humanTime(epochMs: number): string {
  const date = new Date(epochMs);
  const pad = (value: number, width = 2): string => String(value).padStart(width, '0');
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())},${pad(date.getMilliseconds(), 3)}`
  );
}

/** One message of --json: every record field; the body base64 unless --no-body. */
function messageJson(message: MessageExt, withBody: boolean): Record<string, unknown> {
  const json: Record<string, unknown> = {
    msgId: message.msgId,
    topic: message.topic,
    tags: message.tags ?? null,
    keys: message.keys,
    queueId: message.queueId,
    queueOffset: message.queueOffset,
    commitLogOffset: message.commitLogOffset,
    storeSize: message.storeSize,
    reconsumeTimes: message.reconsumeTimes,
    bornTimestamp: message.bornTimestamp,
    storeTimestamp: message.storeTimestamp,
    bornHost: message.bornHost,
    storeHost: message.storeHost,
    sysFlag: message.sysFlag,
    flag: message.flag,
    bodyCRC: message.bodyCRC,
    preparedTransactionOffset: message.preparedTransactionOffset,
    properties: message.properties,
  };
  if (withBody) json.bodyBase64 = message.body.toString('base64');
  return json;
}
