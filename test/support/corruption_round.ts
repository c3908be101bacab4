// One implementation of the corruption campaign (issue 5), shared by
// test/campaign/corruption.test.ts and native-free-bench/corruption.ts:
//
//   build a store from the seeded crash stream (test/support/crash_round.ts), close it cleanly,
//   keep it as the pristine copy; then per trial:
//   copy ─► flip one bit or byte of one committed record of one file type ─► maybe write `abort`
//     ─► verifyStore (offline) ─► MessageStore.open ─► every message by offset, by queue offset
//     and by key ─► a put and a read ─► close
//
// A read must return the exact message the stream put there, or nothing; a flip must be reported
// by recovery (an event, a derived-file repair, a MQSTORE_RECOVERY warning, or a typed refusal)
// or by `mqstore verify`. The pristine records are decoded from the files once, so every field
// of every record is known and a flip can be named by the field it hit.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyStore, type VerifyResult } from '../../src/cli/commands/verify.js';
import { StoreError } from '../../src/errors.js';
import {
  decodeMessage,
  MAGIC_BLANK,
  type MessageExt,
  POS_SYSFLAG,
  bodyLengthPosition,
} from '../../src/format/commit_log_record.js';
import { CRC32_RESERVED_BYTES, checkRecordCrc } from '../../src/format/record_crc.js';
import { INDEX_HEADER_BYTES, INDEX_ENTRY_BYTES, entryPosition, readIndexHeader } from '../../src/format/hash_index.js';
import { CQ_ENTRY_BYTES } from '../../src/format/consume_queue_entry.js';
import { MessageStore, PutMessageStatus, type MessageStoreOptions, type PutMessageResult } from '../../src/index.js';
import { messageBody, messageKeys, messageTags, mix32, putSpec, type PutSpec } from './crash_round.js';
import { captureWarnings, sleep } from './dispatch_support.js';
import { Prng } from './prng.js';

export const FILE_TYPES = ['commitlog', 'consumequeue', 'index', 'checkpoint'] as const;
export type FileType = (typeof FILE_TYPES)[number];
export const VARIANTS = ['plain', 'crc'] as const;
export type Variant = (typeof VARIANTS)[number];

const SEGMENT_BYTES = 64 * 1024;
const HASH_SLOTS = 512;
const INDEX_ENTRIES = 4096;
const CHECKPOINT_CHECKED_BYTES = 92;
const CHECKPOINT_BYTES = 4096;
const PROBE_TOPIC = 'CorruptionProbe';
const QUERY_END_SLACK_MS = 3_600_000;

/** The store every trial opens (small files so a few hundred messages span many of them). */
export function storeOptions(variant: Variant): Omit<MessageStoreOptions, 'storePathRootDir'> {
  const base = {
    mappedFileSizeCommitLog: SEGMENT_BYTES,
    mappedFileSizeConsumeQueue: 20 * 1000,
    maxHashSlotNum: HASH_SLOTS,
    maxIndexNum: INDEX_ENTRIES,
    flushIntervalConsumeQueue: 50,
  };
  return variant === 'crc' ? { ...base, enabledAppendPropCRC: true, forceVerifyPropCRC: true } : base;
}

/**
 * CommitLog fields that no check of RocketMQ 4's record format covers (the body CRC covers only
 * the body): a flip there in a plain store cannot be detected by any reader. Everything else
 * must be detected; with the appended record CRC every field must be.
 */
export const UNPROTECTED_FIELDS_PLAIN: ReadonlySet<string> = new Set([
  'FLAG',
  'SYSFLAG',
  'BORNTIMESTAMP',
  'BORNHOST',
  'STORETIMESTAMP',
  'STOREHOST',
  'RECONSUMETIMES',
  'PREPAREDTRANSACTIONOFFSET',
]);

/** One message as the pristine store holds it. */
export interface Expected {
  physicalOffset: number;
  sizeBytes: number;
  message: MessageExt;
  key: string;
}

export interface Pristine {
  variant: Variant;
  seed: number;
  dir: string;
  messages: Expected[];
  byOffset: Map<number, Expected>;
  /** "topic\0queueId" → messages by queue offset. */
  queues: Map<string, Expected[]>;
  /** consume queue files with their units in use: [relative path, unit count]. */
  cqFiles: Array<[string, number]>;
  /** index files: [relative path, indexCount]. */
  indexFiles: Array<[string, number]>;
  /** Recovery events of an undamaged copy, per abort mode: what is not a detection. */
  baseline: { clean: string[]; abort: string[] };
}

