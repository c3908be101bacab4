// Goal: a store opens under node flags the workers cannot take themselves (V8 and per-process
// flags, --input-type for an --eval entry): MessageStore.open must not fail because of them.
// Method: child processes started with those flags open a store in a temp dir and put one message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const INDEX_URL = new URL('../../src/index.js', import.meta.url).href;

function script(root: string): string {
  return [
    `const { MessageStore } = await import(${JSON.stringify(INDEX_URL)});`,
    `const store = await MessageStore.open({ storePathRootDir: ${JSON.stringify(root)}, mappedFileSizeCommitLog: 65536 });`,
    `const result = await store.putMessage({ topic: 'Flags', queueId: 0, body: 'x' });`,
    'await store.close();',
    'console.log(result.putMessageStatus);',
  ].join('\n');
}

test('a store opens and takes a put under node --max-old-space-size=512 --expose-gc app.mjs', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-flags-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const entry = path.join(root, 'app.mjs');
  fs.writeFileSync(entry, script(path.join(root, 'store')));
  const output = execFileSync(process.execPath, ['--max-old-space-size=512', '--expose-gc', entry], { encoding: 'utf8' });
  assert.equal(output.trim(), 'PUT_OK');
});

test('a store opens and takes a put under node --max-old-space-size=512 --input-type=module -e', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-flags-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const output = execFileSync(process.execPath, ['--max-old-space-size=512', '--input-type=module', '-e', script(root)], { encoding: 'utf8' });
  assert.equal(output.trim(), 'PUT_OK');
});
