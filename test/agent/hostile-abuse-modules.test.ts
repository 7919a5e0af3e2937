/**
 * The agent refuses a module over the host's caps or its memory budget before compiling it, and
 * reports the reason, while a healthy module beside it and a bulk-op runaway are handled as
 * usual: the runaway is stopped by its budget and quarantined, the healthy one keeps publishing.
 * Once per isolation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { decodePayload, sha256Hex, topics, type ResultBatch } from '../../protocol/index.js';
import { startAgent } from '../../device-agent/agent.js';
import { ISOLATIONS } from '../../wasm-host/select.js';
import { abuseManifest, abuseModule, type AbuseOptions } from '../fixtures/hostile/abuse-modules.js';
import { connectClient, desiredModuleOf, desiredState, envelopeOf, exampleModule, startBroker, tempDir, testTrust, until, type ExampleModule } from './helpers.js';

function abuse(name: string, options: AbuseOptions): ExampleModule {
  const wasm = abuseModule(options);
  return { wasm, manifest: abuseManifest(name), sha256: sha256Hex(wasm) };
}

for (const isolation of ISOLATIONS) test(`${isolation} isolation: modules over the caps are refused with the reason; a table.fill runaway is quarantined; ema keeps publishing`, async (t) => {
  const DEVICE = `gw-abuse-${isolation}`;
  const broker = await startBroker(t);
  const fleet = await connectClient(t, broker.url, 'fleet');
  const ema = exampleModule('ema');
  const many = abuse('many-functions', { extraFunctions: 20_000 });
  const table = abuse('huge-table', { tables: [[5_000_000, 5_000_000]] });
  const filler = abuse('table-filler', { runaway: 'table.fill' });
  for (const module of [ema, many, table, filler]) {
    await fleet.publishAsync(topics.module(module.sha256), JSON.stringify(envelopeOf(module)), { qos: 1, retain: true });
  }
  const emaBatches: ResultBatch[] = [];
  fleet.on('message', (topic, payload) => {
    const decoded = decodePayload('results', payload);
    if (decoded.ok && decoded.value.module === 'ema') emaBatches.push(decoded.value);
  });
  await fleet.subscribeAsync(topics.device(DEVICE, 'results'), { qos: 1 });

  const desired = desiredState(DEVICE, 1, [
    desiredModuleOf(ema, { config: { alpha: 0.2, every: 1 }, input: 'temperature' }),
    desiredModuleOf(many, { input: 'pressure' }),
    desiredModuleOf(table, { input: 'pressure' }),
    desiredModuleOf(filler, { input: 'vibration', limits: { cpuMsPerBatch: 100 } }),
  ]);
  await fleet.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desired), { qos: 1, retain: true });

  const agent = await startAgent(
    { deviceId: DEVICE, broker: { url: broker.url, username: DEVICE, password: 'pw' }, profile: 'sim-x86-64', stateDir: tempDir(t), moduleFetchTimeoutMs: 5000, reconnectPeriodMs: 0, trust: testTrust(), isolation },
    { logger: silentLogger, backoff: { baseMs: 50, maxMs: 200, maxConsecutiveFaults: 3 } },
  );
  t.after(() => agent.stop());
  const reason = (name: string) => agent.reportedState().modules.find((m) => m.name === name)?.reason ?? '';
  const lastFault = (name: string) => agent.reportedState().modules.find((m) => m.name === name)?.lastFault ?? '';
  await until(() => /defines 20005 functions; the cap is 10000/.test(reason('many-functions') + lastFault('many-functions')), 20_000, 'many-functions refused with the cap');
  await until(() => /tables declare 5000000 entries; the cap is 10000/.test(reason('huge-table') + lastFault('huge-table')), 20_000, 'huge-table refused with the cap');
  await until(() => /quarantined after 3 faults.*timeout/.test(reason('table-filler')), 30_000, 'table-filler quarantined after timeouts');
  const before = emaBatches.length;
  await until(() => emaBatches.length >= before + 3, 10_000, 'ema still publishing');
  assert.equal(agent.reportedState().modules.find((m) => m.name === 'ema')?.faults, 0);
});
