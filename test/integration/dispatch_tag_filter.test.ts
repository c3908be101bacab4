// Goal: tag subscriptions return exactly the subscribed tags (hash collisions told apart by the
// tag itself), maxMsgNums counts matched messages only, and key lookups never return a message
// whose key merely has the same hash.
// Method: real store; 'Aa' and 'BB' share Java hashCode 2112, so they share the consume queue's
// tags code and, prefixed with the same `topic#`, the index key hash.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetMessageStatus } from '../../src/index.js';
import { javaHash, putAll, readQueue, TempStore, waitDispatched } from '../support/dispatch_support.js';

const OPTIONS = { mappedFileSizeCommitLog: 1 << 20, mappedFileSizeConsumeQueue: 1000, maxHashSlotNum: 100, maxIndexNum: 1000 };
const TAG_CYCLE = ['A', 'B', 'C', undefined] as const;

test('the colliding strings used below really share a Java hashCode', () => {
  assert.equal(javaHash('Aa'), javaHash('BB'));
  assert.equal(javaHash('Aa'), 2112);
  assert.equal(javaHash('FilterTopic#Aa'), javaHash('FilterTopic#BB'));
});

test("subscription { tags: ['A','B'] } returns only A and B; '*', [] or no subscription return all", async (t) => {
  const { store } = await TempStore.open(t, 'filter-tags', OPTIONS);
  const inputs = Array.from({ length: 120 }, (_, i) => {
    const tags = TAG_CYCLE[i % TAG_CYCLE.length];
    return tags === undefined ? { topic: 'FilterTopic', queueId: 0, body: `f-${i}` } : { topic: 'FilterTopic', queueId: 0, body: `f-${i}`, tags };
  });
  await putAll(store, inputs);
  await waitDispatched(store, [['FilterTopic', 0]]);
  const bodies = (tags: ReadonlySet<string | undefined>): string[] => inputs.filter((m) => tags.has(m.tags)).map((m) => m.body);

  const ab = await readQueue(store, 'FilterTopic', 0, { tags: ['A', 'B'] });
  assert.deepEqual(ab.messages.map((m) => m.body.toString()), bodies(new Set(['A', 'B'])));
  assert.ok(ab.messages.every((m) => m.tags === 'A' || m.tags === 'B'));
  const c = await readQueue(store, 'FilterTopic', 0, { tags: ['C'] });
  assert.deepEqual(c.messages.map((m) => m.body.toString()), bodies(new Set(['C'])));
  const all = inputs.map((m) => m.body);
  assert.deepEqual((await readQueue(store, 'FilterTopic', 0, { tags: ['*'] })).messages.map((m) => m.body.toString()), all, "'*'");
  assert.deepEqual((await readQueue(store, 'FilterTopic', 0, { tags: ['A', '*'] })).messages.map((m) => m.body.toString()), all, "'*' among tags");
  assert.deepEqual((await readQueue(store, 'FilterTopic', 0, { tags: [] })).messages.map((m) => m.body.toString()), all, 'no tags');
  assert.deepEqual((await readQueue(store, 'FilterTopic', 0)).messages.map((m) => m.body.toString()), all, 'no subscription');
  const none = await readQueue(store, 'FilterTopic', 0, { tags: ['Z'] });
  assert.deepEqual(none.messages, []);
  assert.ok(none.results.slice(0, -1).every((r) => r.status === GetMessageStatus.NO_MATCHED_MESSAGE));
});

test('maxMsgNums counts matched messages only; nextBeginOffset follows the last one returned', async (t) => {
  const { store } = await TempStore.open(t, 'filter-count', OPTIONS);
  const inputs = Array.from({ length: 40 }, (_, i) => ({ topic: 'CountTopic', queueId: 1, body: `c-${i}`, tags: TAG_CYCLE[i % 4] ?? 'D' }));
  await putAll(store, inputs);
  await waitDispatched(store, [['CountTopic', 1]]);
  // A at 0, 4, 8, …: three of them reach queue offset 8, and the pull stops there.
  const three = await store.getMessage({ group: 'g', topic: 'CountTopic', queueId: 1, offset: 0, maxMsgNums: 3, subscription: { tags: ['A'] } });
  assert.equal(three.status, GetMessageStatus.FOUND);
  assert.deepEqual(three.messages.map((m) => m.queueOffset), [0, 4, 8]);
  assert.equal(three.nextBeginOffset, 9);
  const next = await store.getMessage({ group: 'g', topic: 'CountTopic', queueId: 1, offset: 9, maxMsgNums: 2, subscription: { tags: ['A', 'C'] } });
  assert.deepEqual(next.messages.map((m) => m.queueOffset), [10, 12]);
  assert.equal(next.nextBeginOffset, 13);
});

