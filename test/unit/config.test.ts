// Goal: resolveConfig yields RocketMQ's defaults and rejects bad keys or values with E_CONFIG_INVALID.
// Method: resolve option objects and broker.conf files written to a fresh temp dir per test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  checkRuntimeUpdate,
  deleteWhenHours,
  resolveConfig,
  type MessageStoreOptions,
} from '../../src/config.js';
import { StoreError } from '../../src/errors.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqstore-config-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeBrokerConf(dir: string, text: string): string {
  const file = path.join(dir, 'broker.conf');
  fs.writeFileSync(file, text, { encoding: 'utf8', mode: 0o644, flag: 'wx' });
  return file;
}

async function assertConfigInvalid(promise: Promise<unknown>, mention?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, 'E_CONFIG_INVALID');
    if (mention !== undefined) assert.match(error.message, mention);
    return true;
  });
}

function assertConfigInvalidSync(fn: () => unknown, mention?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, 'E_CONFIG_INVALID');
    if (mention !== undefined) assert.match(error.message, mention);
    return true;
  });
}

test('resolveConfig fills in RocketMQ\'s defaults', async (t) => {
  const root = tempDir(t);
  const config = await resolveConfig({ storePathRootDir: root });
  assert.equal(config.storePathRootDir, root);
  assert.equal(config.storePathCommitLog, path.join(root, 'commitlog'));
  assert.equal(config.mappedFileSizeCommitLog, 1073741824);
  assert.equal(config.flushDiskType, 'ASYNC_FLUSH');
  assert.equal(config.flushIntervalCommitLog, 500);
  assert.equal(config.flushCommitLogLeastPages, 4);
  assert.equal(config.flushCommitLogThoroughInterval, 10000);
  assert.equal(config.commitIntervalCommitLog, 200);
  assert.equal(config.syncFlushTimeout, 5000);
  assert.equal(config.maxMessageSize, 4194304);
  assert.equal(config.osPageCacheBusyTimeOutMills, 1000);
  assert.equal(config.storeHost, '127.0.0.1:10911');
  assert.equal(config.checkCRCOnRecover, true);
  assert.equal(config.transientStorePoolEnable, false);
});

test('a relative storePathRootDir is resolved to an absolute path', async () => {
  const config = await resolveConfig({ storePathRootDir: 'relative-store' });
  assert.equal(config.storePathRootDir, path.resolve('relative-store'));
  assert.equal(path.isAbsolute(config.storePathCommitLog), true);
});

test('storePathCommitLog can be set explicitly', async (t) => {
  const root = tempDir(t);
  const other = path.join(root, 'elsewhere');
  const config = await resolveConfig({ storePathRootDir: root, storePathCommitLog: other });
  assert.equal(config.storePathCommitLog, other);
});

test('warmMapedFileEnable defaults off, as in RocketMQ, and can be turned on', async (t) => {
  const root = tempDir(t);
  const sync = await resolveConfig({ storePathRootDir: root, flushDiskType: 'SYNC_FLUSH' });
  assert.equal(sync.warmMapedFileEnable, false);
  assert.equal((await resolveConfig({ storePathRootDir: root })).warmMapedFileEnable, false);
  assert.equal((await resolveConfig({ storePathRootDir: root, warmMapedFileEnable: true })).warmMapedFileEnable, true);
});

test('a broker.conf file is applied and the options object wins over it', async (t) => {
  const dir = tempDir(t);
  const configFile = writeBrokerConf(dir, [
    '# broker.conf for the test',
    '! another comment style',
    '',
    `storePathRootDir=${dir.replace(/\\/g, '\\\\')}`,
    'flushDiskType=SYNC_FLUSH',
    'flushIntervalCommitLog = 750',
    'maxMessageSize=1048576',
    'checkCRCOnRecover=false',
    'storeHost=10.0.0.7:10911',
    '',
  ].join('\n'));
  const config = await resolveConfig({
    storePathRootDir: dir,
    configFile,
    maxMessageSize: 2048,
  });
  assert.equal(config.flushDiskType, 'SYNC_FLUSH');
  assert.equal(config.flushIntervalCommitLog, 750);
  assert.equal(config.checkCRCOnRecover, false);
  assert.equal(config.storeHost, '10.0.0.7:10911');
  assert.equal(config.maxMessageSize, 2048, 'the options object wins over the file');
  assert.equal(config.configFile, configFile);
  assert.equal(config.mappedFileSizeCommitLog, 1073741824, 'keys in neither keep their default');
});

