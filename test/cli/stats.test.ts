// Goal: `mqstore stats <storeDir>` reports, without opening the store, the CommitLog range, every
// topic and queue with its offsets and message count, and disk use; a directory that is not a
// store is refused with exit code 1.
// Method: a real store in a temp dir, closed; the bin run as a child process (text and --json).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageStore } from '../../src/index.js';
import type { StoreStats } from '../../src/cli/commands/stats.js';
import { runCli as run } from '../support/cli.js';



test('stats reports the CommitLog range, every queue with its message count, and disk use', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-stats-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = await MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: 8192, mappedFileSizeConsumeQueue: 200 });
  const counts = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const topic = i % 3 === 0 ? 'StatsA' : 'a/b topic'; // the second gets an encoded directory
    const queueId = i % 2;
    await store.putMessage({ topic, queueId, body: `m${i}` });
    counts.set(`${topic}/${queueId}`, (counts.get(`${topic}/${queueId}`) ?? 0) + 1);
  }
  const deadline = performance.now() + 10_000;
  while (store.dispatchBehindBytes() > 0) {
    assert.ok(performance.now() < deadline, 'dispatch caught up');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const end = store.getMaxPhyOffset();
  await store.close();

  const json = run('stats', root, '--json');
  assert.equal(json.status, 0, json.stderr);
  const stats = JSON.parse(json.stdout) as StoreStats;
  assert.equal(stats.commitLog.minPhysicalOffset, 0);
  assert.equal(stats.commitLog.maxPhysicalOffset, end);
  assert.ok(stats.commitLog.segments >= 2, 'the log rolled');
  assert.deepEqual(
    Object.fromEntries(stats.queues.map((q) => [`${q.topic}/${q.queueId}`, q.messages])),
    Object.fromEntries(counts),
  );
  for (const q of stats.queues) assert.equal(q.minQueueOffset, 0);
  assert.ok(stats.disk.commitlog.apparentBytes >= end);
  assert.ok(stats.disk.total.files >= stats.disk.commitlog.files + stats.disk.consumequeue.files);

  const text = run('stats', root);
  assert.equal(text.status, 0);
  assert.match(text.stdout, new RegExp(`physical offsets \\[0, ${end}\\)`));
  assert.match(text.stdout, /topics\s+2, queues 4, messages 100/);
});

test('stats of a directory that is not a store exits 1 with E_STORE_DIR', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-cli-stats-empty-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = run('stats', dir);
  assert.equal(out.status, 1);
  assert.match(out.stderr, /E_STORE_DIR/);
  assert.equal(run('stats').status, 2);
});
