/**
 * A module can never take down a gateway: on one agent, a healthy EMA runs beside a module that
 * loops forever, one that allocates without bound and one that aborts. The hostile ones are
 * stopped, reported with their reason, restarted with backoff and quarantined; EMA keeps
 * publishing every batch, in order, throughout. Once per isolation: the default metered
 * sandbox (checkpoints compiled in stop the loop on the agent's thread) and worker threads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { fromRoot } from '../../common/paths.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { decodePayload, sha256Hex, topics, type ReportedState, type ResultBatch } from '../../protocol/index.js';
import { startAgent } from '../../device-agent/agent.js';
import { ISOLATIONS } from '../../wasm-host/select.js';
import { connectClient, desiredModuleOf, desiredState, envelopeOf, exampleModule, startBroker, tempDir, testTrust, until, type ExampleModule } from './helpers.js';


async function fixture(name: string): Promise<ExampleModule> {
  const built = await ensureBuilt(fromRoot('test', 'fixtures', 'hostile', name));
  return { wasm: built.bytes, manifest: built.manifest, sha256: sha256Hex(built.bytes) };
}

for (const isolation of ISOLATIONS) test(`${isolation} isolation: hostile modules are contained, reported and quarantined while a healthy one keeps every batch`, async (t) => {
  const DEVICE = `gw-hostile-${isolation}`;
  const broker = await startBroker(t);
  const fleet = await connectClient(t, broker.url, 'fleet');
  const ema = exampleModule('ema');
  const [spin, grow, faulty] = await Promise.all([fixture('spin'), fixture('grow'), fixture('faulty')]);
  for (const module of [ema, spin, grow, faulty]) {
    await fleet.publishAsync(topics.module(module.sha256), JSON.stringify(envelopeOf(module)), { qos: 1, retain: true });
  }

  const emaBatches: ResultBatch[] = [];
  const reports: ReportedState[] = [];
  fleet.on('message', (topic, payload) => {
    if (topic === topics.device(DEVICE, 'results')) {
      const decoded = decodePayload('results', payload);
      if (decoded.ok && decoded.value.module === 'ema') emaBatches.push(decoded.value);
    } else if (topic === topics.device(DEVICE, 'reported')) {
      const decoded = decodePayload('reported', payload);
      if (decoded.ok) reports.push(decoded.value);
    }
  });
  await fleet.subscribeAsync([topics.device(DEVICE, 'results'), topics.device(DEVICE, 'reported')], { qos: 1 });

  // pressure sits near 101 kPa: spin and grow misbehave on every batch of it.
  const desired = desiredState(DEVICE, 1, [
    desiredModuleOf(ema, { config: { alpha: 0.2, every: 1 }, input: 'temperature' }),
    desiredModuleOf(spin, { input: 'pressure', limits: { cpuMsPerBatch: 100 } }),
    desiredModuleOf(grow, { input: 'pressure', limits: { memoryPages: 8 } }),
    desiredModuleOf(faulty, { input: 'vibration' }),
  ]);
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desired), { qos: 1, retain: true });

  const agent = await startAgent(
    { deviceId: DEVICE, broker: { url: broker.url, username: DEVICE, password: 'pw' }, profile: 'sim-x86-64', stateDir: tempDir(t), moduleFetchTimeoutMs: 5000, reconnectPeriodMs: 0, trust: testTrust(), isolation },
    { logger: silentLogger, backoff: { baseMs: 50, maxMs: 200, maxConsecutiveFaults: 3 } },
  );
  t.after(() => agent.stop());

  const moduleState = (name: string) => agent.reportedState().modules.find((m) => m.name === name);
  await until(() => /quarantined after 3 faults.*timeout/.test(moduleState('spin')?.reason ?? ''), 20_000, 'spin quarantined after watchdog timeouts');
  await until(() => /quarantined after 3 faults.*(memory|trap)/.test(moduleState('grow')?.reason ?? ''), 20_000, 'grow quarantined after hitting its memory maximum');
  // faulty recovers on the next batch whose first sample is positive; its fault stays on record.
  await until(() => reports.some((r) => r.modules.some((m) => m.name === 'faulty' && m.faults >= 1 && /abort: .*faulty: negative input/.test(m.lastFault ?? ''))), 20_000, 'faulty reported with its abort message');
  const emaCountAtQuarantine = emaBatches.length;
  await until(() => emaBatches.length >= emaCountAtQuarantine + 4, 10_000, 'ema still publishing after the others were quarantined');

  assert.equal(moduleState('ema')?.state, 'running');
  assert.equal(moduleState('ema')?.faults, 0);
  assert.ok((moduleState('spin')?.faults ?? 0) >= 3);
  assert.ok((moduleState('grow')?.faults ?? 0) >= 3);
  // Every EMA batch from its first on is there, consecutive in source samples and result seq order.
  emaBatches.sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < emaBatches.length; i += 1) {
    const previous = emaBatches[i - 1]!.input;
    assert.equal(emaBatches[i]!.input.firstSeq, previous.firstSeq + previous.count, `ema batch ${i} follows batch ${i - 1} with no samples skipped`);
  }
  // The device reports it all: the retained reported state names each failure.
  const last = reports.at(-1)!;
  assert.match(last.modules.find((m) => m.name === 'spin')?.reason ?? '', /quarantined/);
});
