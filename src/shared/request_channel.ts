// Request/reply over a worker's message port: each request gets an id, the worker answers with
// a REPLY carrying it. One instance per worker; the facade owns both (writer and dispatcher).

import type { Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError, type StoreError } from '../errors.js';

export type WithoutRequestId<M> = M extends unknown ? Omit<M, 'requestId'> : never;

export interface Reply {
  requestId: number;
  error: SerializedError | null;
  result?: unknown;
}

export class RequestChannel<Request extends { requestId: number }> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: StoreError) => void }>();
  private nextRequestId = 1;

  constructor(worker: Worker) {
    this.worker = worker;
  }

  /** Requests not answered yet. */
  get size(): number {
    return this.pending.size;
  }

  /** Posts the request; resolves with the reply's result, rejects with its error. */
  request(message: WithoutRequestId<Request>): Promise<unknown> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.worker.postMessage({ ...message, requestId });
    });
  }

  /** Settles the request a REPLY answers; false when it is unknown (already rejected). */
  settle(reply: Reply): boolean {
    const request = this.pending.get(reply.requestId);
    if (request === undefined) return false;
    this.pending.delete(reply.requestId);
    if (reply.error === null) request.resolve(reply.result);
    else request.reject(deserializeError(reply.error));
    return true;
  }

  rejectAll(error: StoreError): void {
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }
}
