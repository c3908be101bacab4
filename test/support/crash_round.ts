// One implementation of the SIGKILL crash round, shared by test/integration/crash_recovery.test.ts
// and native-free-bench/crash_loop.ts:
//
//   spawn crash_writer_child ─► "ready" ─► sleep 50..400 ms ─► SIGKILL ─► 'exit'
//     ─► MessageStore.open (abnormal recovery) ─► check acks + walk the whole log ─► close
//
// Every body is regenerated from (stream seed, put index, slot), so any record in the log can be
// checked byte for byte, acknowledged or not. All rounds of a campaign use one store directory:
// recovery runs over a growing log with many 64 KiB segments, and every earlier acknowledgement
// must still hold after every later crash.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageStore, type FlushDiskType, type MessageExt, type RecoverySummary } from '../../src/index.js';
import { MAGIC_BLANK } from '../../src/format/commit_log_record.js';
import { applyPowerLoss, type PowerLossMode, type PowerLossReport } from './power_loss_storage.js';
import { Prng } from './prng.js';

export { Prng };

/** Small segments, so a round rolls many of them. */
export const CRASH_SEGMENT_BYTES = 64 * 1024;
export const CRASH_TOPICS = ['CrashTopicA', 'CrashTopicB', 'CrashTopicC', 'CrashTopicD'] as const;
export const CRASH_QUEUES_PER_TOPIC = 4;
export const CRASH_FILLER_BYTES_MAX = 3000;
export const CRASH_BATCH_COUNT_MAX = 8;
/**
 * Power-loss rounds keep every file's contents in memory while replaying the journal: small
 * consume queue and index files (the parent reopens with the same values). A torn last write
 * can cut a record inside its topic or properties, which the body CRC does not cover: these
 * stores append RocketMQ 5's record CRC and recovery requires it.
 */
export const POWER_LOSS_STORE_OPTIONS = {
  mappedFileSizeConsumeQueue: 20 * 1000,
  maxHashSlotNum: 512,
  maxIndexNum: 4096,
  enabledAppendPropCRC: true,
  forceVerifyPropCRC: true,
} as const;
const BODY_MAGIC = 'mqcrash';
const PROBLEMS_MAX = 50;

/** The compiled child script, next to this module in dist/test/support/. */
export const CRASH_CHILD_PATH = fileURLToPath(new URL('./crash_writer_child.js', import.meta.url));

// ------------------------------------------------------------------------------------------
// The deterministic message stream