test('storePathRootDir may come from the config file alone', async (t) => {
  const dir = tempDir(t);
  const root = path.join(dir, 'store');
  const configFile = writeBrokerConf(dir, `storePathRootDir=${root.replace(/\\/g, '\\\\')}\n`);
  const config = await resolveConfig({ configFile } as unknown as MessageStoreOptions);
  assert.equal(config.storePathRootDir, root);
  assert.equal(config.storePathCommitLog, path.join(root, 'commitlog'));
});

test('an unknown key in the options object is rejected and named', async (t) => {
  const root = tempDir(t);
  const options = { storePathRootDir: root, flushIntervalCommitlog: 500 } as unknown as MessageStoreOptions;
  await assertConfigInvalid(resolveConfig(options), /flushIntervalCommitlog/);
});

test('an unknown key in the config file is rejected and named', async (t) => {
  const dir = tempDir(t);
  const configFile = writeBrokerConf(dir, 'brokerClusterName=DefaultCluster\n');
  await assertConfigInvalid(resolveConfig({ storePathRootDir: dir, configFile }), /brokerClusterName/);
});

test('a missing config file is rejected', async (t) => {
  const dir = tempDir(t);
  const configFile = path.join(dir, 'absent.conf');
  await assertConfigInvalid(resolveConfig({ storePathRootDir: dir, configFile }), /absent\.conf/);
});

test('out-of-range values are rejected', async (t) => {
  const root = tempDir(t);
  const cases: [string, unknown][] = [
    ['mappedFileSizeCommitLog', 100],
    ['mappedFileSizeCommitLog', 2 ** 31],
    ['maxMessageSize', 0],
    ['maxMessageSize', -1],
    ['flushIntervalCommitLog', 0],
    ['flushDiskType', 'FAST'],
    ['flushDiskType', 'sync_flush'],
    ['storeHost', 'localhost:10911'],
    ['storeHost', '127.0.0.1'],
  ];
  for (const [key, value] of cases) {
    const options = { storePathRootDir: root, [key]: value } as unknown as MessageStoreOptions;
    await assertConfigInvalid(resolveConfig(options), new RegExp(key));
  }
});

test('values of the wrong type in the options object are rejected', async (t) => {
  const root = tempDir(t);
  const cases: [string, unknown][] = [
    ['flushIntervalCommitLog', '500'],
    ['flushIntervalCommitLog', 1.5],
    ['flushIntervalCommitLog', null],
    ['checkCRCOnRecover', 'true'],
    ['storePathCommitLog', 42],
    ['storePathCommitLog', ''],
    ['storeHost', 10911],
  ];
  for (const [key, value] of cases) {
    const options = { storePathRootDir: root, [key]: value } as unknown as MessageStoreOptions;
    await assertConfigInvalid(resolveConfig(options), new RegExp(key));
  }
});

test('numbers and booleans written as text are accepted from the config file', async (t) => {
  const dir = tempDir(t);
  const configFile = writeBrokerConf(dir, 'flushIntervalCommitLog=500\nflushCommitLogTimed=false\n');
  const config = await resolveConfig({ storePathRootDir: dir, configFile });
  assert.equal(config.flushIntervalCommitLog, 500);
  assert.equal(config.flushCommitLogTimed, false);
});

test('a non-numeric or out-of-range value in the config file is rejected', async (t) => {
  const lines = ['flushIntervalCommitLog=fast', 'mappedFileSizeCommitLog=100', 'checkCRCOnRecover=yes'];
  for (const line of lines) {
    const dir = tempDir(t);
    const configFile = writeBrokerConf(dir, `${line}\n`);
    const key = line.slice(0, line.indexOf('='));
    await assertConfigInvalid(resolveConfig({ storePathRootDir: dir, configFile }), new RegExp(key));
  }
});

