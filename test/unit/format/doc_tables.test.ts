// Goal: the format docs (commit_log_record.md, checkpoint.md) cannot drift from the codecs.
// Method: parse byte tables, worked examples and hex dumps out of the markdown; compare with the code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  BLANK_RECORD_BYTES,
  bodyCrc32,
  decodeMessage,
  encodeMessage,
  MAGIC_BLANK,
  MAGIC_V1,
  MAGIC_V2,
  POS_BODYCRC,
  POS_BORNHOST,
  POS_BORNTIMESTAMP,
  POS_FLAG,
  POS_MAGIC,
  POS_PHYSICALOFFSET,
  POS_QUEUEID,
  POS_QUEUEOFFSET,
  POS_SYSFLAG,
  POS_TOTALSIZE,
  RECORD_FIXED_BYTES,
  SYSFLAG_BORNHOST_V6,
  SYSFLAG_COMPRESSED,
  SYSFLAG_MULTI_TAGS,
  SYSFLAG_STOREHOST_V6,
  SYSFLAG_TRANSACTION_COMMIT,
  SYSFLAG_TRANSACTION_MASK,
  SYSFLAG_TRANSACTION_PREPARED,
  SYSFLAG_TRANSACTION_ROLLBACK,
  writeBlankRecord,
  writeInt64,
  type EncodeMessageInput,
} from '../../../src/format/commit_log_record.js';
import {
  CHECKPOINT_FILE_BYTES,
  CKPT_EXT_MAGIC,
  CKPT_EXT_VERSION,
  CKPT_POS_CONFIRM_PHY_OFFSET,
  CKPT_POS_EXT_CRC,
  CKPT_POS_EXT_MAGIC,
  CKPT_POS_EXT_VERSION,
  CKPT_POS_FLUSHED_PHY_OFFSET,
  CKPT_POS_INDEX_MSG_TIMESTAMP,
  CKPT_POS_LOGICS_MSG_TIMESTAMP,
  CKPT_POS_MASTER_FLUSHED_OFFSET,
  CKPT_POS_PHYSIC_MSG_TIMESTAMP,
  CKPT_POS_DISPATCHED_PHY_OFFSET,
  encodeCheckpoint,
  type Checkpoint,
} from '../../../src/format/checkpoint.js';
import { encodeHostAddress } from '../../../src/format/host_address.js';
import { segmentName } from '../../../src/format/segment_name.js';
import { docSection, hexDumps } from '../../support/format_doc.js';

// The compiled test runs from dist/test/unit/format/; the docs stay in the source tree.
function readDoc(name: string): string {
  return fs.readFileSync(new URL(`../../../../src/format/${name}`, import.meta.url), 'utf8');
}

const RECORD_DOC = readDoc('commit_log_record.md');
const CHECKPOINT_DOC = readDoc('checkpoint.md');


type Row = Record<string, string>;

/** The first markdown table in `lines`, as rows keyed by header text. */
function firstTable(lines: string[]): Row[] {
  const tableLines: string[] = [];
  for (const line of lines) {
    if (line.startsWith('|')) tableLines.push(line);
    else if (tableLines.length > 0) break;
  }
  assert.ok(tableLines.length >= 3, 'expected a table with a header, a rule and rows');
  const cells = (line: string): string[] =>
    line.slice(1, line.lastIndexOf('|')).split('|').map((c) => c.trim());
  const header = cells(tableLines[0]!);
  return tableLines.slice(2).map((line) => {
    const row: Row = {};
    cells(line).forEach((cell, i) => {
      row[header[i]!] = cell;
    });
    return row;
  });
}

