/**
 * Edge autonomy on real parts: an agent that applied a desired state, restarted with its broker
 * gone, runs its modules from the disk cache and computes; with a broker back, the persisted
 * revision stays the floor below which desired states are refused (rollback protection).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { topics } from '../../protocol/index.js';
import { connectClient, desiredModuleOf, desiredState, envelopeOf, exampleModule, tempDir, until } from './helpers.js';
import { DEVICE, logged, publishFleet, startClosableBroker, startLoggedAgent } from './state-helpers.js';

const ema = exampleModule('ema');

test('restarted with no broker reachable, the agent resumes its modules from disk and computes', async (t) => {
  const stateDir = tempDir(t);
  const broker = await startClosableBroker(t);
  await publishFleet(t, broker.url, ema, desiredState(DEVICE, 3, [desiredModuleOf(ema, { config: { alpha: 0.3, every: 1 }, input: 'temperature' })]));
  const first = await startLoggedAgent(t, broker.url, stateDir);
  await first.agent.whenApplied(3, 10_000);
  assert.equal(first.agent.reportedState().modules[0]?.state, 'running');
  await first.agent.stop();
  const persisted = JSON.parse(readFileSync(join(stateDir, 'desired.json'), 'utf8')) as { revision: number };
  assert.equal(persisted.revision, 3);
  const entry = readFileSync(join(stateDir, 'modules', `${ema.sha256}.module`));
  assert.equal(entry.byteLength - entry.indexOf(0x0a) - 1, ema.wasm.byteLength);

  await broker.close();
  // The closed broker's address: nothing listens there any more.
  const { agent, logs } = await startLoggedAgent(t, broker.url, stateDir);
  await until(() => agent.reportedState().modules[0]?.state === 'running', 5000, 'module running from cache');
  // Batches handled while offline are the proof that it computes; their results wait in the spool.
  await until(() => agent.stats().resultsPending >= 1, 5000, 'results spooled while offline');
  const reported = agent.reportedState();
  assert.equal(reported.revision, 3);
  assert.deepEqual(reported.modules.map((m) => [m.name, m.sha256, m.state]), [['ema', ema.sha256, 'running']]);
  const stats = agent.stats();
  assert.equal(stats.connected, false);
  assert.equal(stats.resultsPublished, 0);
  assert.equal(stats.resultsDropped, 0, 'results produced offline are spooled, not dropped');
  assert.ok(stats.resultsPending >= 1);
  assert.ok((reported.spool?.pending ?? 0) >= 1, "the spool is in the reported state");
  assert.equal(stats.cacheCorrupt, 0);

  const [resumed] = logged(logs, 'resumed from disk');
  assert.ok(resumed, 'the resume is logged');
  assert.equal(resumed.running, 1);
  t.diagnostic(`start to running from cache: ${String(resumed.startToRunningMs)} ms`);
  console.log(`start-to-running-from-cache ${String(resumed.startToRunningMs)} ms`);
});

test('after a restart, an equal revision is a no-op, a lower one is refused as stale, a higher one applies', async (t) => {
  const stateDir = tempDir(t);
  const broker = await startClosableBroker(t);
  const entry = desiredModuleOf(ema, { input: 'temperature' });
  await publishFleet(t, broker.url, ema, desiredState(DEVICE, 5, [entry]));
  const first = await startLoggedAgent(t, broker.url, stateDir);
  await first.agent.whenApplied(5, 10_000);
  await first.agent.stop();

  // The broker still retains revision 5: the restarted agent resumes it and the redelivery changes nothing.
  const second = await startLoggedAgent(t, broker.url, stateDir);
  await until(() => second.agent.stats().connected && second.agent.reportedState().modules[0]?.state === 'running', 5000, 'resumed and connected');
  await until(() => logged(second.logs, 'desired state already applied').length === 1, 3000, 'redelivered revision 5 seen as applied');
  assert.equal(logged(second.logs, 'applying desired state').length, 1, 'only the resume applied anything');
  await second.agent.stop();

  // A rollback to revision 4 retained by the broker is refused by a fresh process: the floor is on disk.
  await publishFleet(t, broker.url, undefined, desiredState(DEVICE, 4, []));
  const third = await startLoggedAgent(t, broker.url, stateDir);
  await until(() => third.agent.reportedState().errors.some((e) => e.code === 'WF_AGENT_DESIRED_STALE'), 5000, 'stale refusal');
  assert.match(third.agent.reportedState().errors[0]?.message ?? '', /revision 4 refused as stale: revision 5 is already applied/);
  assert.equal(third.agent.reportedState().revision, 5);
  assert.equal(third.agent.reportedState().modules[0]?.state, 'running');
  assert.equal((JSON.parse(readFileSync(join(stateDir, 'desired.json'), 'utf8')) as { revision: number }).revision, 5);

  // A higher revision is applied normally and becomes the new floor on disk.
  await publishFleet(t, broker.url, undefined, desiredState(DEVICE, 6, [{ ...entry, config: { alpha: 0.5 } }]));
  await third.agent.whenApplied(6, 10_000);
  await third.agent.stop();
  const saved = JSON.parse(readFileSync(join(stateDir, 'desired.json'), 'utf8')) as { revision: number; desired: { modules: { config: unknown }[] } };
  assert.equal(saved.revision, 6);
  assert.deepEqual(saved.desired.modules[0]?.config, { alpha: 0.5 });
});

test('a module that could not resume from disk is fetched again when the broker redelivers the same revision', async (t) => {
  const stateDir = tempDir(t);
  const broker = await startClosableBroker(t);
  await publishFleet(t, broker.url, ema, desiredState(DEVICE, 7, [desiredModuleOf(ema, { input: 'temperature' })]));
  const first = await startLoggedAgent(t, broker.url, stateDir);
  await first.agent.whenApplied(7, 10_000);
  await first.agent.stop();
  rmSync(join(stateDir, 'modules', `${ema.sha256}.module`));
  // The broker has lost the module for now: the resume cannot find it anywhere and fails it.
  const fleet = await connectClient(t, broker.url, 'fleet-clear');
  await fleet.publishAsync(topics.module(ema.sha256), '', { qos: 1, retain: true });

  const { agent, logs } = await startLoggedAgent(t, broker.url, stateDir);
  await until(() => logged(logs, 'module not started').length === 1, 6000, 'resume failed the module');
  assert.match(String(logged(logs, 'module not started')[0]?.reason), /not found: nothing on its topic within 3000 ms/);
  await fleet.publishAsync(topics.module(ema.sha256), JSON.stringify(envelopeOf(ema)), { qos: 1, retain: true });
  // The redelivered revision 7 (retained desired, queued during the resume) retries the failed module.
  await until(() => agent.reportedState().modules[0]?.state === 'running', 8000, 'module running after the retry');
  assert.equal(agent.reportedState().revision, 7);
});