test('a missing storePathRootDir is rejected', async () => {
  await assertConfigInvalid(resolveConfig({} as MessageStoreOptions), /storePathRootDir/);
  await assertConfigInvalid(resolveConfig(null as unknown as MessageStoreOptions));
  const explicitUndefined = { storePathRootDir: undefined } as unknown as MessageStoreOptions;
  await assertConfigInvalid(resolveConfig(explicitUndefined), /storePathRootDir/);
});

test('checkRuntimeUpdate accepts a runtime-tunable key', () => {
  assert.deepEqual(checkRuntimeUpdate({ flushIntervalCommitLog: 1000 }), { flushIntervalCommitLog: 1000 });
  assert.deepEqual(checkRuntimeUpdate({ maxMessageSize: 1024, syncFlushTimeout: 100 }), {
    maxMessageSize: 1024,
    syncFlushTimeout: 100,
  });
});

test('checkRuntimeUpdate rejects a key that cannot change on an open store', () => {
  assertConfigInvalidSync(
    () => checkRuntimeUpdate({ mappedFileSizeCommitLog: 4096 }),
    /mappedFileSizeCommitLog/,
  );
  assertConfigInvalidSync(() => checkRuntimeUpdate({ flushDiskType: 'SYNC_FLUSH' }), /flushDiskType/);
  assertConfigInvalidSync(() => checkRuntimeUpdate({ storePathRootDir: '/tmp/x' }), /storePathRootDir/);
});

test('checkRuntimeUpdate rejects unknown keys and bad values', () => {
  assertConfigInvalidSync(() => checkRuntimeUpdate({ nope: 1 }), /nope/);
  assertConfigInvalidSync(
    () => checkRuntimeUpdate({ flushIntervalCommitLog: '1000' }),
    /flushIntervalCommitLog/,
  );
  assertConfigInvalidSync(() => checkRuntimeUpdate({ maxMessageSize: 0 }), /maxMessageSize/);
  assertConfigInvalidSync(() => checkRuntimeUpdate(null as unknown as Record<string, unknown>));
});

// Known inconsistency (reported, not fixed here): readConfigFile trims integer values but not
// booleans or flushDiskType, so a trailing space is accepted on one line and rejected on another.
test('trailing spaces in config file values are treated alike', async (t) => {
  const dir = tempDir(t);
  const text = 'flushIntervalCommitLog=750 \nflushDiskType=SYNC_FLUSH \ncheckCRCOnRecover=false \n';
  const configFile = writeBrokerConf(dir, text);
  const config = await resolveConfig({ storePathRootDir: dir, configFile });
  assert.equal(config.flushIntervalCommitLog, 750);
  assert.equal(config.flushDiskType, 'SYNC_FLUSH');
  assert.equal(config.checkCRCOnRecover, false);
});

test('consume queue, pull and retention keys have RocketMQ\'s defaults and are checked', async () => {
  const config = await resolveConfig({ storePathRootDir: '/tmp/mqstore-config-defaults' });
  assert.equal(config.mappedFileSizeConsumeQueue, 6000000);
  assert.equal(config.maxHashSlotNum, 5000000);
  assert.equal(config.maxIndexNum, 20000000);
  assert.equal(config.maxTransferCountOnMessageInMemory, 32);
  assert.equal(config.maxTransferBytesOnMessageInMemory, 262144);
  assert.equal(config.fileReservedTime, 72);
  assert.equal(config.deleteWhen, '04');
  assert.equal(config.diskSpaceWarningLevelRatio, 90);
  for (const deleteWhen of ['', '24', '4;x', '1;;2', 'now']) {
    await assert.rejects(resolveConfig({ storePathRootDir: '/tmp/x', deleteWhen }), { code: 'E_CONFIG_INVALID' }, deleteWhen);
  }
  assert.equal((await resolveConfig({ storePathRootDir: '/tmp/x', deleteWhen: '01;13' })).deleteWhen, '01;13');
  await assert.rejects(resolveConfig({ storePathRootDir: '/tmp/x', fileReservedTime: -1 }), { code: 'E_CONFIG_INVALID' });
  await assert.rejects(resolveConfig({ storePathRootDir: '/tmp/x', diskMaxUsedSpaceRatio: 101 }), { code: 'E_CONFIG_INVALID' });
  assert.deepEqual([...deleteWhenHours('01; 13')!], [1, 13]);
});
