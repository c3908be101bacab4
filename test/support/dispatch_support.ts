// Helpers for the integration tests of the dispatcher and its derived files (consume queues, hash
// index, retention): a store in its own temp dir that can be closed and reopened, waiting for
// dispatch, reading a whole queue through getMessage, Java's String.hashCode, and recovery
// warnings captured from the process.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import {
  GetMessageStatus,
  MessageStore,
  PutMessageStatus,
  type GetMessageResult,
  type MessageExt,
  type MessageInput,
  type MessageStoreInternals,
  type MessageStoreOptions,
  type PutMessageResult,
} from '../../src/index.js';

export type StoreOptions = Omit<MessageStoreOptions, 'storePathRootDir'>;

/** Java's String.hashCode (UTF-16 code units, 32-bit wrap), written out here on purpose. */
export function javaHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A store in a fresh temp dir, removed after the test; whichever store is open at the end is
 * closed first. `reopen()` closes the current one cleanly and opens the directory again.
 */
export class TempStore {
  readonly root: string;
  private current: MessageStore | null = null;
  private options: StoreOptions;
  private internals: MessageStoreInternals;

  private constructor(root: string, options: StoreOptions, internals: MessageStoreInternals) {
    this.root = root;
    this.options = options;
    this.internals = internals;
  }

  static async open(t: TestContext, prefix: string, options: StoreOptions = {}, internals: MessageStoreInternals = {}): Promise<TempStore> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `mqstore-${prefix}-`));
    const temp = new TempStore(root, options, internals);
    t.after(async () => {
      try {
        await temp.current?.close();
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
    temp.current = await MessageStore.open({ storePathRootDir: root, ...options }, internals);
    return temp;
  }

  get store(): MessageStore {
    assert.ok(this.current !== null, 'the store is open');
    return this.current;
  }

  /** Closes the open store (if any) cleanly. */
  async close(): Promise<void> {
    const store = this.current;
    this.current = null;
    await store?.close();
  }

  /** Closes (if open) and opens the directory again, optionally with other options. */
  async reopen(options: StoreOptions = this.options, internals: MessageStoreInternals = this.internals): Promise<MessageStore> {
    await this.close();
    this.options = options;
    this.internals = internals;
    this.current = await MessageStore.open({ storePathRootDir: this.root, ...options }, internals);
    return this.current;
  }

  path(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }
}

/**
 * Waits until the dispatcher has caught up with every put so far: dispatchBehindBytes() is 0
 * and the consume queue ranges the main thread knows agree with the accepted queue offsets of
 * `queues` (when given). The second check is needed because dispatchBehindBytes() can reach 0
 * before the main thread has the new ranges (test/integration/dispatch_max_offset.test.ts).
 * Polls with a small sleep; fails after `timeoutMs`.
 */
export async function waitDispatched(store: MessageStore, queues: ReadonlyArray<readonly [string, number]> = [], timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const behind = store.dispatchBehindBytes();
    const lagging = queues.filter(([topic, queueId]) => store.getMaxOffsetInQueue(topic, queueId, true) !== store.getMaxOffsetInQueue(topic, queueId, false));
    if (behind === 0 && lagging.length === 0) return;
    if (performance.now() > deadline) {
      assert.fail(`dispatch did not catch up within ${timeoutMs} ms: ${behind} bytes behind, ${lagging.length} queue(s) lagging`);
    }
    await sleep(5);
  }
}

export async function putOk(store: MessageStore, msg: MessageInput): Promise<PutMessageResult> {
  const result = await store.putMessage(msg);
  assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK, `put to ${msg.topic}/${msg.queueId}: ${result.error?.message ?? ''}`);
  assert.ok(result.appendMessageResult !== undefined);
  return result;
}

