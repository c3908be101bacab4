// Reading the format docs (src/format/*.md) from tests, so docs and code cannot drift: sections
// by heading and hex-dump blocks (`00000000  00 11 …`) as bytes.

import assert from 'node:assert/strict';
import fs from 'node:fs';

/** The text of src/format/<name> (tests run from dist/test/…, four levels below the root). */
export function readFormatDoc(name: string): string {
  return fs.readFileSync(new URL(`../../../src/format/${name}`, import.meta.url), 'utf8');
}

/** The lines under `heading` up to the next heading, skipping nothing inside code fences. */
export function docSection(md: string, heading: string): string[] {
  const lines = md.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `heading ${JSON.stringify(heading)} is missing`);
  const out: string[] = [];
  let fenced = false;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('```')) fenced = !fenced;
    if (!fenced && line.startsWith('#')) break;
    out.push(line);
  }
  return out;
}

/** Hex-dump blocks in `lines`, one Buffer per fenced block; offsets are checked as read. */
export function hexDumps(lines: string[]): Buffer[] {
  const dumps: Buffer[] = [];
  let current: number[] | null = null;
  for (const line of lines) {
    if (line.startsWith('```')) {
      if (current !== null && current.length > 0) dumps.push(Buffer.from(current));
      current = current === null ? [] : null;
      continue;
    }
    const match = /^([0-9a-f]{8}) {2}((?:[0-9a-f]{2} ?)+)$/.exec(line);
    if (current === null || match === null) continue;
    assert.equal(Number.parseInt(match[1]!, 16), current.length, `dump offset in ${line}`);
    for (const byte of match[2]!.trim().split(' ')) current.push(Number.parseInt(byte, 16));
  }
  return dumps;
}
