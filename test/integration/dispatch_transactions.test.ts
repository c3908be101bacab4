// Goal: RocketMQ's dispatch rules for transaction types: prepared and rollback records never enter
// a consume queue (and take no queue offset); rollback records are not indexed; NOT and COMMIT
// records are both (reference 2c "Rebuild by the dispatcher", 2d "Keys built per message").
// Method: a real store; one message of each type with its own key; read back by queue and key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { putOk, TempStore, waitDispatched } from '../support/dispatch_support.js';

const TOPIC = 'TxTopic';
const SYSFLAG = { NOT: 0x0, PREPARED: 0x4, COMMIT: 0x8, ROLLBACK: 0xc } as const;

test('prepared and rollback records stay out of the consume queue; rollback records are not indexed', async (t) => {
  const { store } = await TempStore.open(t, 'dispatch-tx', { mappedFileSizeCommitLog: 1 << 20 });
  for (const [name, sysFlag] of Object.entries(SYSFLAG)) {
    await putOk(store, { topic: TOPIC, queueId: 0, body: name, keys: `key-${name}`, sysFlag });
  }
  await waitDispatched(store, [[TOPIC, 0]]);

  assert.equal(store.getMaxOffsetInQueue(TOPIC, 0), 2, 'only NOT and COMMIT take queue offsets');
  const pulled = await store.getMessage({ group: 'g', topic: TOPIC, queueId: 0, offset: 0, maxMsgNums: 32 });
  assert.equal(pulled.status, 'FOUND');
  assert.deepEqual(pulled.messages.map((m) => m.body.toString()), ['NOT', 'COMMIT']);
  assert.deepEqual(pulled.messages.map((m) => m.queueOffset), [0, 1]);

  const found = async (name: string): Promise<string[]> =>
    (await store.queryMessage(TOPIC, `key-${name}`, 10, 0, Date.now() + 60_000)).messages.map((m) => m.body.toString());
  assert.deepEqual(await found('NOT'), ['NOT']);
  assert.deepEqual(await found('COMMIT'), ['COMMIT']);
  assert.deepEqual(await found('PREPARED'), ['PREPARED'], 'a prepared record is indexed (RocketMQ skips only rollback)');
  assert.deepEqual(await found('ROLLBACK'), [], 'a rollback record is not indexed');
});