/** Puts every message, `chunk` at a time in flight (Promise.all per chunk); results in order. */
export async function putAll(store: MessageStore, messages: readonly MessageInput[], chunk = 200): Promise<PutMessageResult[]> {
  const results: PutMessageResult[] = [];
  for (let i = 0; i < messages.length; i += chunk) {
    const batch = await Promise.all(messages.slice(i, i + chunk).map((msg) => store.putMessage(msg)));
    for (const [j, result] of batch.entries()) {
      assert.equal(result.putMessageStatus, PutMessageStatus.PUT_OK, `put ${i + j}: ${result.error?.message ?? ''}`);
      results.push(result);
    }
  }
  return results;
}

export interface QueueRead {
  messages: MessageExt[];
  /** Every result of the loop, the last one (OFFSET_OVERFLOW_ONE) included. */
  results: GetMessageResult[];
}

/**
 * Reads a queue from `from` to its end with getMessage, following nextBeginOffset, until
 * OFFSET_OVERFLOW_ONE. Every FOUND must move forward; at most `roundsMax` calls.
 */
export async function readQueue(
  store: MessageStore,
  topic: string,
  queueId: number,
  options: { from?: number; maxMsgNums?: number; tags?: string[]; roundsMax?: number } = {},
): Promise<QueueRead> {
  const messages: MessageExt[] = [];
  const results: GetMessageResult[] = [];
  let offset = options.from ?? 0;
  const roundsMax = options.roundsMax ?? 100_000;
  for (let round = 0; round < roundsMax; round++) {
    const result = await store.getMessage({
      group: 'test-group',
      topic,
      queueId,
      offset,
      maxMsgNums: options.maxMsgNums ?? 32,
      subscription: options.tags === undefined ? undefined : { tags: options.tags },
    });
    results.push(result);
    if (result.status === GetMessageStatus.OFFSET_OVERFLOW_ONE || result.status === GetMessageStatus.NO_MESSAGE_IN_QUEUE) {
      return { messages, results };
    }
    assert.ok(
      result.status === GetMessageStatus.FOUND || result.status === GetMessageStatus.NO_MATCHED_MESSAGE,
      `${topic}/${queueId} at ${offset}: unexpected status ${result.status} (next ${result.nextBeginOffset}, range [${result.minOffset}, ${result.maxOffset}))`,
    );
    assert.ok(result.nextBeginOffset > offset, `${topic}/${queueId}: nextBeginOffset ${result.nextBeginOffset} does not move past ${offset}`);
    messages.push(...result.messages);
    offset = result.nextBeginOffset;
  }
  assert.fail(`${topic}/${queueId}: not read to its end in ${roundsMax} calls`);
}

/** The fields a reader compares, in a form deepEqual can compare across reopen. */
export function messageView(message: MessageExt): Record<string, unknown> {
  return {
    topic: message.topic,
    queueId: message.queueId,
    queueOffset: message.queueOffset,
    commitLogOffset: message.commitLogOffset,
    storeSize: message.storeSize,
    storeTimestamp: message.storeTimestamp,
    tags: message.tags,
    keys: message.keys,
    body: message.body.toString('base64'),
    msgId: message.msgId,
  };
}

/** Collects process warnings with `code` emitted while `work` runs. */
export async function captureWarnings<T>(code: string, work: () => Promise<T>): Promise<{ value: T; warnings: string[] }> {
  const warnings: string[] = [];
  const listener = (warning: Error & { code?: string }): void => {
    if (warning.code === code) warnings.push(warning.message);
  };
  process.on('warning', listener);
  try {
    const value = await work();
    // process.emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    await sleep(10);
    return { value, warnings };
  } finally {
    process.off('warning', listener);
  }
}

/** Sum of st_blocks × 512 of every file under `dir` (what `du` counts). */
export function allocatedBytes(dir: string): { bytes: number; files: number; apparentBytes: number } {
  let bytes = 0;
  let files = 0;
  let apparentBytes = 0;
  const walk = (at: string): void => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const info = fs.statSync(full);
        bytes += info.blocks * 512;
        apparentBytes += info.size;
        files += 1;
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return { bytes, files, apparentBytes };
}

/** The 20-digit file name of a start offset. */
export function fileName20(start: number): string {
  return String(start).padStart(20, '0');
}
