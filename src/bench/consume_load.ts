// The consume side of `mqstore bench --consume`: one pull loop per queue, reading through
// getMessage (32 messages a pull, as a RocketMQ pull consumer asks) while the senders run, and
// measuring end-to-end latency as RocketMQ's benchmark consumer does: store time to consume
// (S2C) and born time to consume (B2C). Store and born times have millisecond resolution.

import type { MessageStore } from '../message_store.js';
import { LatencyRecorder } from './latency.js';

export interface ConsumeTotals {
  messages: number;
  bodyBytes: number;
  pulls: number;
  /** Pulls answered with anything but FOUND / no new message yet, by status. */
  failures: Record<string, number>;
}

/** Statuses that only mean "nothing to read yet" for a consumer at the end of its queue. */
const WAIT_STATUSES = new Set(['NO_MESSAGE_IN_QUEUE', 'OFFSET_OVERFLOW_ONE', 'NO_MATCHED_MESSAGE']);
const PULL_BATCH = 32;
const IDLE_WAIT_MS = 1;

function emptyTotals(): ConsumeTotals {
  return { messages: 0, bodyBytes: 0, pulls: 0, failures: {} };
}

export class ConsumeLoad {
  readonly storeToConsume = new LatencyRecorder();
  readonly bornToConsume = new LatencyRecorder();
  readonly totals = emptyTotals();
  private intervalTotals = emptyTotals();
  private intervalS2C = new LatencyRecorder();
  private intervalB2C = new LatencyRecorder();
  private readonly store: MessageStore;
  private readonly queues: Array<{ topic: string; queueId: number; queueOffset: number }>;
  private loops: Promise<void>[] = [];
  private producersDone = false;
  private abandoned = false;
  private startMs = 0;
  private lastMessageMs = 0;
  /** Wall-clock times of the start and of the last message read (epoch ms). */
  startedAtMs = 0;
  lastMessageAtMs = 0;
  /** Set when the consumers gave up waiting for messages the store had accepted. */
  timedOut = false;

  constructor(store: MessageStore, topics: readonly string[], queuesPerTopic: number) {
    this.store = store;
    this.queues = [];
    for (const topic of topics) {
      for (let queueId = 0; queueId < queuesPerTopic; queueId++) {
        // From the latest: a reused store's old messages are not part of this run.
        this.queues.push({ topic, queueId, queueOffset: store.getMaxOffsetInQueue(topic, queueId, false) });
      }
    }
  }

  start(): void {
    this.startMs = performance.now();
    this.startedAtMs = Date.now();
    this.lastMessageAtMs = this.startedAtMs;
    this.loops = this.queues.map((queue) => this.pullLoop(queue));
  }

  /**
   * The senders are done: each loop ends once it has read every message its queue accepted.
   * Gives up after `idleTimeoutMs` without a new message (Kafka's consumer --timeout).
   */
  async finish(idleTimeoutMs: number): Promise<void> {
    this.producersDone = true;
    const watchdog = setInterval(() => {
      const lastMs = Math.max(this.lastMessageMs, this.startMs);
      if (performance.now() - lastMs > idleTimeoutMs) {
        this.timedOut = true;
        this.abandoned = true;
      }
    }, 100);
    try {
      await Promise.all(this.loops);
    } finally {
      clearInterval(watchdog);
    }
  }

  /** From the start to the last message read (ms). */
  get runMs(): number {
    return Math.max(0, this.lastMessageMs - this.startMs);
  }

  takeInterval(): { totals: ConsumeTotals; storeToConsume: LatencyRecorder; bornToConsume: LatencyRecorder } {
    const taken = { totals: this.intervalTotals, storeToConsume: this.intervalS2C, bornToConsume: this.intervalB2C };
    this.intervalTotals = emptyTotals();
    this.intervalS2C = new LatencyRecorder();
    this.intervalB2C = new LatencyRecorder();
    return taken;
  }

  private async pullLoop(queue: { topic: string; queueId: number; queueOffset: number }): Promise<void> {
    for (;;) {
      if (this.abandoned) return;
      const result = await this.store.getMessage({
        group: 'mqstore-bench',
        topic: queue.topic,
        queueId: queue.queueId,
        offset: queue.queueOffset,
        maxMsgNums: PULL_BATCH,
      });
      const nowMs = Date.now();
      for (const totals of [this.totals, this.intervalTotals]) totals.pulls++;
      if (result.status === 'FOUND') {
        for (const message of result.messages) {
          this.storeToConsume.recordMs(nowMs - message.storeTimestamp);
          this.bornToConsume.recordMs(nowMs - message.bornTimestamp);
          this.intervalS2C.recordMs(nowMs - message.storeTimestamp);
          this.intervalB2C.recordMs(nowMs - message.bornTimestamp);
          for (const totals of [this.totals, this.intervalTotals]) {
            totals.messages++;
            totals.bodyBytes += message.body.length;
          }
        }
        this.lastMessageMs = performance.now();
        this.lastMessageAtMs = nowMs;
        queue.queueOffset = result.nextBeginOffset;
        continue;
      }
      if (!WAIT_STATUSES.has(result.status)) {
        for (const totals of [this.totals, this.intervalTotals]) totals.failures[result.status] = (totals.failures[result.status] ?? 0) + 1;
        // Follow the store's correction (e.g. OFFSET_FOUND_NULL past deleted files).
        if (result.nextBeginOffset !== queue.queueOffset) {
          queue.queueOffset = result.nextBeginOffset;
          continue;
        }
      }
      if (this.producersDone && queue.queueOffset >= this.store.getMaxOffsetInQueue(queue.topic, queue.queueId, false)) return;
      await new Promise((resolve) => setTimeout(resolve, IDLE_WAIT_MS));
    }
  }
}
