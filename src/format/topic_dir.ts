// The directory name of a topic under consumequeue/. RocketMQ uses the topic itself, which is
// safe because its brokers only accept topics of [%|a-zA-Z0-9_-], at most 127 characters. The
// store accepts any well-formed topic up to 32767 UTF-8 bytes (RocketMQ's v2 record), so a
// topic that is not a safe file name ("a/b", "..", 300 bytes, non-ASCII) gets a derived name:
//
//   consumequeue/%MQST%<sha-256 of the UTF-8 topic, 64 hex digits>/topic   the topic, UTF-8
//   consumequeue/%MQST%<…>/<queueId>/<20-digit file names>                   as usual
//
// A RocketMQ-style topic keeps RocketMQ's layout byte for byte. A topic that itself starts
// with the prefix is encoded too, so a directory name maps back to exactly one topic.

import { createHash } from 'node:crypto';

export const ENCODED_TOPIC_PREFIX = '%MQST%';
/** The file holding an encoded topic's name, inside its directory. */
export const TOPIC_NAME_FILE = 'topic';
/** RocketMQ's topic rule (Validators.VALID_PATTERN_STR and TOPIC_MAX_LENGTH). */
const ROCKETMQ_TOPIC = /^[%|a-zA-Z0-9_-]{1,127}$/;

/** True when the topic is used as its own directory name (RocketMQ's layout). */
export function isPlainTopicDir(topic: string): boolean {
  return ROCKETMQ_TOPIC.test(topic) && !topic.startsWith(ENCODED_TOPIC_PREFIX);
}

/** The directory name of `topic` under consumequeue/. */
export function topicDirName(topic: string): string {
  if (isPlainTopicDir(topic)) return topic;
  return ENCODED_TOPIC_PREFIX + createHash('sha256').update(topic, 'utf8').digest('hex');
}

/** True when a directory name is an encoded one (its topic is in its TOPIC_NAME_FILE). */
export function isEncodedTopicDir(name: string): boolean {
  return name.startsWith(ENCODED_TOPIC_PREFIX);
}