export interface Flip {
  fileType: FileType;
  /** Relative to the store root. */
  file: string;
  position: number;
  /** Which field the byte belongs to (CommitLog: record field; others: region). */
  field: string;
  /** Physical offset of the record (CommitLog), else −1. */
  recordOffset: number;
  mask: number;
  before: number;
}

export type TrialClass = 'detected' | 'refused' | 'undetected-harmless' | 'undetected-unprotected' | 'undetected' | 'wrong-message' | 'failed';

export interface TrialResult {
  trial: number;
  variant: Variant;
  abort: boolean;
  flip: Flip;
  verifyProblems: string[];
  /** A verify problem names the flipped file. */
  verifyNamesFile: boolean;
  /** New recovery events (CommitLog and derived) and MQSTORE_RECOVERY warnings. */
  recoveryEvents: string[];
  warnings: number;
  repaired: boolean;
  refused: string | null;
  /** Messages read back wrong (different or damaged), with what differed. */
  wrong: string[];
  /** Wrong only in fields the plain format does not protect (properties bytes: keys). */
  wrongUnprotected: string[];
  /** Reads that returned nothing for a message the pristine store holds. */
  missing: number;
  usable: boolean | null;
  /** Problems that are defects of the store: untyped errors, a store unusable after open. */
  errors: string[];
  cls: TrialClass;
  durationMs: number;
}

// ------------------------------------------------------------------------------------------
// The pristine store