function fieldName(row: Row): string {
  return (row.Field ?? '').replace(/`/g, '');
}

/** Evaluates an offset or size cell such as `88 + b + s + B + t` with the given variables. */
function evaluate(expression: string, vars: Record<string, number>): number {
  const tokens = expression.replace(/−/g, '-').match(/[+-]|[A-Za-z]+|\d+/g);
  assert.ok(tokens !== null, `cannot read ${JSON.stringify(expression)}`);
  let total = 0;
  let sign = 1;
  for (const token of tokens) {
    if (token === '+') sign = 1;
    else if (token === '-') sign = -1;
    else {
      const value = /^\d+$/.test(token) ? Number(token) : vars[token];
      assert.ok(value !== undefined, `unknown name ${token} in ${JSON.stringify(expression)}`);
      total += sign * value;
    }
  }
  return total;
}

function plainInteger(cell: string | undefined): number {
  assert.ok(cell !== undefined && /^\d+$/.test(cell), `expected an integer, got ${JSON.stringify(cell)}`);
  return Number(cell);
}


const MESSAGE_TABLE = firstTable(docSection(RECORD_DOC, '### Message record'));
const BLANK_TABLE = firstTable(docSection(RECORD_DOC, '### BLANK record (end of segment)'));
const SYSFLAG_TABLE = firstTable(docSection(RECORD_DOC, '### SYSFLAG bits'));
const CHECKPOINT_TABLE = firstTable(docSection(CHECKPOINT_DOC, '## Byte table'));

test('the record doc has the format-doc sections in order', () => {
  const headings = RECORD_DOC.split('\n').filter((l) => /^## /.test(l));
  assert.deepEqual(headings, [
    '## Purpose',
    '## Grammar',
    '## Byte table',
    '## Properties',
    '## Message id',
    '## Size rules',
    '## Invariants',
    '## Worked example',
    '## Reader behaviour on bad bytes',
    '## Recovery decision table',
    '## Versioning and trade-offs',
  ]);
  const table = docSection(RECORD_DOC, '## Recovery decision table').join('\n');
  for (let row = 1; row <= 10; row++) assert.match(table, new RegExp(`^\\| R${row} \\|`, 'm'), `row R${row}`);
  for (let c = 1; c <= 8; c++) assert.match(table, new RegExp(`^\\| C${c} \\|`, 'm'), `case C${c}`);
});

test('documented offsets of the fixed record fields match the POS_* constants', () => {
  const expected: Record<string, number> = {
    TOTALSIZE: POS_TOTALSIZE,
    MAGICCODE: POS_MAGIC,
    BODYCRC: POS_BODYCRC,
    QUEUEID: POS_QUEUEID,
    FLAG: POS_FLAG,
    QUEUEOFFSET: POS_QUEUEOFFSET,
    PHYSICALOFFSET: POS_PHYSICALOFFSET,
    SYSFLAG: POS_SYSFLAG,
    BORNTIMESTAMP: POS_BORNTIMESTAMP,
    BORNHOST: POS_BORNHOST,
  };
  for (const [field, position] of Object.entries(expected)) {
    const row = MESSAGE_TABLE.find((r) => fieldName(r) === field);
    assert.ok(row !== undefined, `${field} is missing from the message table`);
    assert.equal(plainInteger(row.Offset), position, field);
  }
});

test('every row of every byte table says big-endian', () => {
  for (const [name, table] of [
    ['message', MESSAGE_TABLE],
    ['blank', BLANK_TABLE],
    ['checkpoint', CHECKPOINT_TABLE],
  ] as const) {
    for (const row of table) {
      assert.match(row.Endianness ?? '', /^big-endian/, `${name} table row ${fieldName(row)}`);
    }
  }
});

test('the message table tiles the record and its fixed part is RECORD_FIXED_BYTES', () => {
  const fixed = { b: 0, s: 0, t: 1, B: 0, T: 0, P: 0 };
  let end = 0;
  for (const row of MESSAGE_TABLE) {
    assert.equal(evaluate(row.Offset!, fixed), end, `${fieldName(row)} follows the previous field`);
    end += evaluate(row.Size!, fixed);
  }
  assert.equal(end, RECORD_FIXED_BYTES);
});

interface LayoutCase {
  bornHost: string;
  storeHost: string;
  topic: string;
}

const LAYOUT_CASES: LayoutCase[] = [
  { bornHost: '192.168.0.10:54321', storeHost: '127.0.0.1:10911', topic: 'FooBar' },
  { bornHost: '[2001:db8::1]:54321', storeHost: '127.0.0.1:10911', topic: 'FooBar' },
  { bornHost: '192.168.0.10:54321', storeHost: '[fe80::2]:10911', topic: 'FooBar' },
  { bornHost: '[2001:db8::1]:54321', storeHost: '[fe80::2]:10911', topic: 'x'.repeat(200) },
];

function int32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(value, 0);
  return out;
}

function int64(value: number): Buffer {
  const out = Buffer.alloc(8);
  writeInt64(out, 0, value);
  return out;
}

test('every documented field is at its documented offset for IPv4/IPv6 hosts and v1/v2 topics', () => {
  for (const layout of LAYOUT_CASES) {
    const body = Buffer.from('layout check body', 'utf8');
    const input: EncodeMessageInput = {
      ...layout,
      queueId: 5,
      body,
      flag: -7,
      sysFlag: SYSFLAG_TRANSACTION_COMMIT,
      queueOffset: 2 ** 36 + 1,
      commitLogOffset: 2 ** 38 + 3,
      bornTimestamp: 1700000000000,
      storeTimestamp: 1700000000999,
      reconsumeTimes: 4,
      preparedTransactionOffset: 2 ** 37 + 2,
      tags: 'TagA',
      keys: ['k1', 'k2'],
    };
    const record = encodeMessage(input);
    const bornHost = encodeHostAddress(layout.bornHost);
    const storeHost = encodeHostAddress(layout.storeHost);
    const topic = Buffer.from(layout.topic, 'utf8');
    const properties = Buffer.from('TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002', 'utf8');
    const v2 = topic.length > 127;
    const vars = {
      b: bornHost.length - 8,
      s: storeHost.length - 8,
      t: v2 ? 2 : 1,
      B: body.length,
      T: topic.length,
      P: properties.length,
    };
    const sysFlag = SYSFLAG_TRANSACTION_COMMIT |
      (vars.b > 0 ? SYSFLAG_BORNHOST_V6 : 0) | (vars.s > 0 ? SYSFLAG_STOREHOST_V6 : 0);
    const topicLength = v2
      ? Buffer.from([topic.length >> 8, topic.length & 0xff])
      : Buffer.from([topic.length]);
    const expected: Record<string, Buffer> = {
      TOTALSIZE: int32(record.length),
      MAGICCODE: int32(v2 ? MAGIC_V2 : MAGIC_V1),
      BODYCRC: int32(bodyCrc32(body)),
      QUEUEID: int32(5),
      FLAG: int32(-7),
      QUEUEOFFSET: int64(2 ** 36 + 1),
      PHYSICALOFFSET: int64(2 ** 38 + 3),
      SYSFLAG: int32(sysFlag),
      BORNTIMESTAMP: int64(1700000000000),
      BORNHOST: bornHost,
      STORETIMESTAMP: int64(1700000000999),
      STOREHOST: storeHost,
      RECONSUMETIMES: int32(4),
      PREPAREDTRANSACTIONOFFSET: int64(2 ** 37 + 2),
      BODYLEN: int32(body.length),
      BODY: body,
      TOPICLEN: topicLength,
      TOPIC: topic,
      PROPLEN: Buffer.from([0, properties.length]),
      PROPERTIES: properties,
    };
    assert.deepEqual(MESSAGE_TABLE.map(fieldName), Object.keys(expected));
    let end = 0;
    for (const row of MESSAGE_TABLE) {
      const field = fieldName(row);
      const offset = evaluate(row.Offset!, vars);
      const size = evaluate(row.Size!, vars);
      assert.equal(offset, end, `${field} follows the previous field (${JSON.stringify(layout)})`);
      const where = `${field} (${JSON.stringify(layout)})`;
      assert.deepEqual(record.subarray(offset, offset + size), expected[field], where);
      end = offset + size;
    }
    assert.equal(end, record.length);
  }
});

test('the MAGICCODE row names the v1, v2 and BLANK magic codes the codec uses', () => {
  const row = MESSAGE_TABLE.find((r) => fieldName(r) === 'MAGICCODE')!;
  const hex = (n: number): string => `0x${(n >>> 0).toString(16).toUpperCase()}`;
  for (const magic of [MAGIC_V1, MAGIC_V2, MAGIC_BLANK]) {
    assert.ok(row['Meaning / valid range']!.includes(hex(magic)), hex(magic));
  }
});

test('the BLANK table matches the codec: TOTALSIZE and MAGICCODE in an 8-byte header', () => {
  const header = BLANK_TABLE.slice(0, 2);
  assert.deepEqual(header.map(fieldName), ['TOTALSIZE', 'MAGICCODE']);
  assert.equal(plainInteger(header[0]!.Offset), POS_TOTALSIZE);
  assert.equal(plainInteger(header[1]!.Offset), POS_MAGIC);
  const headerBytes = plainInteger(header[0]!.Size) + plainInteger(header[1]!.Size);
  assert.equal(headerBytes, BLANK_RECORD_BYTES);
  assert.equal(plainInteger(BLANK_TABLE[2]!.Offset), BLANK_RECORD_BYTES);
  const blankMagic = `0x${(MAGIC_BLANK >>> 0).toString(16).toUpperCase()}`;
  assert.ok(header[1]!['Meaning / valid range']!.includes(blankMagic));
});

test('the SYSFLAG table matches the SYSFLAG_* constants', () => {
  const mask = (name: string): number => {
    const row = SYSFLAG_TABLE.find((r) => r.Name === name);
    assert.ok(row !== undefined, `${name} is missing from the SYSFLAG table`);
    return Number.parseInt(row.Mask!.replace(/`/g, ''), 16);
  };
  assert.equal(mask('COMPRESSED'), SYSFLAG_COMPRESSED);
  assert.equal(mask('MULTI_TAGS'), SYSFLAG_MULTI_TAGS);
  assert.equal(mask('TRANSACTION'), SYSFLAG_TRANSACTION_MASK);
  assert.equal(mask('BORNHOST_V6'), SYSFLAG_BORNHOST_V6);
  assert.equal(mask('STOREHOST_V6'), SYSFLAG_STOREHOST_V6);
  const transaction = SYSFLAG_TABLE.find((r) => r.Name === 'TRANSACTION')!['Meaning']!;
  assert.ok(transaction.includes(`0x${SYSFLAG_TRANSACTION_PREPARED.toString(16)}\` PREPARED`));
  assert.ok(transaction.includes(`0x${SYSFLAG_TRANSACTION_COMMIT.toString(16)}\` COMMIT`));
  const rollback = SYSFLAG_TRANSACTION_ROLLBACK.toString(16).toUpperCase();
  assert.ok(transaction.includes(`0x${rollback}\` ROLLBACK`));
});