test("tags 'Aa' and 'BB' share a tags code but each subscription gets only its own", async (t) => {
  const temp = await TempStore.open(t, 'filter-collide', OPTIONS);
  const inputs = Array.from({ length: 30 }, (_, i) => ({ topic: 'CollideTopic', queueId: 0, body: `x-${i}`, tags: i % 3 === 0 ? 'Aa' : i % 3 === 1 ? 'BB' : 'Other' }));
  await putAll(temp.store, inputs);
  await waitDispatched(temp.store, [['CollideTopic', 0]]);
  for (const tag of ['Aa', 'BB']) {
    const read = await readQueue(temp.store, 'CollideTopic', 0, { tags: [tag] });
    assert.deepEqual(read.messages.map((m) => m.body.toString()), inputs.filter((m) => m.tags === tag).map((m) => m.body), `subscription ${tag}`);
    // One pull of 32 would reach every unit of both tags: only the real tag check can drop the other.
    const pull = await temp.store.getMessage({ group: 'g', topic: 'CollideTopic', queueId: 0, offset: 0, maxMsgNums: 32, subscription: { tags: [tag] } });
    assert.ok(pull.messages.every((m) => m.tags === tag), `one pull for ${tag}: ${pull.messages.map((m) => m.tags).join(',')}`);
    assert.equal(pull.messages.length, 10);
  }
  // Only BB messages from offset 1 to 1 (the unit's tags code matches, the tag does not).
  const lone = await temp.store.getMessage({ group: 'g', topic: 'CollideTopic', queueId: 0, offset: 1, maxMsgNums: 1, subscription: { tags: ['Aa'] } });
  assert.deepEqual(lone.messages.map((m) => m.queueOffset), [3], 'the BB at 1 is skipped, the Aa at 3 returned');
  // After a reopen the same holds (the tags code comes from the consume queue file).
  const store = await temp.reopen();
  const aa = await readQueue(store, 'CollideTopic', 0, { tags: ['Aa'] });
  assert.deepEqual(aa.messages.map((m) => m.body.toString()), inputs.filter((m) => m.tags === 'Aa').map((m) => m.body));
});

test("keys 'Aa' and 'BB' share an index slot and hash; queryMessage returns only the right message", async (t) => {
  const temp = await TempStore.open(t, 'filter-keys', OPTIONS);
  const store = temp.store;
  const [aa, bb, both, other] = await putAll(store, [
    { topic: 'FilterTopic', queueId: 0, body: 'key-aa', keys: 'Aa' },
    { topic: 'FilterTopic', queueId: 1, body: 'key-bb', keys: ['BB'] },
    { topic: 'FilterTopic', queueId: 2, body: 'key-both', keys: ['BB', 'Aa'] },
    { topic: 'OtherTopic', queueId: 0, body: 'key-other-topic', keys: 'Aa' },
  ]);
  await waitDispatched(store);
  const end = Date.now() + 60_000;
  const offsetsOf = async (topic: string, key: string): Promise<number[]> => (await store.queryMessage(topic, key, 32, 0, end)).messages.map((m) => m.commitLogOffset);
  const at = (r: typeof aa): number => r!.appendMessageResult!.wroteOffset;
  assert.deepEqual(await offsetsOf('FilterTopic', 'Aa'), [at(aa), at(both)]);
  assert.deepEqual(await offsetsOf('FilterTopic', 'BB'), [at(bb), at(both)]);
  assert.deepEqual(await offsetsOf('OtherTopic', 'Aa'), [at(other)]);
  assert.deepEqual(await offsetsOf('OtherTopic', 'BB'), [], 'same hash, other key, other topic');
  assert.deepEqual((await store.queryMessage('FilterTopic', 'Aa', 1, 0, end)).messages.length, 1, 'maxNum caps the result');
  const reopened = await temp.reopen();
  assert.deepEqual((await reopened.queryMessage('FilterTopic', 'BB', 32, 0, end)).messages.map((m) => m.body.toString()), ['key-bb', 'key-both']);
});
