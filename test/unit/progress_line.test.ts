// Goal: ProgressLine rewrites one line in place on a terminal (throttled, clipped to the width,
// cleared at the end) and prints plain lines at most once per interval otherwise.
// Method: a fake stream recording what is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressLine } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean): { writes: string[]; isTTY: boolean; columns: number; write: (text: string) => boolean } {
  const writes: string[] = [];
  return { writes, isTTY, columns: 30, write: (text: string) => writes.push(text) > 0 };
}

test('on a terminal: one live line, rewritten, clipped to the width, cleared at the end', () => {
  const stream = fakeStream(true);
  const progress = new ProgressLine({ stream });
  progress.update('first');
  progress.update('second: too soon, dropped');
  progress.update('x'.repeat(50), true);
  progress.clear();
  assert.equal(stream.writes.length, 3);
  assert.equal(stream.writes[0], '\r\x1b[Kfirst');
  assert.equal(stream.writes[1], `\r\x1b[K${'x'.repeat(28)}…`);
  assert.equal(stream.writes[2], '\r\x1b[K');
});

test('not a terminal: plain lines, at most one per interval unless forced; clear writes nothing', () => {
  const stream = fakeStream(false);
  const progress = new ProgressLine({ stream, intervalMs: 60_000 });
  progress.update('a');
  progress.update('b');
  progress.update('c', true);
  progress.clear();
  assert.deepEqual(stream.writes, ['a\n', 'c\n']);
});
