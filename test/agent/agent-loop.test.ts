/**
 * The full loop with real parts: Aedes on a TCP port, mqtt.js clients, the worker sandbox and the
 * compiled ema example. Results are checked against the JS reference applied to the replayed
 * source samples, so every number the agent published is accounted for.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { loadProfile, type SimulatedSource } from '../../firmware-profiles/index.js';
import { references } from '../../modules-as/reference/index.js';
import { decodePayload, topics, type ResultBatch } from '../../protocol/index.js';
import { startAgent } from '../../device-agent/agent.js';
import { createSignal, sampleTime } from '../../device-agent/sources/index.js';
import { collect, connectClient, desiredModuleOf, desiredState, envelopeOf, exampleModule, startBroker, tempDir, testTrust, until } from './helpers.js';

const DEVICE = 'gw-01';
const profile = loadProfile('sim-x86-64');
const ema = exampleModule('ema');

async function startTestAgent(t: TestContext, url: string) {
  const agent = await startAgent(
    { deviceId: DEVICE, broker: { url, username: DEVICE, password: 'pw' }, profile: 'sim-x86-64', stateDir: tempDir(t), moduleFetchTimeoutMs: 3000, reconnectPeriodMs: 0, trust: testTrust() },
    { logger: silentLogger },
  );
  t.after(() => agent.stop());
  return agent;
}

const retainedOf = async (t: TestContext, url: string, topic: string) =>
  (await collect(await connectClient(t, url), topic, 1))[0]!;

test('agent applies a retained desired state and publishes results equal to the reference', async (t) => {
  const broker = await startBroker(t);
  const fleet = await connectClient(t, broker.url, 'fleet');
  await fleet.publishAsync(topics.module(ema.sha256), JSON.stringify(envelopeOf(ema)), { qos: 1, retain: true });
  const config = { alpha: 0.3, every: 1 };
  const desired = desiredState(DEVICE, 1, [desiredModuleOf(ema, { config, input: 'temperature' })]);
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desired), { qos: 1, retain: true });
  const resultsPromise = collect(fleet, topics.device(DEVICE, 'results'), 6, 15_000);

  const agent = await startTestAgent(t, broker.url);
  await agent.whenApplied(1, 10_000);
  assert.deepEqual(agent.reportedState().modules.map((m) => [m.name, m.state]), [['ema', 'running']]);
  assert.deepEqual(agent.progress(), { connected: true, modules: 1, running: 1 }, 'progress says what the report says, without building it');

  const results = (await resultsPromise).map((payload) => {
    const decoded = decodePayload('results', payload);
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
    return decoded.value as ResultBatch;
  });
  results.sort((a, b) => a.seq - b.seq);
  const source = profile.sources.find((s) => s.id === 'temperature') as SimulatedSource;
  const first = results[0]!.input;
  const startedAt = Math.round(first.from - (first.firstSeq * 1000) / source.rateHz);
  const signal = createSignal(source, agent.deviceId);
  const reference = references.ema!(config, { maxOutputs: profile.moduleLimits.maxOutputsPerBatch });
  let expectedSeq = first.firstSeq;
  for (const result of results) {
    assert.equal(result.input.firstSeq, expectedSeq, 'batches are consecutive: none skipped or dropped');
    expectedSeq += result.input.count;
    const timestamps = Float64Array.from({ length: result.input.count }, (_, i) => sampleTime(startedAt, source.rateHz, result.input.firstSeq + i));
    assert.equal(timestamps[0], result.input.from);
    assert.equal(timestamps[timestamps.length - 1], result.input.to);
    const expected = reference.process(timestamps, signal.valuesFrom(result.input.firstSeq, result.input.count));
    assert.deepEqual({ metrics: result.metrics, events: result.events, dropped: result.dropped }, expected);
    assert.equal(result.module, 'ema');
    assert.equal(result.deploymentId, 'dep_test');
  }

  const reported = decodePayload('reported', await retainedOf(t, broker.url, topics.device(DEVICE, 'reported')));
  assert.ok(reported.ok);
  assert.equal(reported.value.revision, 1);
  const status = decodePayload('status', await retainedOf(t, broker.url, topics.device(DEVICE, 'status')));
  assert.ok(status.ok);
  assert.deepEqual([status.value.online, status.value.reason], [true, 'connected']);

  // Malformed desired payloads are counted and reported, and change nothing.
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), '{"v":1,', { qos: 1 });
  await until(() => agent.stats().malformed === 1, 3000, 'malformed count');
  assert.equal(agent.reportedState().errors[0]?.code, 'WF_AGENT_DESIRED_MALFORMED');
  assert.equal(agent.reportedState().modules[0]?.state, 'running');

  // A new revision without the module stops it, without restarting the agent.
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desiredState(DEVICE, 2, [])), { qos: 1, retain: true });
  await agent.whenApplied(2, 5000);
  assert.deepEqual(agent.reportedState().modules, []);
  assert.deepEqual(agent.reportedState().errors, []);
  assert.deepEqual(agent.progress(), { connected: true, modules: 0, running: 0 });

  await agent.stop();
  const offline = decodePayload('status', await retainedOf(t, broker.url, topics.device(DEVICE, 'status')));
  assert.ok(offline.ok);
  assert.deepEqual([offline.value.online, offline.value.reason], [false, 'shutdown']);
});

test('a refused module is reported failed with its reason; a lost link publishes the will', async (t) => {
  const broker = await startBroker(t);
  const fleet = await connectClient(t, broker.url, 'fleet');
  // Signed after the change: even a trusted publisher cannot vouch for a size the desired state did not ask for.
  const tampered = envelopeOf(ema, { size: ema.wasm.byteLength - 1 });
  await fleet.publishAsync(topics.module(ema.sha256), JSON.stringify(tampered), { qos: 1, retain: true });
  const desired = desiredState(DEVICE, 5, [desiredModuleOf(ema)]);
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desired), { qos: 1, retain: true });

  const agent = await startTestAgent(t, broker.url);
  await agent.whenApplied(5, 10_000);
  const [module] = agent.reportedState().modules;
  assert.equal(module?.state, 'failed');
  assert.match(module?.reason ?? '', /size mismatch for ema@1.0.0/);
  assert.deepEqual(agent.progress(), { connected: true, modules: 1, running: 0 }, 'a failed module is held, not running');

  // A stale desired state is refused and reported.
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desiredState(DEVICE, 4, [])), { qos: 1 });
  await until(() => agent.reportedState().errors.some((e) => e.code === 'WF_AGENT_DESIRED_STALE'), 3000, 'stale refusal');
  assert.equal(agent.reportedState().revision, 5);

  const statusUpdates = collect(fleet, topics.device(DEVICE, 'status'), 2, 5000);
  // Aedes keeps connected clients by id; destroying the socket is a link lost without DISCONNECT.
  const clients = (broker.aedes as unknown as { clients: Record<string, { conn: { destroy(): void } }> }).clients;
  clients[DEVICE]?.conn.destroy();
  const last = decodePayload('status', (await statusUpdates)[1]!);
  assert.ok(last.ok);
  assert.deepEqual([last.value.online, last.value.reason], [false, 'connection-lost']);
});