/** murmur3's finalizer over two words: a well-spread 32-bit seed from (a, b). */
export function mix32(a: number, b: number): number {
  let h = (a ^ Math.imul(b | 0, 0x9e3779b1)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Put number `putIndex` of the stream `seed`: where it goes and how many messages it holds. */
export interface PutSpec {
  seed: number;
  putIndex: number;
  topic: string;
  queueId: number;
  /** putMessages (a batch, possibly of one) rather than putMessage. */
  batch: boolean;
  count: number;
}

export function putSpec(seed: number, putIndex: number): PutSpec {
  const prng = new Prng(mix32(seed, putIndex));
  const topic = CRASH_TOPICS[prng.below(CRASH_TOPICS.length)]!;
  const queueId = prng.below(CRASH_QUEUES_PER_TOPIC);
  const batch = prng.below(10) < 4;
  const count = batch ? prng.inRange(1, CRASH_BATCH_COUNT_MAX) : 1;
  return { seed, putIndex, topic, queueId, batch, count };
}

/** "seed:putIndex:slot": the identity of one message of the stream. */
export function messageKey(seed: number, putIndex: number, slot: number): string {
  return `${seed}:${putIndex}:${slot}`;
}

/** The exact body of message `slot` of put `spec`: a text header, then 0..3000 filler bytes. */
export function messageBody(spec: PutSpec, slot: number): Buffer {
  const prng = new Prng(mix32(mix32(spec.seed, spec.putIndex), slot + 1));
  const fillerBytes = prng.below(CRASH_FILLER_BYTES_MAX + 1);
  const header = Buffer.from(`${BODY_MAGIC}:${spec.seed}:${spec.putIndex}:${slot}:${spec.topic}:${spec.queueId}:${fillerBytes}\n`, 'latin1');
  const body = Buffer.allocUnsafe(header.length + fillerBytes);
  header.copy(body, 0);
  for (let i = header.length; i < body.length; i++) body[i] = prng.nextUint32() >>> 24;
  return body;
}

export function messageTags(spec: PutSpec): string {
  return `tag-${spec.putIndex % 7}`;
}

export function messageKeys(spec: PutSpec, slot: number): string[] {
  return [`k-${messageKey(spec.seed, spec.putIndex, slot).replaceAll(':', '-')}`];
}

/** (seed, putIndex, slot) from a body header, or null when the body is not from the stream. */
export function parseBodyHeader(body: Buffer): { seed: number; putIndex: number; slot: number } | null {
  const end = body.indexOf(0x0a);
  if (end < 0 || end > 128) return null;
  const fields = body.toString('latin1', 0, end).split(':');
  if (fields.length !== 7 || fields[0] !== BODY_MAGIC) return null;
  const [seed, putIndex, slot] = [Number(fields[1]), Number(fields[2]), Number(fields[3])];
  if (![seed, putIndex, slot].every((n) => Number.isSafeInteger(n) && n >= 0)) return null;
  return { seed, putIndex, slot };
}

// ------------------------------------------------------------------------------------------
// Acknowledgements: one line per PUT_OK, appended by the child with O_APPEND

export interface Ack {
  seed: number;
  putIndex: number;
  topic: string;
  queueId: number;
  logicsOffset: number;
  wroteOffset: number;
  msgNum: number;
  wroteBytes: number;
}

export function formatAck(ack: Ack): string {
  return `A,${ack.seed},${ack.putIndex},${ack.topic},${ack.queueId},${ack.logicsOffset},${ack.wroteOffset},${ack.msgNum},${ack.wroteBytes}\n`;
}

/** Parses an ack file; a last line without its newline (cut by the kill) is not an ack. */
export function parseAcks(text: string, problems: string[]): Ack[] {
  const acks: Ack[] = [];
  const lines = text.split('\n');
  lines.pop(); // Either '' after the last newline, or a partial line.
  for (const line of lines) {
    const f = line.split(',');
    const numbers = [f[1], f[2], f[4], f[5], f[6], f[7], f[8]].map(Number);
    if (f.length !== 9 || f[0] !== 'A' || !numbers.every((n) => Number.isSafeInteger(n))) {
      problems.push(`unreadable ack line ${JSON.stringify(line)}`);
      continue;
    }
    const [seed, putIndex, queueId, logicsOffset, wroteOffset, msgNum, wroteBytes] = numbers as [number, number, number, number, number, number, number];
    acks.push({ seed, putIndex, topic: f[3]!, queueId, logicsOffset, wroteOffset, msgNum, wroteBytes });
  }
  return acks;
}

// ------------------------------------------------------------------------------------------
// Checking a reopened store

/** What the walk learned about one record, kept for the acks of later rounds. */
interface WalkedRecord {
  key: string;
  queueOffset: number;
  storeSize: number;
}

interface Walk {
  records: Map<number, WalkedRecord>;
  /** Where the log starts (retention deletes from the front). */
  startPhysicalOffset: number;
  endPhysicalOffset: number;
  blanks: number;
}

function segmentFile(commitLogDir: string, startOffset: number): string {
  return path.join(commitLogDir, String(startOffset).padStart(20, '0'));
}

/** The (totalSize, magic) header at `physicalOffset`, read from the segment file itself. */
function rawHeader(commitLogDir: string, segmentSizeBytes: number, physicalOffset: number): { totalSize: number; magic: number } | string {
  const start = physicalOffset - (physicalOffset % segmentSizeBytes);
  let fd: number;
  try {
    fd = fs.openSync(segmentFile(commitLogDir, start), fs.constants.O_RDONLY);
  } catch (error) {
    return `segment ${start} unreadable: ${(error as Error).message}`;
  }
  try {
    const header = Buffer.alloc(8);
    const got = fs.readSync(fd, header, 0, 8, physicalOffset - start);
    if (got !== 8) return `short read of ${got} bytes`;
    return { totalSize: header.readInt32BE(0), magic: header.readInt32BE(4) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Checks one decoded record against the stream; returns its key or null (problem noted). */
function checkStreamRecord(message: MessageExt, problems: string[]): { key: string; spec: PutSpec; slot: number } | null {
  const where = `record at ${message.commitLogOffset}`;
  const id = parseBodyHeader(message.body);
  if (id === null) {
    problems.push(`${where}: body is not from the crash stream`);
    return null;
  }
  const spec = putSpec(id.seed, id.putIndex);
  const key = messageKey(id.seed, id.putIndex, id.slot);
  if (id.slot >= spec.count) problems.push(`${where} (${key}): slot ${id.slot} but the put holds ${spec.count}`);
  if (message.topic !== spec.topic || message.queueId !== spec.queueId) {
    problems.push(`${where} (${key}): in ${message.topic}/${message.queueId}, expected ${spec.topic}/${spec.queueId}`);
  }
  if (!message.body.equals(messageBody(spec, id.slot))) problems.push(`${where} (${key}): body differs from the stream`);
  if (message.tags !== messageTags(spec)) problems.push(`${where} (${key}): tags ${String(message.tags)}`);
  if (message.keys.join(' ') !== messageKeys(spec, id.slot).join(' ')) problems.push(`${where} (${key}): keys ${message.keys.join(' ')}`);
  return { key, spec, slot: id.slot };
}

/**
 * Walks the whole log with lookMessageByOffset from getMinPhyOffset() to getMaxPhyOffset(). A
 * null must be a BLANK closing its segment (checked in the file); anything else is a torn or
 * invalid record. Queue offsets must run 0,1,2,… per queue, and no message may appear twice.
 * A batch shows its slots in order; only a batch cut by a kill (the next record is from a later
 * round, or the log ends) may stop early.
 */
async function walkLog(store: MessageStore, commitLogDir: string, segmentSizeBytes: number, problems: string[], retention: boolean): Promise<Walk> {
  const records = new Map<number, WalkedRecord>();
  const nextQueueOffset = new Map<string, number>();
  const seen = new Set<string>();
  const minPhysicalOffset = store.getMinPhyOffset();
  const maxPhysicalOffset = store.getMaxPhyOffset();
  let blanks = 0;
  if (minPhysicalOffset < 0) {
    if (maxPhysicalOffset % segmentSizeBytes !== 0) problems.push(`empty log (min -1) but max ${maxPhysicalOffset}`);
    return { records, startPhysicalOffset: maxPhysicalOffset, endPhysicalOffset: maxPhysicalOffset, blanks };
  }
  if (minPhysicalOffset !== 0 && !retention) problems.push(`min physical offset ${minPhysicalOffset}, expected 0 (nothing is ever deleted)`);
  if (minPhysicalOffset % segmentSizeBytes !== 0) problems.push(`min physical offset ${minPhysicalOffset} is not a segment start`);
  let open: { spec: PutSpec; nextSlot: number } | null = null; // The batch being walked.
  let at = minPhysicalOffset;
  while (at < maxPhysicalOffset && problems.length < PROBLEMS_MAX) {
    const message = await store.lookMessageByOffset(at);
    if (message === null) {
      const segmentEnd = at - (at % segmentSizeBytes) + segmentSizeBytes;
      const header = rawHeader(commitLogDir, segmentSizeBytes, at);
      if (typeof header === 'string' || header.magic !== MAGIC_BLANK || header.totalSize !== segmentEnd - at) {
        problems.push(`torn or invalid record at ${at} (log end ${maxPhysicalOffset}): ${typeof header === 'string' ? header : `size ${header.totalSize} magic 0x${(header.magic >>> 0).toString(16)}`}`);
        break;
      }
      blanks++;
      at = segmentEnd;
      continue;
    }
    const checked = checkStreamRecord(message, problems);
    if (checked !== null) {
      const { key, spec, slot } = checked;
      if (seen.has(key)) problems.push(`message ${key} appears twice (again at ${at})`);
      seen.add(key);
      if (open !== null && !(open.spec.seed === spec.seed && open.spec.putIndex === spec.putIndex && slot === open.nextSlot)) {
        if (spec.seed === open.spec.seed) problems.push(`batch ${messageKey(open.spec.seed, open.spec.putIndex, open.nextSlot)} is cut mid-log by ${key} at ${at}`);
        open = null;
      }
      if (open === null && slot !== 0) problems.push(`message ${key} at ${at} is not preceded by slot ${slot - 1} of its batch`);
      open = slot + 1 < spec.count ? { spec, nextSlot: slot + 1 } : null;
      const queue = `${message.topic}/${message.queueId}`;
      // After retention a queue's first message left is wherever deletion stopped.
      const expected = nextQueueOffset.get(queue) ?? (retention ? message.queueOffset : 0);
      if (message.queueOffset !== expected) problems.push(`queue ${queue}: offset ${message.queueOffset} at ${at}, expected ${expected}`);
      nextQueueOffset.set(queue, message.queueOffset + 1);
      records.set(at, { key, queueOffset: message.queueOffset, storeSize: message.storeSize });
    }
    at += message.storeSize;
  }
  if (problems.length === 0 && at !== maxPhysicalOffset) problems.push(`walk ended at ${at}, the log ends at ${maxPhysicalOffset}`);
  return { records, startPhysicalOffset: minPhysicalOffset, endPhysicalOffset: at, blanks };
}

/** Every message of every ack: at the acknowledged offsets, with the acknowledged identity. */
function checkAcksAgainstWalk(acks: readonly Ack[], walk: Walk, problems: string[]): number {
  let checked = 0;
  for (const ack of acks) {
    if (problems.length >= PROBLEMS_MAX) break;
    if (ack.wroteOffset < walk.startPhysicalOffset) continue; // Deleted by retention.
    const spec = putSpec(ack.seed, ack.putIndex);
    const what = `ack ${messageKey(ack.seed, ack.putIndex, 0)}`;
    if (ack.topic !== spec.topic || ack.queueId !== spec.queueId || ack.msgNum !== spec.count) {
      problems.push(`${what}: acknowledged ${ack.topic}/${ack.queueId} ×${ack.msgNum}, sent ${spec.topic}/${spec.queueId} ×${spec.count}`);
      continue;
    }
    let physical = ack.wroteOffset;
    for (let slot = 0; slot < spec.count; slot++) {
      const record = walk.records.get(physical);
      const key = messageKey(ack.seed, ack.putIndex, slot);
      if (record === undefined) {
        problems.push(`${what}: acknowledged message ${key} is missing at ${physical} (log end ${walk.endPhysicalOffset})`);
        break;
      }
      if (record.key !== key) problems.push(`${what}: at ${physical} found ${record.key}, acknowledged ${key}`);
      if (record.queueOffset !== ack.logicsOffset + slot) {
        problems.push(`${what}: ${key} has queue offset ${record.queueOffset}, acknowledged ${ack.logicsOffset + slot}`);
      }
      physical += record.storeSize;
      checked++;
    }
    if (physical - ack.wroteOffset !== ack.wroteBytes) problems.push(`${what}: records span ${physical - ack.wroteOffset} bytes, acknowledged ${ack.wroteBytes}`);
  }
  return checked;
}

/** (a) literally: lookMessageByOffset at each acknowledged wroteOffset, bytes compared. */
async function lookUpAcks(store: MessageStore, acks: readonly Ack[], problems: string[]): Promise<void> {
  const minPhysicalOffset = store.getMinPhyOffset();
  for (const ack of acks) {
    if (problems.length >= PROBLEMS_MAX) return;
    if (ack.wroteOffset < minPhysicalOffset) continue; // Deleted by retention.
    const spec = putSpec(ack.seed, ack.putIndex);
    let physical = ack.wroteOffset;
    for (let slot = 0; slot < ack.msgNum; slot++) {
      const key = messageKey(ack.seed, ack.putIndex, slot);
      const message = await store.lookMessageByOffset(physical);
      if (message === null) {
        problems.push(`lookMessageByOffset(${physical}) is null for acknowledged ${key}`);
        break;
      }
      const ok =
        message.topic === ack.topic &&
        message.queueId === ack.queueId &&
        message.queueOffset === ack.logicsOffset + slot &&
        message.body.equals(messageBody(spec, slot));
      if (!ok) problems.push(`lookMessageByOffset(${physical}) is ${message.topic}/${message.queueId}@${message.queueOffset}, not acknowledged ${key}`);
      physical += message.storeSize;
    }
  }
}

// ------------------------------------------------------------------------------------------
// The child process

interface ChildRun {
  /** What the child's own open found (the parent closed cleanly before it, except round 0). */
  childRecovery: Pick<RecoverySummary, 'mode' | 'fullScan' | 'endPhysicalOffset'> | null;
  readyMs: number;
  killed: boolean;
  stderr: string;
  problems: string[];
}

const READY_TIMEOUT_MS = 20000;

/**
 * Runs the child and SIGKILLs it `killAfterMs` after it is ready, or with `early` that long
 * after it was spawned, whatever it is doing (its own open and recovery included).
 */
async function runChild(args: string[], killAfterMs: number, early = false): Promise<ChildRun> {
  const startedMs = performance.now();
  const child = spawn(process.execPath, [CRASH_CHILD_PATH, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  // 'close' comes after 'exit' and after the last stderr chunk: the lock is released by then.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 16384) stderr += chunk;
  });
  const ready = new Promise<string | null>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = /^ready (.*)\n/m.exec(stdout);
      if (line !== null) resolve(line[1]!);
    });
    void exited.then(() => resolve(null));
    setTimeout(() => resolve(null), READY_TIMEOUT_MS).unref();
  });
  const problems: string[] = [];
  let readyLine: string | null;
  if (early) {
    await new Promise((resolve) => setTimeout(resolve, killAfterMs));
    readyLine = /^ready (.*)\n/m.exec(stdout)?.[1] ?? null;
  } else {
    readyLine = await ready;
  }
  const readyMs = performance.now() - startedMs;
  let childRecovery: ChildRun['childRecovery'] = null;
  if (readyLine === null) {
    if (!early) problems.push(`child never reported ready (stderr: ${stderr.trim() || '-'})`);
  } else {
    childRecovery = JSON.parse(readyLine) as ChildRun['childRecovery'];
    if (!early) await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  }
  const aliveBeforeKill = child.exitCode === null && child.signalCode === null;
  child.kill('SIGKILL');
  const exit = await exited;
  const killed = aliveBeforeKill && exit.signal === 'SIGKILL';
  if ((readyLine !== null || early) && !killed) problems.push(`child exited by itself (code ${exit.code}, signal ${exit.signal}); stderr: ${stderr.trim() || '-'}`);
  // STORE FAILED / UNEXPECTED come from the child; MQSTORE_RECOVERY warnings from its own open.
  if (/STORE FAILED|UNEXPECTED|MQSTORE_RECOVERY/.test(stderr)) problems.push(`child reported: ${stderr.trim()}`);
  return { childRecovery, readyMs, killed, stderr, problems };
}

// ------------------------------------------------------------------------------------------
// The campaign: rounds against one store directory

export interface CrashCampaignOptions {
  /** A fresh directory; the store goes in `<dir>/store`, ack files in `<dir>/acks`. */
  dir: string;
  seed: number;
  /** Default: every 4th round (3, 7, 11…) ASYNC_FLUSH, the rest SYNC_FLUSH. */
  flushDiskTypeFor?: (round: number) => FlushDiskType;
  killAfterMsMin?: number;
  killAfterMsMax?: number;
  concurrency?: number;
  /** Cap on the child's body bytes per second (0 = none); keeps the full walk per round short. */
  rateBytesPerSecond?: number;
  /**
   * Rounds that kill the child 20–300 ms after it is spawned, ready or not: during its open and
   * recovery of the previous round's crash (default: every 5th round, 4, 9, 14…).
   */
  killEarlyFor?: (round: number) => boolean;
  /**
   * Rounds whose child also runs retention (fileReservedTime 0, deleteExpiredFilesManually every
   * 30 ms), so kills land during deletions too (default: every 6th round, 5, 11, 17…).
   */
  retentionFor?: (round: number) => boolean;
  /**
   * Cut the power instead of only killing the process: the child journals every change and the
   * store is rewritten to what a power cut leaves (test/support/power_loss_storage.ts); null
   * for a plain SIGKILL round. ASYNC_FLUSH acknowledgements past the durable end may then be
   * lost, but only as a suffix of the log.
   */
  powerLossFor?: (round: number) => PowerLossMode | null;
}

export interface RoundReport {
  round: number;
  /** The seed of this round's message stream (the campaign seed identifies the whole run). */
  streamSeed: number;
  flushDiskType: FlushDiskType;
  killAfterMs: number;
  /** Killed that long after the spawn, maybe during the child's own open and recovery. */
  killedEarly: boolean;
  /** The store was left crashed for the next (early-kill) round, which checks these acks. */
  checkDeferred: boolean;
  /** This round's child ran retention (kills during deletions; old acks may be gone). */
  retention: boolean;
  killed: boolean;
  /** Puts and messages acknowledged in this round. */
  ackedPuts: number;
  ackedMessages: number;
  /** Acknowledged messages of all rounds so far, all checked this round. */
  checkedMessages: number;
  walkedRecords: number;
  blanks: number;
  logEndPhysicalOffset: number;
  recovery: RecoverySummary | null;
  childRecovery: ChildRun['childRecovery'];
  timings: { readyMs: number; openMs: number; verifyMs: number; roundMs: number };
  /** The power cut of this round, if any. */
  powerLoss: (PowerLossReport & { mode: PowerLossMode }) | null;
  /** ASYNC_FLUSH messages acknowledged but past the durable end at the power cut (allowed). */
  lostAsyncMessages: number;
  problems: string[];
}

export class CrashCampaign {
  readonly storeDir: string;
  readonly commitLogDir: string;
  private readonly ackDir: string;
  private readonly options: Required<CrashCampaignOptions>;
  private readonly prng: Prng;
  /** Every acknowledgement of every round so far. */
  private readonly history: Ack[] = [];
  /** The last round ended with the parent's clean close (not left crashed for the next). */
  private closedCleanly = true;
  /** Some child ran retention: the log may start past 0 and old acks may be gone. */
  private retentionSeen = false;

  constructor(options: CrashCampaignOptions) {
    this.options = {
      flushDiskTypeFor: (round) => (round % 4 === 3 ? 'ASYNC_FLUSH' : 'SYNC_FLUSH'),
      killAfterMsMin: 50,
      killAfterMsMax: 400,
      concurrency: 16,
      rateBytesPerSecond: 2 * 1024 * 1024,
      powerLossFor: () => null,
      killEarlyFor: (round) => round % 5 === 4,
      retentionFor: (round) => round % 6 === 5,
      ...options,
    };
    this.storeDir = path.join(options.dir, 'store');
    this.commitLogDir = path.join(this.storeDir, 'commitlog');
    this.ackDir = path.join(options.dir, 'acks');
    fs.mkdirSync(this.ackDir, { recursive: true, mode: 0o755 });
    this.prng = new Prng(mix32(options.seed, 0x6b111));
  }

  get ackedMessagesTotal(): number {
    let total = 0;
    for (const ack of this.history) total += ack.msgNum;
    return total;
  }

  /** Options for every open of the store in this campaign. */
  storeOptions(flushDiskType: FlushDiskType): { storePathRootDir: string; mappedFileSizeCommitLog: number; flushDiskType: FlushDiskType } {
    // A campaign with power cuts uses the small derived files in every open (they are fixed
    // for the life of a store).
    const derived = this.options.powerLossFor(0) !== null || this.options.powerLossFor(1) !== null ? POWER_LOSS_STORE_OPTIONS : {};
    return { storePathRootDir: this.storeDir, mappedFileSizeCommitLog: CRASH_SEGMENT_BYTES, flushDiskType, ...derived };
  }

  /** Runs the child, kills it, reopens the store, checks everything, closes the store. */
  async runRound(round: number): Promise<RoundReport> {
    const startedMs = performance.now();
    const streamSeed = mix32(this.options.seed, round + 1);
    const flushDiskType = this.options.flushDiskTypeFor(round);
    const early = this.options.killEarlyFor(round);
    const killAfterMs = early ? this.prng.inRange(20, 300) : this.prng.inRange(this.options.killAfterMsMin, this.options.killAfterMsMax);
    const ackFile = path.join(this.ackDir, `round-${round}.acks`);
    const powerLossMode = this.options.powerLossFor(round);
    const retention = this.options.retentionFor(round);
    if (retention) this.retentionSeen = true;
    const snapshotDir = path.join(this.options.dir, 'power-snapshot');
    const journal = path.join(this.options.dir, `round-${round}.journal`);
    if (powerLossMode !== null) {
      fs.mkdirSync(this.storeDir, { recursive: true });
      fs.rmSync(snapshotDir, { recursive: true, force: true });
      fs.cpSync(this.storeDir, snapshotDir, { recursive: true });
    }
    const child = await runChild(
      ['--dir', this.storeDir, '--seed', String(streamSeed), '--flush', flushDiskType, '--ack', ackFile,
        '--segment-bytes', String(CRASH_SEGMENT_BYTES), '--concurrency', String(this.options.concurrency),
        '--rate-bytes', String(this.options.rateBytesPerSecond), ...(powerLossMode !== null ? ['--power-journal', journal] : []),
        ...(retention ? ['--retention-ms', '30'] : [])],
      killAfterMs,
      early,
    );
    const problems = [...child.problems];
    if (round > 0 && this.closedCleanly && child.childRecovery !== null && (child.childRecovery.mode !== 'normal' || child.childRecovery.fullScan)) {
      problems.push(`the child's open after a clean close recovered in mode ${child.childRecovery.mode}, fullScan ${child.childRecovery.fullScan}`);
    }
    let powerLoss: RoundReport['powerLoss'] = null;
    if (powerLossMode !== null) {
      try {
        powerLoss = { mode: powerLossMode, ...applyPowerLoss({ journal, snapshotDir, storeDir: this.storeDir, mode: powerLossMode, seed: mix32(streamSeed, 0x9041) }) };
      } catch (error) {
        problems.push(`applying the power cut failed: ${(error as Error).stack ?? String(error)}`);
      } finally {
        fs.rmSync(snapshotDir, { recursive: true, force: true });
        fs.rmSync(journal, { force: true });
      }
    }
    let acks = fs.existsSync(ackFile) ? parseAcks(fs.readFileSync(ackFile, 'latin1'), problems) : [];
    for (const ack of acks) if (ack.seed !== streamSeed) problems.push(`ack of stream ${ack.seed} in round ${round}`);
    // Before an early-kill round the store stays crashed, so that child is killed during the
    // recovery of this crash; its acks are checked after the next round.
    if (powerLossMode === null && this.options.powerLossFor(round + 1) === null && this.options.killEarlyFor(round + 1)) {
      this.history.push(...acks);
      this.closedCleanly = false;
      return {
        round, streamSeed, flushDiskType, killAfterMs, killedEarly: early, checkDeferred: true, retention, killed: child.killed,
        ackedPuts: acks.length, ackedMessages: acks.reduce((n, a) => n + a.msgNum, 0), checkedMessages: 0, walkedRecords: 0, blanks: 0,
        logEndPhysicalOffset: -1, recovery: null, childRecovery: child.childRecovery,
        timings: { readyMs: child.readyMs, openMs: 0, verifyMs: 0, roundMs: performance.now() - startedMs },
        powerLoss: null, lostAsyncMessages: 0, problems: problems.slice(0, PROBLEMS_MAX),
      };
    }
    this.closedCleanly = true;

    const openStartedMs = performance.now();
    let store: MessageStore | null = null;
    try {
      store = await MessageStore.open(this.storeOptions('SYNC_FLUSH'));
    } catch (error) {
      problems.push(`reopen after the kill failed: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
    }
    const openMs = performance.now() - openStartedMs;
    const verifyStartedMs = performance.now();
    let walk: Walk = { records: new Map(), startPhysicalOffset: 0, endPhysicalOffset: -1, blanks: 0 };
    let checkedMessages = 0;
    const recovery = store?.getRecoveryReport() ?? null;
    let lostAsyncMessages = 0;
    if (powerLoss !== null && store !== null && store.getMaxPhyOffset() < powerLoss.durableCommitLogEnd) {
      // Everything a completed fdatasync covered must still be there (the acks below are only
      // the ones the child lived to write down; this covers the rest).
      problems.push(`recovery ended the log at ${store.getMaxPhyOffset()}, before the durable end ${powerLoss.durableCommitLogEnd}`);
    }
    if (powerLossMode !== null && flushDiskType === 'ASYNC_FLUSH' && store !== null) {
      // ASYNC_FLUSH acknowledges before the fsync: a power cut may take those past the durable
      // end (checked above against the journal), as a suffix; everything before the recovered
      // end must still be there (checked below).
      const end = store.getMaxPhyOffset();
      const kept = acks.filter((ack) => ack.wroteOffset + ack.wroteBytes <= end);
      for (const ack of acks) if (ack.wroteOffset + ack.wroteBytes > end) lostAsyncMessages += ack.msgNum;
      acks = kept;
    }
    this.history.push(...acks);
    if (store !== null && recovery !== null) {
      try {
        // Killed before its open wrote `abort`, the child leaves the store as the last clean close did.
        const opened = !early || child.childRecovery !== null;
        if (child.killed && opened && recovery.mode !== 'abnormal') problems.push(`recovery mode ${recovery.mode} after SIGKILL, expected abnormal`);
        if (child.killed && opened && recovery.lastExitOK) problems.push('recovery saw lastExitOK after SIGKILL');
        for (const event of recovery.events) {
          // After a power cut recovery may find valid records past a cut (a later file's writes
          // reached the disk, an earlier file's did not): those were never acknowledged as
          // durable; the acknowledgement checks below decide.
          if (event.loud && powerLossMode === null) problems.push(`recovery touched acknowledged-durable data: ${event.kind} ${event.file} at ${event.physicalOffset}: ${event.reason}`);
        }
        walk = await walkLog(store, this.commitLogDir, CRASH_SEGMENT_BYTES, problems, this.retentionSeen);
        checkedMessages = checkAcksAgainstWalk(this.history, walk, problems);
        await lookUpAcks(store, acks, problems);
      } catch (error) {
        problems.push(`checking the reopened store threw: ${(error as Error).stack ?? String(error)}`);
      } finally {
        await store.close();
      }
    }
    const verifyMs = performance.now() - verifyStartedMs;
    let ackedMessages = 0;
    for (const ack of acks) ackedMessages += ack.msgNum;
    return {
      round,
      streamSeed,
      flushDiskType,
      killAfterMs,
      killedEarly: early,
      checkDeferred: false,
      retention,
      killed: child.killed,
      ackedPuts: acks.length,
      ackedMessages,
      checkedMessages,
      walkedRecords: walk.records.size,
      blanks: walk.blanks,
      logEndPhysicalOffset: walk.endPhysicalOffset,
      recovery,
      childRecovery: child.childRecovery,
      timings: { readyMs: child.readyMs, openMs, verifyMs, roundMs: performance.now() - startedMs },
      powerLoss,
      lostAsyncMessages,
      problems: problems.slice(0, PROBLEMS_MAX),
    };
  }
}

/** One line per round, for logs and the crash_loop script. */
export function formatRound(seed: number, report: RoundReport): string {
  const t = report.timings;
  const status = report.problems.length === 0 ? 'ok' : `FAIL (${report.problems.length} problems)`;
  return (
    `round ${report.round} seed ${seed} ${report.flushDiskType}${report.retention ? '+retention' : ''} kill@${report.killAfterMs}ms${report.killedEarly ? ' after spawn' : ''} ` +
    `acked ${report.ackedMessages} msgs/${report.ackedPuts} puts, checked ${report.checkedMessages}, ` +
    `log ${report.walkedRecords} records/${Math.ceil(report.logEndPhysicalOffset / CRASH_SEGMENT_BYTES)} segments, ` +
    (report.powerLoss !== null
      ? `power cut (${report.powerLoss.mode}): ${report.powerLoss.droppedWriteBytes} unsynced bytes dropped, ${report.powerLoss.lostEntries} entries lost, ` +
        `${report.lostAsyncMessages} ASYNC acks past the durable end, `
      : '') +
    `recovery ${report.recovery?.mode ?? '-'} ${t.openMs.toFixed(0)}ms, verify ${t.verifyMs.toFixed(0)}ms, ` +
    `round ${t.roundMs.toFixed(0)}ms: ${status}${report.checkDeferred ? ' (left crashed: checked next round)' : ''}`
  );
}