export async function buildPristine(variant: Variant, seed: number, puts: number, parentDir: string): Promise<Pristine> {
  const dir = fs.mkdtempSync(path.join(parentDir, `pristine-${variant}-`));
  const store = await MessageStore.open({ storePathRootDir: dir, ...storeOptions(variant) });
  try {
    for (let from = 0; from < puts; from += 16) {
      const sends: Array<Promise<PutMessageResult>> = [];
      for (let putIndex = from; putIndex < Math.min(puts, from + 16); putIndex++) sends.push(send(store, putSpec(seed, putIndex)));
      for (const result of await Promise.all(sends)) {
        if (result.putMessageStatus !== PutMessageStatus.PUT_OK) throw new Error(`pristine put failed: ${result.putMessageStatus}`);
      }
    }
    for (let i = 0; i < 2000 && store.dispatchBehindBytes() > 0; i++) await sleep(5);
  } finally {
    await store.close();
  }
  // No problem may be reported before a byte is flipped: every detection below is the flip's.
  const clean = await verifyStore(dir, { threads: 1, slots: HASH_SLOTS, entries: INDEX_ENTRIES, requireRecordCrc: variant === 'crc' });
  if (clean.problems.length > 0) throw new Error(`verify reports problems in the undamaged store: ${clean.problems.slice(0, 3).join(' | ')}`);
  const messages = readPristineRecords(dir);
  const byOffset = new Map(messages.map((m) => [m.physicalOffset, m]));
  const queues = new Map<string, Expected[]>();
  for (const m of messages) {
    const key = queueKey(m.message.topic, m.message.queueId);
    const list = queues.get(key) ?? [];
    if (list.length !== m.message.queueOffset) throw new Error(`pristine queue ${key} has a gap at ${list.length}`);
    list.push(m);
    queues.set(key, list);
  }
  const pristine: Pristine = {
    variant,
    seed,
    dir,
    messages,
    byOffset,
    queues,
    cqFiles: consumeQueueFiles(dir),
    indexFiles: indexFiles(dir),
    baseline: { clean: [], abort: [] },
  };
  for (const abort of [false, true]) {
    const copy = copyStore(dir, parentDir);
    try {
      if (abort) fs.writeFileSync(path.join(copy, 'abort'), '0');
      const { value: opened, warnings } = await captureWarnings('MQSTORE_RECOVERY', () => MessageStore.open({ storePathRootDir: copy, ...storeOptions(variant) }));
      const events = recoveryEvents(opened);
      await opened.close();
      if (warnings.length > 0) throw new Error(`an undamaged copy (abort ${abort}) warns: ${warnings.join(' | ')}`);
      pristine.baseline[abort ? 'abort' : 'clean'] = events;
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  }
  return pristine;
}

function send(store: MessageStore, spec: PutSpec): Promise<PutMessageResult> {
  const tags = messageTags(spec);
  const messages = Array.from({ length: spec.count }, (_, slot) => ({ body: messageBody(spec, slot), tags, keys: messageKeys(spec, slot) }));
  if (!spec.batch) return store.putMessage({ topic: spec.topic, queueId: spec.queueId, ...messages[0]! });
  return store.putMessages({ topic: spec.topic, queueId: spec.queueId, messages });
}

function queueKey(topic: string, queueId: number): string {
  return `${topic}\u0000${queueId}`;
}

/** Every record of every segment, decoded with its CRCs checked. */
function readPristineRecords(dir: string): Expected[] {
  const commitLogDir = path.join(dir, 'commitlog');
  const out: Expected[] = [];
  for (const name of fs.readdirSync(commitLogDir).sort()) {
    const start = Number(name);
    const bytes = fs.readFileSync(path.join(commitLogDir, name));
    for (let position = 0; position + 8 <= bytes.length; ) {
      const totalSize = bytes.readInt32BE(position);
      const magic = bytes.readInt32BE(position + 4);
      if (magic === MAGIC_BLANK || (totalSize === 0 && magic === 0)) break;
      const message = decodeMessage(bytes.subarray(position, position + totalSize), 0, true);
      if (message.commitLogOffset !== start + position) throw new Error(`pristine record at ${start + position} says ${message.commitLogOffset}`);
      out.push({ physicalOffset: start + position, sizeBytes: totalSize, message, key: message.keys[0] ?? '' });
      position += totalSize;
    }
  }
  if (out.length === 0) throw new Error('the pristine store holds no records');
  return out;
}

function consumeQueueFiles(dir: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const root = path.join(dir, 'consumequeue');
  for (const topic of fs.readdirSync(root).sort()) {
    for (const queueId of fs.readdirSync(path.join(root, topic)).sort()) {
      for (const name of fs.readdirSync(path.join(root, topic, queueId)).sort()) {
        const rel = path.join('consumequeue', topic, queueId, name);
        const bytes = fs.readFileSync(path.join(dir, rel));
        let units = 0;
        while (units * CQ_ENTRY_BYTES + CQ_ENTRY_BYTES <= bytes.length && !isZero(bytes, units * CQ_ENTRY_BYTES, CQ_ENTRY_BYTES)) units++;
        if (units > 0) out.push([rel, units]);
      }
    }
  }
  return out;
}

function indexFiles(dir: string): Array<[string, number]> {
  const root = path.join(dir, 'index');
  return fs
    .readdirSync(root)
    .filter((name) => /^\d{17}$/.test(name))
    .sort()
    .map((name): [string, number] => {
      const header = readIndexHeader(fs.readFileSync(path.join(root, name)).subarray(0, INDEX_HEADER_BYTES));
      return [path.join('index', name), header.indexCount];
    })
    .filter(([, count]) => count > 1);
}

function isZero(bytes: Buffer, from: number, length: number): boolean {
  for (let i = from; i < from + length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export function copyStore(dir: string, parentDir: string): string {
  const copy = fs.mkdtempSync(path.join(parentDir, 'trial-'));
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

// ------------------------------------------------------------------------------------------
// Choosing and applying a flip

/** The record field holding byte `offset` of a record (IPv4/IPv6 hosts and v1/v2 topics). */
export function recordField(record: Buffer, offset: number): string {
  const sysFlag = record.readInt32BE(POS_SYSFLAG);
  const b = (sysFlag & 0x10) !== 0 ? 12 : 0;
  const s = (sysFlag & 0x20) !== 0 ? 12 : 0;
  const fixed: Array<[number, string]> = [
    [4, 'TOTALSIZE'], [8, 'MAGICCODE'], [12, 'BODYCRC'], [16, 'QUEUEID'], [20, 'FLAG'], [28, 'QUEUEOFFSET'],
    [36, 'PHYSICALOFFSET'], [40, 'SYSFLAG'], [48, 'BORNTIMESTAMP'], [56 + b, 'BORNHOST'], [64 + b, 'STORETIMESTAMP'],
    [72 + b + s, 'STOREHOST'], [76 + b + s, 'RECONSUMETIMES'], [84 + b + s, 'PREPAREDTRANSACTIONOFFSET'], [88 + b + s, 'BODYLEN'],
  ];
  for (const [end, name] of fixed) if (offset < end) return name;
  const bodyAt = bodyLengthPosition(sysFlag) + 4;
  const bodyBytes = record.readInt32BE(bodyAt - 4);
  if (offset < bodyAt + bodyBytes) return 'BODY';
  const v2 = record.readInt32BE(4) !== (0xdaa320a7 | 0);
  const topicAt = bodyAt + bodyBytes + (v2 ? 2 : 1);
  if (offset < topicAt) return 'TOPICLEN';
  const topicBytes = v2 ? record.readInt16BE(topicAt - 2) : record.readInt8(topicAt - 1);
  if (offset < topicAt + topicBytes) return 'TOPIC';
  if (offset < topicAt + topicBytes + 2) return 'PROPLEN';
  const withCrc = checkRecordCrc(record, record.length) === 'ok';
  if (withCrc && offset >= record.length - CRC32_RESERVED_BYTES) return 'PROPERTIES(CRC32#)';
  return 'PROPERTIES';
}

/** A mask that changes the byte: one bit (half the time) or a random other byte value. */
function flipMask(prng: Prng): number {
  return prng.below(2) === 0 ? 1 << prng.below(8) : 1 + prng.below(255);
}

/** Picks the byte to flip in a copy of the pristine store (nothing is written yet). */
export function chooseFlip(pristine: Pristine, fileType: FileType, prng: Prng): Flip {
  const mask = flipMask(prng);
  switch (fileType) {
    case 'commitlog': {
      const m = pristine.messages[prng.below(pristine.messages.length)]!;
      const record = readBytes(pristine.dir, segmentRel(m.physicalOffset), m.physicalOffset % SEGMENT_BYTES, m.sizeBytes);
      // A region first (header, body, topic, properties), then a byte in it: the body would
      // otherwise take almost every flip.
      const regions: Array<[number, number]> = [];
      const sysFlag = record.readInt32BE(POS_SYSFLAG);
      const bodyAt = bodyLengthPosition(sysFlag) + 4;
      const bodyEnd = bodyAt + record.readInt32BE(bodyAt - 4);
      const v2 = record.readInt32BE(4) !== (0xdaa320a7 | 0);
      const topicEnd = bodyEnd + (v2 ? 2 : 1) + (v2 ? record.readInt16BE(bodyEnd) : record.readInt8(bodyEnd));
      regions.push([0, bodyAt], [bodyAt, bodyEnd], [bodyEnd, topicEnd], [topicEnd, m.sizeBytes]);
      const nonEmpty = regions.filter(([a, z]) => z > a);
      const [from, to] = nonEmpty[prng.below(nonEmpty.length)]!;
      const offset = from + prng.below(to - from);
      return {
        fileType,
        file: segmentRel(m.physicalOffset),
        position: (m.physicalOffset % SEGMENT_BYTES) + offset,
        field: recordField(record, offset),
        recordOffset: m.physicalOffset,
        mask,
        before: record[offset]!,
      };
    }
    case 'consumequeue': {
      const [file, units] = pristine.cqFiles[prng.below(pristine.cqFiles.length)]!;
      const unit = prng.below(units);
      const byte = prng.below(CQ_ENTRY_BYTES);
      const position = unit * CQ_ENTRY_BYTES + byte;
      const field = byte < 8 ? 'physicalOffset' : byte < 12 ? 'sizeBytes' : 'tagsCode';
      return { fileType, file, position, field, recordOffset: -1, mask, before: readBytes(pristine.dir, file, position, 1)[0]! };
    }
    case 'index': {
      const [file, indexCount] = pristine.indexFiles[prng.below(pristine.indexFiles.length)]!;
      const region = prng.below(3);
      let position: number;
      let field: string;
      if (region === 0) {
        position = prng.below(INDEX_HEADER_BYTES);
        field = `header.${['beginTimestamp', 'endTimestamp', 'beginPhyOffset', 'endPhyOffset', 'hashSlotCount', 'indexCount'][position < 32 ? position >> 3 : 4 + ((position - 32) >> 2)]}`;
      } else if (region === 1) {
        const slot = prng.below(HASH_SLOTS);
        position = INDEX_HEADER_BYTES + slot * 4 + prng.below(4);
        const bytes = readBytes(pristine.dir, file, INDEX_HEADER_BYTES + slot * 4, 4);
        field = bytes.readInt32BE(0) === 0 ? 'slot(empty)' : 'slot';
      } else {
        const entry = 1 + prng.below(indexCount - 1);
        const byte = prng.below(INDEX_ENTRY_BYTES);
        position = entryPosition(HASH_SLOTS, entry) + byte;
        field = `entry.${byte < 4 ? 'keyHash' : byte < 12 ? 'physicalOffset' : byte < 16 ? 'timeDiff' : 'prevIndex'}`;
      }
      return { fileType, file, position, field, recordOffset: -1, mask, before: readBytes(pristine.dir, file, position, 1)[0]! };
    }
    case 'checkpoint': {
      // Mostly the bytes that are read (0 … 91); sometimes the padding, which nothing reads.
      const position = prng.below(10) === 0 ? CHECKPOINT_CHECKED_BYTES + prng.below(CHECKPOINT_BYTES - CHECKPOINT_CHECKED_BYTES) : prng.below(CHECKPOINT_CHECKED_BYTES);
      const field = position < 40 ? ['physicMsgTimestamp', 'logicsMsgTimestamp', 'indexMsgTimestamp', 'masterFlushedOffset', 'confirmPhyOffset'][position >> 3]! : position < 64 ? 'pad40' : position < 92 ? ['magic', 'version', 'flushedPhyOffset', 'flushedPhyOffset', 'dispatchedPhyOffset', 'dispatchedPhyOffset', 'crc'][(position - 64) >> 2]! : 'pad92';
      return { fileType, file: 'checkpoint', position, field, recordOffset: -1, mask, before: readBytes(pristine.dir, 'checkpoint', position, 1)[0]! };
    }
  }
}

function segmentRel(physicalOffset: number): string {
  return path.join('commitlog', String(physicalOffset - (physicalOffset % SEGMENT_BYTES)).padStart(20, '0'));
}

function readBytes(dir: string, rel: string, position: number, length: number): Buffer {
  const fd = fs.openSync(path.join(dir, rel), 'r');
  try {
    const out = Buffer.alloc(length);
    fs.readSync(fd, out, 0, length, position);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

export function applyFlip(dir: string, flip: Flip): void {
  const fd = fs.openSync(path.join(dir, flip.file), 'r+');
  try {
    fs.writeSync(fd, Buffer.from([flip.before ^ flip.mask]), 0, 1, flip.position);
  } finally {
    fs.closeSync(fd);
  }
}

// ------------------------------------------------------------------------------------------
// One trial

function recoveryEvents(store: MessageStore): string[] {
  const report = store.getRecoveryReport();
  return [
    ...report.events.map((e) => `${e.kind} ${path.basename(e.file)}@${e.physicalOffset}: ${e.reason}${e.loud ? ' (loud)' : ''}`),
    ...report.derived.events.map((e) => `derived: ${e}`),
  ];
}

/** The fields the brief compares, and which differ between a read message and the pristine one. */
function differences(got: MessageExt, want: MessageExt): string[] {
  const out: string[] = [];
  if (!got.body.equals(want.body)) out.push('body');
  if (got.topic !== want.topic) out.push('topic');
  if (got.queueId !== want.queueId) out.push('queueId');
  if (got.queueOffset !== want.queueOffset) out.push('queueOffset');
  if (got.commitLogOffset !== want.commitLogOffset) out.push('commitLogOffset');
  if (got.keys.join(' ') !== want.keys.join(' ')) out.push('keys');
  if (got.tags !== want.tags) out.push('tags');
  return out;
}

/** Fields outside the brief's list that still differ (the plain format does not protect them). */
function otherDifferences(got: MessageExt, want: MessageExt): string[] {
  const out: string[] = [];
  for (const name of ['flag', 'sysFlag', 'bornTimestamp', 'storeTimestamp', 'reconsumeTimes', 'preparedTransactionOffset', 'msgId'] as const) {
    if (got[name] !== want[name]) out.push(name);
  }
  if (JSON.stringify(got.properties) !== JSON.stringify(want.properties)) out.push('properties');
  if (JSON.stringify(got.bornHost) !== JSON.stringify(want.bornHost) || JSON.stringify(got.storeHost) !== JSON.stringify(want.storeHost)) out.push('hosts');
  return out;
}

interface ReadCheck {
  wrong: string[];
  wrongUnprotected: string[];
  missing: number;
}

async function checkReads(store: MessageStore, pristine: Pristine, unprotectedOk: boolean): Promise<ReadCheck> {
  const check: ReadCheck = { wrong: [], wrongUnprotected: [], missing: 0 };
  const judge = (how: string, got: MessageExt, want: Expected): void => {
    const diff = differences(got, want.message);
    const other = otherDifferences(got, want.message);
    if (diff.length === 0 && other.length === 0) return;
    const line = `${how} returned ${want.key}@${want.physicalOffset} with ${[...diff, ...other].join(',')} changed`;
    // The plain format protects neither property bytes nor these header fields: a damaged
    // value there is the format's limit, not a reader's fault (counted apart, see the report).
    const limit = unprotectedOk && diff.every((d) => d === 'keys' || d === 'tags');
    (limit ? check.wrongUnprotected : check.wrong).push(line);
  };
  for (const want of pristine.messages) {
    const got = await store.lookMessageByOffset(want.physicalOffset);
    if (got === null) check.missing++;
    else judge('lookMessageByOffset', got, want);
  }
  for (const [key, list] of pristine.queues) {
    const [topic, queueIdText] = key.split('\u0000') as [string, string];
    const queueId = Number(queueIdText);
    const seen = new Set<number>();
    let offset = 0;
    for (let round = 0; round < 4 * list.length + 8; round++) {
      const result = await store.getMessage({ group: 'corruption', topic, queueId, offset, maxMsgNums: 32 });
      for (const got of result.messages) {
        const want = list[got.queueOffset];
        if (got.topic !== topic || got.queueId !== queueId || want === undefined) {
          check.wrong.push(`getMessage(${topic}/${queueId}) returned ${got.topic}/${got.queueId}@${got.queueOffset} (commitLogOffset ${got.commitLogOffset})`);
          continue;
        }
        seen.add(got.queueOffset);
        judge(`getMessage(${topic}/${queueId}@${got.queueOffset})`, got, want);
      }
      if (result.nextBeginOffset <= offset || result.nextBeginOffset >= list.length) break;
      offset = result.nextBeginOffset;
    }
    check.missing += list.length - seen.size;
  }
  const end = Date.now() + QUERY_END_SLACK_MS;
  for (const want of pristine.messages) {
    const found = await store.queryMessage(want.message.topic, want.key, 32, 0, end);
    let hit = false;
    for (const got of found.messages) {
      if (got.commitLogOffset !== want.physicalOffset) {
        const other = pristine.byOffset.get(got.commitLogOffset);
        if (other === undefined || !other.message.keys.includes(want.key)) check.wrong.push(`queryMessage(${want.key}) returned the message at ${got.commitLogOffset}`);
        continue;
      }
      hit = true;
      judge(`queryMessage(${want.key})`, got, want);
    }
    if (!hit) check.missing++;
  }
  return check;
}

/** A put and its reads after the damage: the store must still work. */
async function probe(store: MessageStore, trial: number): Promise<string | null> {
  const body = `corruption-probe-${trial}`;
  const result = await store.putMessage({ topic: PROBE_TOPIC, queueId: 0, body, keys: [`probe-${trial}`] });
  if (result.putMessageStatus !== PutMessageStatus.PUT_OK) return `probe put: ${result.putMessageStatus} ${result.error?.message ?? ''}`;
  const looked = await store.lookMessageByOffset(result.appendMessageResult!.wroteOffset);
  if (looked === null || looked.body.toString() !== body) return 'probe lookMessageByOffset did not return the probe';
  const queueOffset = result.appendMessageResult!.logicsOffset;
  for (let i = 0; i < 400; i++) {
    const got = await store.getMessage({ group: 'corruption', topic: PROBE_TOPIC, queueId: 0, offset: queueOffset, maxMsgNums: 1 });
    if (got.messages.length > 0) return got.messages[0]!.body.toString() === body ? null : 'probe getMessage returned another body';
    await sleep(5);
  }
  return 'probe getMessage never found the probe';
}

export async function runTrial(pristine: Pristine, trial: number, fileType: FileType, abort: boolean, parentDir: string): Promise<TrialResult> {
  const startedMs = performance.now();
  const prng = new Prng(mix32(mix32(pristine.seed, trial), FILE_TYPES.indexOf(fileType) + 1));
  const flip = chooseFlip(pristine, fileType, prng);
  const dir = copyStore(pristine.dir, parentDir);
  const result: TrialResult = {
    trial,
    variant: pristine.variant,
    abort,
    flip,
    verifyProblems: [],
    verifyNamesFile: false,
    recoveryEvents: [],
    warnings: 0,
    repaired: false,
    refused: null,
    wrong: [],
    wrongUnprotected: [],
    missing: 0,
    usable: null,
    errors: [],
    cls: 'failed',
    durationMs: 0,
  };
  try {
    applyFlip(dir, flip);
    if (abort) fs.writeFileSync(path.join(dir, 'abort'), '0');
    let verified: VerifyResult | null = null;
    try {
      verified = await verifyStore(dir, { threads: 1, slots: HASH_SLOTS, entries: INDEX_ENTRIES, requireRecordCrc: pristine.variant === 'crc' });
    } catch (error) {
      result.errors.push(`verifyStore threw ${describe(error)}`);
    }
    if (verified !== null) {
      result.verifyProblems = verified.problems;
      result.verifyNamesFile = verified.problems.some((p) => p.startsWith(path.join(dir, flip.file)) || p.includes(`${path.sep}${flip.file}`));
    }
    let store: MessageStore | null = null;
    let warnings: string[] = [];
    try {
      const opened = await captureWarnings('MQSTORE_RECOVERY', () => MessageStore.open({ storePathRootDir: dir, ...storeOptions(pristine.variant) }));
      store = opened.value;
      warnings = opened.warnings;
    } catch (error) {
      if (error instanceof StoreError) result.refused = `${error.code}: ${error.message}`;
      else result.errors.push(`open threw an untyped ${describe(error)}`);
    }
    result.warnings = warnings.length;
    if (store !== null) {
      try {
        const baseline = new Set(abort ? pristine.baseline.abort : pristine.baseline.clean);
        result.recoveryEvents = recoveryEvents(store).filter((e) => !baseline.has(e));
        const derived = store.getRecoveryReport().derived;
        result.repaired = derived.consumeQueuesRebuilt.length > 0 || derived.indexRebuilt || derived.consumeQueuesTrimmed > 0 || derived.indexSlotsRepaired > 0;
        const reads = await checkReads(store, pristine, pristine.variant === 'plain');
        Object.assign(result, reads);
        const problem = await probe(store, trial);
        result.usable = problem === null;
        if (problem !== null) result.errors.push(problem);
      } catch (error) {
        result.errors.push(`reads threw ${describe(error)}`);
      } finally {
        try {
          await store.close();
        } catch (error) {
          result.errors.push(`close threw ${describe(error)}`);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  result.cls = classify(result);
  result.durationMs = performance.now() - startedMs;
  return result;
}

function describe(error: unknown): string {
  if (error instanceof StoreError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function classify(r: TrialResult): TrialClass {
  if (r.wrong.length > 0) return 'wrong-message';
  if (r.errors.length > 0) return 'failed';
  if (r.refused !== null) return 'refused';
  if (r.recoveryEvents.length > 0 || r.warnings > 0 || r.verifyProblems.length > 0) return 'detected';
  if (r.flip.fileType === 'commitlog' && r.variant === 'plain' && UNPROTECTED_FIELDS_PLAIN.has(r.flip.field)) return 'undetected-unprotected';
  // Nothing noticed it and every read still returned the exact message: the byte is not read.
  if (r.missing === 0 && r.wrongUnprotected.length === 0) return 'undetected-harmless';
  return 'undetected';
}

/** A failure of the campaign: a wrong message, a defect, or a CommitLog flip nobody noticed. */
export function trialFails(r: TrialResult): boolean {
  if (r.cls === 'wrong-message' || r.cls === 'failed') return true;
  if (r.flip.fileType === 'commitlog' && (r.cls === 'undetected' || r.cls === 'undetected-harmless')) return true;
  return false;
}

export function formatTrial(r: TrialResult): string {
  const f = r.flip;
  const how = [
    r.recoveryEvents.length > 0 || r.warnings > 0 ? `recovery(${r.recoveryEvents.length} events, ${r.warnings} warnings)` : '',
    r.repaired ? 'repaired' : '',
    r.verifyProblems.length > 0 ? `verify(${r.verifyProblems.length}${r.verifyNamesFile ? ', names file' : ''})` : '',
    r.refused !== null ? `refused(${r.refused.slice(0, 60)})` : '',
  ].filter((s) => s.length > 0);
  const flag = trialFails(r) ? 'FAIL' : 'ok';
  const lines = [
    `trial ${String(r.trial).padStart(4)} ${r.variant.padEnd(5)} ${f.fileType.padEnd(12)} abort=${r.abort ? 'y' : 'n'} ` +
      `${f.file}@${f.position} ${f.field} ^0x${f.mask.toString(16).padStart(2, '0')} → ${r.cls}` +
      ` [${how.join(' ') || 'nothing reported'}] missing=${r.missing}${r.wrongUnprotected.length > 0 ? ` unprotected-damage=${r.wrongUnprotected.length}` : ''}` +
      ` usable=${r.usable === null ? '-' : r.usable ? 'y' : 'n'} ${Math.round(r.durationMs)}ms ${flag}`,
  ];
  for (const line of [...r.wrong, ...r.errors].slice(0, 5)) lines.push(`    ${line}`);
  if (trialFails(r) || r.cls === 'undetected') {
    for (const line of [...r.wrongUnprotected, ...r.verifyProblems, ...r.recoveryEvents].slice(0, 3)) lines.push(`    ${line}`);
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------------
// The campaign

export interface CampaignOptions {
  seed: number;
  trials: number;
  puts: number;
  variants: readonly Variant[];
  fileTypes?: readonly FileType[];
  dir?: string | undefined;
  onTrial?: (r: TrialResult) => void;
}

export interface CampaignResult {
  results: TrialResult[];
  messages: Record<Variant, number>;
}

/**
 * Trial t uses variant t mod |variants|, file type (t / |variants|) mod 4 and an abort file
 * every other round of file types, so each cell gets its share; the byte comes from (seed, t).
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const parentDir = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'mqstore-corruption-'));
  const fileTypes = options.fileTypes ?? FILE_TYPES;
  const results: TrialResult[] = [];
  const messages = { plain: 0, crc: 0 };
  try {
    const pristines = new Map<Variant, Pristine>();
    for (const variant of options.variants) {
      const pristine = await buildPristine(variant, options.seed, options.puts, parentDir);
      pristines.set(variant, pristine);
      messages[variant] = pristine.messages.length;
    }
    for (let t = 0; t < options.trials; t++) {
      const variant = options.variants[t % options.variants.length]!;
      const round = Math.floor(t / options.variants.length);
      const fileType = fileTypes[round % fileTypes.length]!;
      const abort = Math.floor(round / fileTypes.length) % 2 === 1;
      const r = await runTrial(pristines.get(variant)!, t, fileType, abort, parentDir);
      results.push(r);
      options.onTrial?.(r);
    }
  } finally {
    fs.rmSync(parentDir, { recursive: true, force: true });
  }
  return { results, messages };
}

const COLUMNS = ['trials', 'detected', 'by recovery', 'by verify', 'verify names file', 'repaired', 'refused', 'undetected harmless', 'undetected unprotected field', 'undetected', 'wrong message', 'failed', 'detected %'] as const;

/** The per-variant, per-file-type table (markdown). */
export function summaryTable(results: readonly TrialResult[]): string {
  const rows: string[] = [`| variant | file type | ${COLUMNS.join(' | ')} |`, `|---|---|${COLUMNS.map(() => '---:').join('|')}|`];
  const variants = [...new Set(results.map((r) => r.variant))];
  for (const variant of variants) {
    for (const fileType of FILE_TYPES) {
      const cell = results.filter((r) => r.variant === variant && r.flip.fileType === fileType);
      if (cell.length === 0) continue;
      const count = (p: (r: TrialResult) => boolean): number => cell.filter(p).length;
      const detected = count((r) => r.cls === 'detected' || r.cls === 'refused');
      const values = [
        cell.length,
        detected,
        count((r) => r.recoveryEvents.length > 0 || r.warnings > 0),
        count((r) => r.verifyProblems.length > 0),
        count((r) => r.verifyNamesFile),
        count((r) => r.repaired),
        count((r) => r.cls === 'refused'),
        count((r) => r.cls === 'undetected-harmless'),
        count((r) => r.cls === 'undetected-unprotected'),
        count((r) => r.cls === 'undetected'),
        count((r) => r.cls === 'wrong-message'),
        count((r) => r.cls === 'failed'),
        `${((100 * detected) / cell.length).toFixed(1)} %`,
      ];
      rows.push(`| ${variant} | ${fileType} | ${values.join(' | ')} |`);
    }
  }
  return rows.join('\n');
}
