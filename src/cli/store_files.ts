// The files of a store directory as the read-only commands walk them: files named by a 20-digit
// start offset (CommitLog segments, consume queue files), in offset order, and the consume
// queues with their topics (an encoded `%MQST%…` directory names its topic in a `topic` file:
// ../format/topic_dir.ts).

import fs from 'node:fs';
import path from 'node:path';
import { parseSegmentName } from '../format/segment_name.js';
import { isEncodedTopicDir, isPlainTopicDir, TOPIC_NAME_FILE } from '../format/topic_dir.js';

export interface OffsetFile {
  /** The start offset in the file's name (bytes). */
  start: number;
  path: string;
}

/** The files of `dir` named by a 20-digit offset, in offset order ([] when `dir` is missing). */
export function offsetFiles(dir: string): OffsetFile[] {
  if (!fs.existsSync(dir)) return [];
  const files: OffsetFile[] = [];
  for (const name of fs.readdirSync(dir)) {
    const start = parseSegmentName(name);
    if (start !== null) files.push({ start, path: path.join(dir, name) });
  }
  return files.sort((a, b) => a.start - b.start);
}

export interface QueueDir {
  /** The topic, or null for an encoded directory whose `topic` file is missing. */
  topic: string | null;
  queueId: number;
  /** The topic's directory and the queue's. */
  topicDir: string;
  dir: string;
}

/** Every queue directory under `consumeQueueDir`, by topic directory name then queue id. */
export function queueDirs(consumeQueueDir: string): QueueDir[] {
  const out: QueueDir[] = [];
  if (!fs.existsSync(consumeQueueDir)) return out;
  for (const dirName of fs.readdirSync(consumeQueueDir).sort()) {
    const topicDir = path.join(consumeQueueDir, dirName);
    if (!fs.statSync(topicDir).isDirectory()) continue;
    let topic: string | null;
    if (isEncodedTopicDir(dirName)) {
      const nameFile = path.join(topicDir, TOPIC_NAME_FILE);
      topic = fs.existsSync(nameFile) ? fs.readFileSync(nameFile, 'utf8') : null;
    } else if (isPlainTopicDir(dirName)) {
      topic = dirName;
    } else {
      continue; // Not written by a store.
    }
    const queueIds = fs
      .readdirSync(topicDir)
      .filter((name) => /^\d{1,9}$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
    for (const queueId of queueIds) out.push({ topic, queueId, topicDir, dir: path.join(topicDir, String(queueId)) });
  }
  return out;
}
