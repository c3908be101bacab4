// The send side of `mqstore bench`: `concurrency` closed-loop senders, each awaiting its put
// before sending the next (RocketMQ's benchmark producer threads, Kafka's in-flight requests).
// With a target rate (`tps`), sends are paced by a shared schedule and latency is also measured
// from each send's intended time, so a stall is charged to every send it delayed (coordinated
// omission) instead of hiding behind the closed loop.

import type { MessageStore } from '../message_store.js';
import type { PutMessageResult } from '../status.js';
import { StoreError } from '../errors.js';
import { LatencyRecorder } from './latency.js';

export interface PutWorkload {
  /** Sends in flight at once (RocketMQ's -w). */
  concurrency: number;
  /** Body bytes per message (RocketMQ's -s). */
  sizeBytes: number;
  /** Give every message a unique KEYS value, which the index then holds (RocketMQ's -k). */
  keys: boolean;
  /** Topic name; with several topics, `<topic>-<i>`. */
  topic: string;
  topics: number;
  queuesPerTopic: number;
  /** Distinct tags, `tag<i>` round robin; 0 = no tags. */
  tags: number;
  /** Messages per send: 1 = putMessage, more = putMessages (one batch record run). */
  batch: number;
  /** Messages to send in total; 0 = send until `durationMs` has passed. */
  count: number;
  durationMs: number;
  /** Messages per second to aim at; 0 = as fast as acknowledgements come back. */
  tps: number;
}

export interface PutTotals {
  /** Messages acknowledged PUT_OK. */
  messages: number;
  /** Body bytes of those messages. */
  bodyBytes: number;
  /** Send calls made. */
  sends: number;
  /** Messages whose send threw (a typed error: its code counts in `failures`). */
  sendFailed: number;
  /** Messages answered with a status other than PUT_OK (also counted in `failures`). */
  responseFailed: number;
  /** Failed messages by status (or error code). */
  failures: Record<string, number>;
}

function emptyTotals(): PutTotals {
  return { messages: 0, bodyBytes: 0, sends: 0, sendFailed: 0, responseFailed: 0, failures: {} };
}

export class PutLoad {
  /** Response time of every send call (ms, µs precision). */
  readonly latency = new LatencyRecorder();
  /** Time from each send's intended start (only with a target rate). */
  readonly intendedLatency = new LatencyRecorder();
  /** Since the last takeInterval(). */
  private intervalLatency = new LatencyRecorder();
  private intervalTotals = emptyTotals();
  readonly totals = emptyTotals();
  private readonly store: MessageStore;
  private readonly workload: PutWorkload;
  private readonly body: Buffer;
  private readonly keyPrefix: string;
  private readonly topicNames: string[];
  /** Messages handed out to senders so far (the next message's number). */
  private sequence = 0;
  /** Sends handed out so far: routes sends round robin over topics, then queues. */
  private sendSequence = 0;
  private stopped = false;
  private startMs = 0;
  private elapsedMs = 0;

  constructor(store: MessageStore, workload: PutWorkload, runId: string) {
    this.store = store;
    this.workload = workload;
    this.keyPrefix = `${runId}-`;
    // Printable, varied bytes (a run of one byte would flatter any compression below us).
    this.body = Buffer.alloc(workload.sizeBytes);
    for (let i = 0; i < this.body.length; i++) this.body[i] = 0x41 + ((i * 7919) % 26);
    this.topicNames = workload.topics === 1
      ? [workload.topic]
      : Array.from({ length: workload.topics }, (_, i) => `${workload.topic}-${i}`);
  }

  get topics(): readonly string[] {
    return this.topicNames;
  }

  /** Sends until the count or duration is reached, or stop() is called. */
  async run(): Promise<void> {
    this.startMs = performance.now();
    const senders: Promise<void>[] = [];
    for (let i = 0; i < this.workload.concurrency; i++) senders.push(this.sender());
    await Promise.all(senders);
    this.elapsedMs = performance.now() - this.startMs;
  }

  /** Ends the run early (Ctrl-C): senders finish their current send and stop. */
  stop(): void {
    this.stopped = true;
  }

  /** Duration of the run, up to the last acknowledgement (ms). */
  get runMs(): number {
    return this.elapsedMs > 0 ? this.elapsedMs : performance.now() - this.startMs;
  }

  /** Counters and latencies since the previous call (for the periodic lines). */
  takeInterval(): { totals: PutTotals; latency: LatencyRecorder } {
    const taken = { totals: this.intervalTotals, latency: this.intervalLatency };
    this.intervalTotals = emptyTotals();
    this.intervalLatency = new LatencyRecorder();
    return taken;
  }

  private async sender(): Promise<void> {
    const w = this.workload;
    const deadlineMs = this.startMs + w.durationMs;
    for (;;) {
      if (this.stopped) return;
      const first = this.sequence;
      if (w.count > 0 ? first >= w.count : performance.now() >= deadlineMs) return;
      const intendedMs = w.tps > 0 ? this.startMs + (first / w.tps) * 1000 : 0;
      // A timed run never takes a send scheduled at or after its end.
      if (w.tps > 0 && w.count === 0 && intendedMs >= deadlineMs) return;
      const messages = w.count > 0 ? Math.min(w.batch, w.count - first) : w.batch;
      this.sequence += messages;
      const route = this.sendSequence++;
      if (w.tps > 0) {
        const waitMs = intendedMs - performance.now();
        if (waitMs >= 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
        if (this.stopped) return; // Ctrl-C during the wait: the send is not made.
      }
      const sentMs = performance.now();
      let result: PutMessageResult | null = null;
      let errorCode = '';
      try {
        result = await this.send(route, first, messages);
      } catch (error) {
        errorCode = error instanceof StoreError ? error.code : 'ERROR';
      }
      const doneMs = performance.now();
      this.latency.recordMs(doneMs - sentMs);
      this.intervalLatency.recordMs(doneMs - sentMs);
      if (w.tps > 0) this.intendedLatency.recordMs(doneMs - intendedMs);
      for (const totals of [this.totals, this.intervalTotals]) {
        totals.sends++;
        if (result === null) {
          totals.sendFailed += messages;
          totals.failures[errorCode] = (totals.failures[errorCode] ?? 0) + messages;
        } else if (result.putMessageStatus === 'PUT_OK') {
          totals.messages += messages;
          totals.bodyBytes += messages * w.sizeBytes;
        } else {
          totals.responseFailed += messages;
          totals.failures[result.putMessageStatus] = (totals.failures[result.putMessageStatus] ?? 0) + messages;
        }
      }
    }
  }

  private send(route: number, first: number, messages: number): Promise<PutMessageResult> {
    const w = this.workload;
    const topic = this.topicNames[route % w.topics]!;
    const queueId = Math.floor(route / w.topics) % w.queuesPerTopic;
    if (w.batch === 1) {
      return this.store.putMessage({
        topic,
        queueId,
        body: this.body,
        ...(w.tags > 0 ? { tags: `tag${first % w.tags}` } : {}),
        ...(w.keys ? { keys: this.keyPrefix + first } : {}),
      });
    }
    const batch = [];
    for (let i = 0; i < messages; i++) {
      const n = first + i;
      batch.push({
        body: this.body,
        ...(w.tags > 0 ? { tags: `tag${n % w.tags}` } : {}),
        ...(w.keys ? { keys: this.keyPrefix + n } : {}),
      });
    }
    return this.store.putMessages({ topic, queueId, messages: batch });
  }
}