const WORKED_SEGMENT_BYTES = 4096;

function workedMessage(
  body: string | Buffer,
  queueOffset: number,
  commitLogOffset: number,
): EncodeMessageInput {
  return {
    topic: 'FooBar',
    queueId: 3,
    body,
    queueOffset,
    commitLogOffset,
    bornTimestamp: 1700000000000,
    storeTimestamp: 1700000000123,
    bornHost: '192.168.0.10:54321',
    storeHost: '127.0.0.1:10911',
    tags: 'TAG1',
    keys: '1700000000000',
  };
}

test('the worked example follows the placement rule with real record sizes', () => {
  const rows = firstTable(docSection(RECORD_DOC, '## Worked example'));
  assert.equal(rows.length, 3);
  let segmentStart = 0;
  let position = 0;
  rows.forEach((row, queueOffset) => {
    const bodyCell = row.Body!;
    const quoted = /^`(.*)`/.exec(bodyCell);
    const bodyBytes = Number(/^(\d+) bytes$/.exec(bodyCell)?.[1]);
    const body = quoted !== null ? quoted[1]! : Buffer.alloc(bodyBytes, 0x61);
    const size = encodeMessage(workedMessage(body, queueOffset, 0)).length;
    assert.equal(Number(/= (\d+)$/.exec(row.Size!)![1]), size, `${row.Message} size`);
    assert.equal(evaluate(row.Size!.replace(/ = \d+$/, ''), {}), size, `${row.Message} size sum`);
    if (size + BLANK_RECORD_BYTES > WORKED_SEGMENT_BYTES - position) {
      segmentStart += WORKED_SEGMENT_BYTES;
      position = 0;
    }
    const physicalOffset = segmentStart + position;
    const decoded = decodeMessage(encodeMessage(workedMessage(body, queueOffset, physicalOffset)));
    assert.equal(row.Segment, `\`${segmentName(segmentStart)}\``, `${row.Message} segment`);
    assert.equal(plainInteger(row.Position), position, `${row.Message} position`);
    assert.equal(plainInteger(row.PHYSICALOFFSET), physicalOffset, `${row.Message} physical offset`);
    assert.equal(plainInteger(row.QUEUEOFFSET), queueOffset);
    assert.equal(row['Message id'], `\`${decoded.msgId}\``, `${row.Message} message id`);
    position += size;
  });
});

