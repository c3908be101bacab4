// The positions board: a small SharedArrayBuffer through which the writer and the dispatcher
// tell each other (and the main thread) how far they are, without postMessage relays.
//
//   int32 word 0            writer sequence: bumped and notified after every writer change
//   int32 word 1            dispatcher sequence: bumped and notified after every dispatcher change
//   int64 slot 1 (bytes 8)  wroteWhere            writer     CommitLog bytes in the files (readable)
//   int64 slot 2 (bytes 16) flushedWhere          writer     CommitLog bytes fsynced
//   int64 slot 3 (bytes 24) dispatchedWhere       dispatcher CommitLog offset dispatched up to
//   int64 slot 4 (bytes 32) dispatchDurableWhere  dispatcher dispatched and fsynced up to
//   int64 slot 5 (bytes 40) logicsMsgTimestamp    dispatcher store time of the last durable unit
//   int64 slot 6 (bytes 48) indexMsgTimestamp     dispatcher end time of the newest full index file
//   int64 slot 7 (bytes 56) commitBeganAtMs       writer     Date.now() when the write in progress
//                                                            began, 0 when none (pageCacheLockTimeMills)
//
// Every slot has exactly one writing thread (named above); everyone else only reads. This file
// is the one owner of the layout. Values are read and written with Atomics, so a reader never
// sees a torn 64-bit value. Waiting is always asynchronous (Atomics.waitAsync): neither worker
// may block, both also serve postMessage requests.

const WRITER_SEQ_I32 = 0;
const DISPATCHER_SEQ_I32 = 1;
const WROTE_WHERE_I64 = 1;
const FLUSHED_WHERE_I64 = 2;
const DISPATCHED_WHERE_I64 = 3;
const DISPATCH_DURABLE_WHERE_I64 = 4;
const LOGICS_MSG_TIMESTAMP_I64 = 5;
const INDEX_MSG_TIMESTAMP_I64 = 6;
const COMMIT_BEGAN_AT_MS_I64 = 7;
const POSITIONS_BYTES = 8 * 8;

export interface WriterPositions {
  wroteWhere: number;
  flushedWhere: number;
}

export interface DispatcherPositions {
  dispatchedWhere: number;
  dispatchDurableWhere: number;
  logicsMsgTimestamp: number;
  indexMsgTimestamp: number;
}

export class Positions {
  readonly sab: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly slots: BigInt64Array;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.words = new Int32Array(sab);
    this.slots = new BigInt64Array(sab);
  }

  /** A zeroed board; the writer publishes the recovered end before anyone reads it. */
  static create(): Positions {
    return new Positions(new SharedArrayBuffer(POSITIONS_BYTES));
  }

  // ---------------------------------------------------------------- writer side

  publishWriter(writer: WriterPositions): void {
    Atomics.store(this.slots, WROTE_WHERE_I64, BigInt(writer.wroteWhere));
    Atomics.store(this.slots, FLUSHED_WHERE_I64, BigInt(writer.flushedWhere));
    Atomics.add(this.words, WRITER_SEQ_I32, 1);
    Atomics.notify(this.words, WRITER_SEQ_I32);
  }

  /** The writer enters (epoch ms) or leaves (0) a write to the CommitLog files; no notify. */
  publishCommitBusy(beganAtMs: number): void {
    Atomics.store(this.slots, COMMIT_BEGAN_AT_MS_I64, BigInt(beganAtMs));
  }

  /** Epoch ms when the writer's current write began, 0 when it is not writing. */
  commitBeganAtMs(): number {
    return Number(Atomics.load(this.slots, COMMIT_BEGAN_AT_MS_I64));
  }

  wroteWhere(): number {
    return Number(Atomics.load(this.slots, WROTE_WHERE_I64));
  }

  flushedWhere(): number {
    return Number(Atomics.load(this.slots, FLUSHED_WHERE_I64));
  }

  writerSeq(): number {
    return Atomics.load(this.words, WRITER_SEQ_I32);
  }

  /** Resolves when the writer publishes after `seenSeq`, or after timeoutMs; never blocks. */
  async waitForWriter(seenSeq: number, timeoutMs: number): Promise<void> {
    const wait = Atomics.waitAsync(this.words, WRITER_SEQ_I32, seenSeq, timeoutMs);
    if (wait.async) await wait.value;
  }

  // ---------------------------------------------------------------- dispatcher side

  publishDispatcher(dispatcher: DispatcherPositions): void {
    Atomics.store(this.slots, DISPATCHED_WHERE_I64, BigInt(dispatcher.dispatchedWhere));
    Atomics.store(this.slots, DISPATCH_DURABLE_WHERE_I64, BigInt(dispatcher.dispatchDurableWhere));
    Atomics.store(this.slots, LOGICS_MSG_TIMESTAMP_I64, BigInt(dispatcher.logicsMsgTimestamp));
    Atomics.store(this.slots, INDEX_MSG_TIMESTAMP_I64, BigInt(dispatcher.indexMsgTimestamp));
    Atomics.add(this.words, DISPATCHER_SEQ_I32, 1);
    Atomics.notify(this.words, DISPATCHER_SEQ_I32);
  }

  dispatchedWhere(): number {
    return Number(Atomics.load(this.slots, DISPATCHED_WHERE_I64));
  }

  dispatcher(): DispatcherPositions {
    return {
      dispatchedWhere: this.dispatchedWhere(),
      dispatchDurableWhere: Number(Atomics.load(this.slots, DISPATCH_DURABLE_WHERE_I64)),
      logicsMsgTimestamp: Number(Atomics.load(this.slots, LOGICS_MSG_TIMESTAMP_I64)),
      indexMsgTimestamp: Number(Atomics.load(this.slots, INDEX_MSG_TIMESTAMP_I64)),
    };
  }

  dispatcherSeq(): number {
    return Atomics.load(this.words, DISPATCHER_SEQ_I32);
  }
}
