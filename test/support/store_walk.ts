// Walks every record of an open store through its public read API, and proves the walk saw the
// whole log: each position is a record or a BLANK closing its segment, up to getMaxPhyOffset().

import fs from 'node:fs';
import path from 'node:path';
import { MAGIC_BLANK } from '../../src/format/commit_log_record.js';
import { segmentName } from '../../src/format/segment_name.js';
import type { MessageExt, MessageStore } from '../../src/index.js';

/**
 * Every message from getMinPhyOffset() to getMaxPhyOffset(), in log order. Where
 * lookMessageByOffset returns null the segment file must hold a BLANK record covering the rest
 * of the segment (read raw from disk); anything else — a torn or partial record, a gap — throws.
 */
export async function readAllMessages(store: MessageStore, segmentSizeBytes: number): Promise<MessageExt[]> {
  const messages: MessageExt[] = [];
  const end = store.getMaxPhyOffset();
  let offset = store.getMinPhyOffset();
  if (offset < 0) return messages;
  while (offset < end) {
    const message = await store.lookMessageByOffset(offset);
    if (message !== null) {
      messages.push(message);
      offset += message.storeSize;
      continue;
    }
    const segmentStart = offset - (offset % segmentSizeBytes);
    const next = segmentStart + segmentSizeBytes;
    const reason = blankTailProblem(store, segmentStart, offset, next);
    if (reason !== null) throw new Error(`no record at CommitLog offset ${offset} (log end ${end}): ${reason}`);
    offset = next;
  }
  if (offset !== end) throw new Error(`the last record ends at ${offset}, past the log end ${end}`);
  return messages;
}

/** Why the bytes at `offset` are not a BLANK reaching `segmentEnd`, or null if they are. */
function blankTailProblem(store: MessageStore, segmentStart: number, offset: number, segmentEnd: number): string | null {
  const file = path.join(store.getConfig().storePathCommitLog, segmentName(segmentStart));
  const header = Buffer.alloc(8);
  const fd = fs.openSync(file, fs.constants.O_RDONLY);
  try {
    const bytesRead = fs.readSync(fd, header, 0, 8, offset - segmentStart);
    if (bytesRead !== 8) return `only ${bytesRead} bytes readable in ${file}`;
  } finally {
    fs.closeSync(fd);
  }
  const totalSize = header.readInt32BE(0);
  const magic = header.readInt32BE(4);
  if (magic !== MAGIC_BLANK) return `neither a valid record nor a BLANK (size ${totalSize}, magic ${magic})`;
  if (totalSize !== segmentEnd - offset) return `BLANK of ${totalSize} bytes does not reach the segment end ${segmentEnd}`;
  return null;
}
