// Child process for the SIGKILL crash tests: opens a store and sends the seeded crash stream
// (test/support/crash_round.ts) forever, single puts and batches, `--concurrency` in flight.
//
//   node dist/test/support/crash_writer_child.js --dir D --seed S --flush SYNC_FLUSH|ASYNC_FLUSH
//        --ack FILE [--segment-bytes 65536] [--concurrency 16] [--rate-bytes 0] [--max-ms 60000]
//        [--power-journal FILE] [--retention-ms N]
//
// --rate-bytes caps body bytes per second (0 = no cap), so a campaign's log grows at a pace its
// full walk after every round can keep up with; the lanes still burst up to --concurrency.
// Prints `ready {recovery}` on stdout once the store is open. After each put resolves PUT_OK
// (never before), appends one line to the ack file with a single write(2) on an O_APPEND fd: a
// line written before the kill survives it. The parent kills this process with SIGKILL. It exits
// by itself only when its stdin closes (the parent died) or after --max-ms, so it never
// outlives a broken test run for long.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { MessageStore, PutMessageStatus, type FlushDiskType, type PutMessageResult } from '../../src/index.js';
import { formatAck, messageBody, messageKeys, messageTags, POWER_LOSS_STORE_OPTIONS, putSpec } from './crash_round.js';
import { journalStorageSpec } from './power_loss_storage.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    seed: { type: 'string' },
    flush: { type: 'string', default: 'SYNC_FLUSH' },
    ack: { type: 'string' },
    'segment-bytes': { type: 'string', default: String(64 * 1024) },
    concurrency: { type: 'string', default: '16' },
    'rate-bytes': { type: 'string', default: '0' },
    'max-ms': { type: 'string', default: '60000' },
    /** Journal every change (test/support/power_loss_storage.ts) so the parent can cut the power. */
    'power-journal': { type: 'string' },
    /** Run retention every N ms (fileReservedTime 0), so kills land during deletions too. */
    'retention-ms': { type: 'string' },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`UNEXPECTED: ${message}\n`);
  process.exit(2);
}

const dir = values.dir ?? fail('--dir is required');
const ackFile = values.ack ?? fail('--ack is required');
const seed = Number(values.seed);
const flushDiskType = values.flush as FlushDiskType;
const segmentSizeBytes = Number(values['segment-bytes']);
const concurrency = Number(values.concurrency);
const maxMs = Number(values['max-ms']);
const rateBytesPerSecond = Number(values['rate-bytes']);
if (!Number.isSafeInteger(seed) || seed < 0) fail(`--seed must be an integer ≥ 0, got ${values.seed}`);
if (!Number.isFinite(rateBytesPerSecond) || rateBytesPerSecond < 0) fail(`--rate-bytes must be ≥ 0, got ${values['rate-bytes']}`);
if (flushDiskType !== 'SYNC_FLUSH' && flushDiskType !== 'ASYNC_FLUSH') fail(`--flush must be SYNC_FLUSH or ASYNC_FLUSH`);

// The parent going away closes our stdin: stop rather than write on forever.
process.stdin.on('end', () => process.exit(3));
process.stdin.resume();
setTimeout(() => {
  process.stderr.write(`UNEXPECTED: not killed within ${maxMs} ms\n`);
  process.exit(4);
}, maxMs).unref();

const journal = values['power-journal'];
const retentionMs = values['retention-ms'] === undefined ? 0 : Number(values['retention-ms']);
const store = await MessageStore.open(
  {
    storePathRootDir: dir,
    flushDiskType,
    mappedFileSizeCommitLog: segmentSizeBytes,
    ...(journal !== undefined ? POWER_LOSS_STORE_OPTIONS : {}),
    ...(retentionMs > 0 ? { fileReservedTime: 0, deleteCommitLogFilesInterval: 0 } : {}),
  },
  journal !== undefined ? journalStorageSpec({ journal }) : {},
);
if (retentionMs > 0) {
  setInterval(() => {
    store.deleteExpiredFilesManually().catch((error: unknown) => process.stderr.write(`STORE FAILED: retention: ${(error as Error).message}\n`));
  }, retentionMs);
}
const ackFd = fs.openSync(ackFile, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
const recovery = store.getRecoveryReport();
process.stdout.write(`ready ${JSON.stringify({ mode: recovery.mode, fullScan: recovery.fullScan, endPhysicalOffset: recovery.endPhysicalOffset })}\n`);

let nextPutIndex = 0;
let stopped = false;
const RATE_BURST_BYTES = 64 * 1024;
const startedMs = performance.now();
let sentBytes = 0;

/** Token bucket over body bytes: waits until `bytes` more fit the --rate-bytes budget. */
async function pace(bytes: number): Promise<void> {
  sentBytes += bytes;
  if (rateBytesPerSecond === 0) return;
  const aheadBytes = sentBytes - RATE_BURST_BYTES - (rateBytesPerSecond * (performance.now() - startedMs)) / 1000;
  if (aheadBytes > 0) await new Promise((resolve) => setTimeout(resolve, (aheadBytes / rateBytesPerSecond) * 1000));
}

async function send(putIndex: number): Promise<PutMessageResult> {
  const spec = putSpec(seed, putIndex);
  const tags = messageTags(spec);
  const messages = [];
  let bytes = 0;
  for (let slot = 0; slot < spec.count; slot++) {
    const body = messageBody(spec, slot);
    bytes += body.length;
    messages.push({ body, tags, keys: messageKeys(spec, slot) });
  }
  await pace(bytes);
  if (!spec.batch) return store.putMessage({ topic: spec.topic, queueId: spec.queueId, ...messages[0]! });
  return store.putMessages({ topic: spec.topic, queueId: spec.queueId, messages });
}

/** One of `concurrency` lanes: each keeps one put in flight, in stream order of issue. */
async function lane(): Promise<void> {
  while (!stopped) {
    const putIndex = nextPutIndex++;
    const result = await send(putIndex);
    if (result.putMessageStatus === PutMessageStatus.PUT_OK) {
      const a = result.appendMessageResult!;
      const spec = putSpec(seed, putIndex);
      const line = formatAck({
        seed,
        putIndex,
        topic: spec.topic,
        queueId: spec.queueId,
        logicsOffset: a.logicsOffset,
        wroteOffset: a.wroteOffset,
        msgNum: a.msgNum,
        wroteBytes: a.wroteBytes,
      });
      fs.writeSync(ackFd, line);
    } else if (result.putMessageStatus !== PutMessageStatus.FLUSH_DISK_TIMEOUT && result.putMessageStatus !== PutMessageStatus.OS_PAGE_CACHE_BUSY) {
      // The store fenced itself or refused a legal put: stop sending and wait for the kill.
      stopped = true;
      process.stderr.write(`STORE FAILED: put ${putIndex} returned ${result.putMessageStatus}: ${result.error?.code ?? ''} ${result.error?.message ?? ''}\n`);
    }
  }
}

for (let i = 0; i < concurrency; i++) {
  lane().catch((error: unknown) => {
    stopped = true;
    process.stderr.write(`UNEXPECTED: a put threw: ${(error as Error).stack ?? String(error)}\n`);
  });
}