test('the worked example BLANK header bytes are what writeBlankRecord writes', () => {
  const text = docSection(RECORD_DOC, '## Worked example').join('\n');
  const match = /BLANK header `([0-9a-f ]+)` \(TOTALSIZE = (\d+)/.exec(text);
  assert.ok(match !== null, 'the BLANK header bytes are missing from the worked example');
  const blank = Buffer.alloc(BLANK_RECORD_BYTES);
  writeBlankRecord(blank, 0, Number(match[2]));
  assert.equal(match[1], [...blank].map((b) => b.toString(16).padStart(2, '0')).join(' '));
});

test('the worked example hex dumps are what encodeMessage writes for M1', () => {
  const dumps = hexDumps(docSection(RECORD_DOC, '## Worked example'));
  assert.equal(dumps.length, 2);
  const m1 = encodeMessage(workedMessage('Once, there was a chance for me!', 0, 0));
  assert.deepEqual(dumps[0], m1.subarray(0, 32));
  assert.deepEqual(dumps[1], m1);
});

test('documented checkpoint offsets match the CKPT_POS_* constants', () => {
  const expected: Record<string, number> = {
    physicMsgTimestamp: CKPT_POS_PHYSIC_MSG_TIMESTAMP,
    logicsMsgTimestamp: CKPT_POS_LOGICS_MSG_TIMESTAMP,
    indexMsgTimestamp: CKPT_POS_INDEX_MSG_TIMESTAMP,
    masterFlushedOffset: CKPT_POS_MASTER_FLUSHED_OFFSET,
    confirmPhyOffset: CKPT_POS_CONFIRM_PHY_OFFSET,
    magic: CKPT_POS_EXT_MAGIC,
    version: CKPT_POS_EXT_VERSION,
    flushedPhyOffset: CKPT_POS_FLUSHED_PHY_OFFSET,
    dispatchedPhyOffset: CKPT_POS_DISPATCHED_PHY_OFFSET,
    crc: CKPT_POS_EXT_CRC,
  };
  for (const [field, position] of Object.entries(expected)) {
    const row = CHECKPOINT_TABLE.find((r) => fieldName(r) === field);
    assert.ok(row !== undefined, `${field} is missing from the checkpoint table`);
    assert.equal(plainInteger(row.Offset), position, field);
  }
});

test('the checkpoint table tiles the whole 4096-byte file', () => {
  let end = 0;
  for (const row of CHECKPOINT_TABLE) {
    assert.equal(plainInteger(row.Offset), end, `${fieldName(row)} starts where the previous field ends`);
    end += plainInteger(row.Size);
  }
  assert.equal(end, CHECKPOINT_FILE_BYTES);
  const magic = CHECKPOINT_TABLE.find((r) => fieldName(r) === 'magic')!;
  assert.ok(magic['Meaning / valid range']!.includes(`0x${CKPT_EXT_MAGIC.toString(16).toUpperCase()}`));
  const version = CHECKPOINT_TABLE.find((r) => fieldName(r) === 'version')!;
  assert.ok(version['Meaning / valid range']!.includes(`: ${CKPT_EXT_VERSION}.`));
});

test('the checkpoint worked example hex dump is what encodeCheckpoint writes', () => {
  const lines = docSection(CHECKPOINT_DOC, '## Worked example');
  const text = lines.join('\n');
  const value = (field: keyof Checkpoint): number => {
    const match = new RegExp(`^(?:.* )?${field} (\\d+)(?: .*)?$`, 'm').exec(text);
    assert.ok(match !== null, `${field} is missing from the worked example`);
    return Number(match[1]);
  };
  const checkpoint: Checkpoint = {
    physicMsgTimestamp: value('physicMsgTimestamp'),
    logicsMsgTimestamp: value('logicsMsgTimestamp'),
    indexMsgTimestamp: value('indexMsgTimestamp'),
    masterFlushedOffset: value('masterFlushedOffset'),
    confirmPhyOffset: value('confirmPhyOffset'),
    flushedPhyOffset: value('flushedPhyOffset'),
    dispatchedPhyOffset: value('dispatchedPhyOffset'),
  };
  const dumps = hexDumps(lines);
  assert.equal(dumps.length, 1);
  const encoded = encodeCheckpoint(checkpoint);
  assert.deepEqual(dumps[0], encoded.subarray(0, dumps[0]!.length));
  assert.equal(encoded.subarray(dumps[0]!.length).every((b) => b === 0), true);
});
