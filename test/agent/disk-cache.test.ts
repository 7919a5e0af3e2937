/**
 * The on-disk module cache: entries are re-hashed on read, so a flipped or truncated byte is
 * caught, discarded and fetched again from the broker; eviction spares what the last applied
 * desired state references; a cache that cannot be written is logged and the agent runs on.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { sha256Hex } from '../../protocol/index.js';
import { ModuleStore } from '../../device-agent/state/module-store.js';
import { desiredModuleOf, desiredState, exampleModule, tempDir, until } from './helpers.js';
import { DEVICE, logged, publishFleet, startClosableBroker, startLoggedAgent } from './state-helpers.js';

const ema = exampleModule('ema');
const verified = { sha256: ema.sha256, manifest: ema.manifest, wasm: ema.wasm };

test('a cached module with a flipped byte is discarded on restart, fetched again, and runs', async (t) => {
  const stateDir = tempDir(t);
  const broker = await startClosableBroker(t);
  await publishFleet(t, broker.url, ema, desiredState(DEVICE, 2, [desiredModuleOf(ema, { input: 'temperature' })]));
  const first = await startLoggedAgent(t, broker.url, stateDir);
  await first.agent.whenApplied(2, 10_000);
  await first.agent.stop();

  const cached = join(stateDir, 'modules', `${ema.sha256}.module`);
  const bytes = readFileSync(cached);
  bytes[bytes.length >> 1]! ^= 0x01;
  writeFileSync(cached, bytes);

  const { agent, logs } = await startLoggedAgent(t, broker.url, stateDir);
  await until(() => agent.reportedState().modules[0]?.state === 'running', 8000, 'module running after refetch');
  assert.equal(agent.stats().cacheCorrupt, 1);
  const [corrupt] = logged(logs, 'corrupt module cache entry discarded; it will be fetched again');
  assert.equal(corrupt?.code, 'WF_AGENT_CACHE_CORRUPT');
  assert.match(String(corrupt?.error), new RegExp(`cached module ${ema.sha256} discarded: the bytes hash to [0-9a-f]{64}`));
  // The refetched, verified copy replaces the corrupt one on disk.
  const bytesOf = (file: Buffer) => file.subarray(file.indexOf(0x0a) + 1);
  await until(() => existsSync(cached) && sha256Hex(bytesOf(readFileSync(cached))) === ema.sha256, 3000, 'cache entry rewritten');
});

test('the store re-hashes on read: truncated or manifest-less entries are deleted and counted', async (t) => {
  const stateDir = tempDir(t);
  const store = new ModuleStore(stateDir, silentLogger);
  await store.write(verified);
  assert.deepEqual(store.read(ema.sha256)?.wasm, ema.wasm);

  const entry = join(store.dir, `${ema.sha256}.module`);
  truncateSync(entry, readFileSync(entry).byteLength - 100);
  assert.equal(store.read(ema.sha256), undefined);
  assert.deepEqual(readdirSync(store.dir), [], 'the entry is gone');

  await store.write(verified);
  const file = readFileSync(entry);
  writeFileSync(entry, Buffer.concat([Buffer.from('{"manifest":\n'), file.subarray(file.indexOf(0x0a) + 1)]));
  assert.equal(store.read(ema.sha256), undefined);
  assert.equal(store.read('0'.repeat(64)), undefined, 'a missing entry is a plain miss');
  assert.deepEqual(store.stats(), { corrupt: 2, writeFailures: 0, evicted: 0 });
});

test('a cached module is one file (an inode, an fsync and a rename per apply, not two); entries older agents wrote as a pair still read', async (t) => {
  const stateDir = tempDir(t);
  const store = new ModuleStore(stateDir, silentLogger);
  await store.write(verified);
  assert.deepEqual(readdirSync(store.dir), [`${ema.sha256}.module`]);
  assert.deepEqual(store.read(ema.sha256)?.wasm, ema.wasm);

  const older = new ModuleStore(tempDir(t), silentLogger);
  writeFileSync(join(older.dir, `${ema.sha256}.json`), JSON.stringify({ sha256: ema.sha256, size: ema.wasm.byteLength, manifest: ema.manifest }) + '\n');
  writeFileSync(join(older.dir, `${ema.sha256}.wasm`), ema.wasm);
  assert.deepEqual(older.read(ema.sha256)?.manifest, ema.manifest);
  assert.deepEqual(older.read(ema.sha256)?.wasm, ema.wasm);
  writeFileSync(join(older.dir, `${ema.sha256}.wasm`), ema.wasm.subarray(1));
  assert.equal(older.read(ema.sha256), undefined);
  assert.deepEqual(readdirSync(older.dir), [], 'a corrupt pair is removed whole');
});

test('eviction keeps the cache within budget, oldest unreferenced first, never a referenced entry', async (t) => {
  const stateDir = tempDir(t);
  // Room for about two entries of ema (manifest line + wasm).
  const store = new ModuleStore(stateDir, silentLogger, 2 * ema.wasm.byteLength + 2048);
  const variants = [0, 1, 2].map((i) => {
    const wasm = new Uint8Array([...ema.wasm, 0x00, 0x04, 0x6e, 0x6f, 0x74, 0x65 + i]) as Uint8Array<ArrayBuffer>;
    return { sha256: sha256Hex(wasm), manifest: ema.manifest, wasm };
  });
  for (const [i, module] of variants.entries()) {
    await store.write(module);
    const when = new Date(Date.now() - (10 - i) * 60_000);
    utimesSync(join(store.dir, `${module.sha256}.module`), when, when);
  }
  // The oldest is referenced, so the next oldest goes.
  store.prune(new Set([variants[0]!.sha256]));
  const left = new Set(readdirSync(store.dir).map((name) => name.slice(0, 64)));
  assert.deepEqual([...left].sort(), [variants[0]!.sha256, variants[2]!.sha256].sort());
  assert.equal(store.stats().evicted, 1);
});

test('a cache that cannot be written is a logged error; the module still runs', async (t) => {
  const stateDir = tempDir(t);
  // A file where the modules directory should be: every write fails, even as root.
  writeFileSync(join(stateDir, 'modules'), 'not a directory');
  const broker = await startClosableBroker(t);
  await publishFleet(t, broker.url, ema, desiredState(DEVICE, 1, [desiredModuleOf(ema, { input: 'temperature' })]));
  const { agent, logs } = await startLoggedAgent(t, broker.url, stateDir);
  await agent.whenApplied(1, 10_000);
  await until(() => agent.stats().stateWriteFailures === 1, 3000, 'write failure counted');
  assert.equal(agent.reportedState().modules[0]?.state, 'running');
  const [failure] = logged(logs, 'module not cached on disk; it will be fetched again after a restart');
  assert.equal(failure?.code, 'WF_AGENT_STATE_WRITE_FAILED');
  assert.match(String(failure?.error), /agent state not written \(module ema@1\.0\.0 to .*modules\/[0-9a-f]{64}\.module\): ENOTDIR/);
  await until(() => (agent.reportedState().modules[0]?.batches ?? 0) >= 1, 5000, 'batches handled');
  // desired.json lives beside it and is still written.
  await agent.stop();
  assert.equal((JSON.parse(readFileSync(join(stateDir, 'desired.json'), 'utf8')) as { revision: number }).revision, 1);
});
