/**
 * A profile refuses a module whose needs it cannot meet, with the same reason at deploy time
 * (REST API, real SQLite and broker) and in the agent before instantiating (real broker, real
 * agent). The module is the asc-compiled ema example with the initial page count of its imported
 * memory raised in place, so it is a real binary that needs more memory than some profiles grant.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { startAgent } from '../../device-agent/agent.js';
import { loadProfile, memoryBudgetProblem, moduleFit, moduleFitProblem, parseProfile } from '../../firmware-profiles/index.js';
import { importedMemoryMinimum, sha256Hex, topics } from '../../protocol/index.js';
import { startApi } from '../api/helpers/harness.js';
import { provision, signedModuleBody } from '../api/helpers/fleet.js';
import { abuseManifest, abuseModule } from '../fixtures/hostile/abuse-modules.js';
import { moduleFootprint } from '../../wasm-host/footprint.js';
import { connectClient, desiredModuleOf, desiredState, envelopeOf, exampleModule, startBroker, tempDir, testTrust, until, type ExampleModule } from '../agent/helpers.js';

/** The example with its `env.memory` import's initial pages set to `pages` (< 128: one LEB byte). */
function needingPages(name: string, pages: number): ExampleModule {
  const module = exampleModule(name);
  const wasm = new Uint8Array(module.wasm);
  const marker = Buffer.from([3, ...Buffer.from('env'), 6, ...Buffer.from('memory'), 0x02]);
  const at = Buffer.from(wasm).indexOf(marker);
  assert.ok(at > 0, 'the example imports env.memory');
  const minimumAt = at + marker.length + 1; // after the limits flags byte
  assert.ok(wasm[minimumAt]! < 0x80 && pages < 0x80, 'one-byte LEB128 minimum');
  wasm[minimumAt] = pages;
  assert.equal(importedMemoryMinimum(wasm), pages);
  return { wasm, manifest: module.manifest, sha256: sha256Hex(wasm) };
}

test('fit: memory minimum against ceiling and requests, missing input, memory budget', () => {
  const big = needingPages('ema', 40);
  const rpi4 = loadProfile('rpi4-arm64'); // 32 pages
  const sim = loadProfile('sim-x86-64'); // 64 pages
  assert.match(moduleFitProblem(rpi4, { manifest: big.manifest, wasm: big.wasm }) ?? '', /ema@1\.0\.0 needs at least 40 pages \(2560 KiB\) of memory; it would be granted 32 pages \(2048 KiB\) \(profile rpi4-arm64's ceiling\)/);
  assert.equal(moduleFitProblem(sim, { manifest: big.manifest, wasm: big.wasm }), undefined);
  assert.match(moduleFitProblem(sim, { manifest: big.manifest, wasm: big.wasm, limits: { memoryPages: 16 } }) ?? '', /granted 16 pages .*its requested memoryPages limit/);
  assert.match(moduleFitProblem(sim, { manifest: big.manifest, input: 'zigbee' }) ?? '', /needs input source 'zigbee', which profile sim-x86-64 does not have \(has: temperature, vibration, pressure\)/);
  assert.equal(moduleFitProblem(rpi4, { manifest: big.manifest, input: 'zigbee' }), undefined);

  const rpi5 = loadProfile('rpi5-arm64'); // 64 pages = 4 MiB each, 24 MiB budget
  assert.equal(memoryBudgetProblem(rpi5, [64, 64, 64, 64, 64, 64]), undefined);
  assert.match(memoryBudgetProblem(rpi5, [64, 64, 64, 64, 64, 64, 64]) ?? '', /7 modules would be granted 28\.00 MiB .*budgets 24 MiB/);
  assert.throws(
    () => parseProfile({ ...JSON.parse(JSON.stringify(rpi5)), moduleLimits: { ...rpi5.moduleLimits, memoryBudgetMiB: 2 } }, 'x'),
    /moduleLimits\/memoryBudgetMiB.*cannot hold even one module/,
  );
});

test('fit: tables and compiled code are charged to the granted pages, and the caps apply, as in the sandbox', () => {
  // 2,000 tiny functions: about 2.5 MiB of compiled code, more than rpi4's 32 pages leave room for.
  const wasm = abuseModule({ extraFunctions: 2000 });
  const overhead = moduleFootprint(wasm).overheadPages;
  assert.ok(overhead > 32 && overhead < 63, `the fixture costs ${overhead} pages: between rpi4's and sim's grants`);
  const manifest = abuseManifest('many');
  const rpi4 = loadProfile('rpi4-arm64');
  const sim = loadProfile('sim-x86-64');
  const onPi = moduleFit(rpi4, { manifest, wasm });
  assert.equal(onPi?.field, 'wasm');
  assert.match(onPi?.reason ?? '', new RegExp(`many@1\\.0\\.0: its tables and code cost .* \\(${overhead} pages\\) of its memory budget of 32 pages, leaving 0 pages of linear memory; it needs 1 \\(profile rpi4-arm64's ceiling\\)`));
  assert.equal(moduleFit(sim, { manifest, wasm }), undefined);
  const starved = moduleFit(sim, { manifest, wasm, limits: { memoryPages: 40 } });
  assert.equal(starved?.field, 'limits/memoryPages');
  assert.match(starved?.reason ?? '', /memory budget of 40 pages.*\(its requested memoryPages limit\)/);

  const capped = moduleFit(sim, { manifest, wasm: abuseModule({ tables: [[20_000, 20_000]] }) });
  assert.deepEqual(capped, { field: 'wasm', reason: 'many@1.0.0: its tables declare 20000 entries; the cap is 10000' });
  assert.match(moduleFitProblem(sim, { manifest, wasm: abuseModule({ tables: [[2, undefined]] }) }) ?? '', /declares no maximum/);
});

test('the API refuses at deploy time a module the device profile cannot run, naming the reason', async (t) => {
  const h = await startApi(t);
  await provision(h, 'pi-1', {}, 'rpi4-arm64');
  await provision(h, 'sim-1', {}, 'sim-x86-64');
  const big = needingPages('ema', 40);
  const uploaded = await h.call('POST', '/api/v1/modules', signedModuleBody(h, big.manifest, big.wasm));
  assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));

  const refused = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['sim-1', 'pi-1'] } });
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'WF_API_TARGET_INVALID');
  assert.equal(refused.body.error.field, 'body/module');
  assert.match(refused.body.error.message, /device pi-1 \(profile rpi4-arm64\) cannot run it: ema@1\.0\.0 needs at least 40 pages/);
  assert.equal((await h.call('GET', '/api/v1/deployments')).body.deployments.length, 0, 'nothing is stored for a refused deployment');

  const accepted = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['sim-1'] } });
  assert.equal(accepted.status, 201, JSON.stringify(accepted.body));

  // Tables and code count as the agent counts them: accepted at upload (the largest profile has
  // room), refused for the device whose profile leaves no linear memory beside them.
  const heavy = abuseModule({ extraFunctions: 2000 });
  const heavyUpload = await h.call('POST', '/api/v1/modules', signedModuleBody(h, abuseManifest('many'), heavy));
  assert.equal(heavyUpload.status, 201, JSON.stringify(heavyUpload.body));
  const heavyRefused = await h.call('POST', '/api/v1/deployments', { module: 'many', version: '1.0.0', target: { devices: ['sim-1', 'pi-1'] } });
  assert.equal(heavyRefused.status, 422, JSON.stringify(heavyRefused.body));
  assert.equal(heavyRefused.body.error.field, 'body/module');
  assert.match(heavyRefused.body.error.message, /device pi-1 \(profile rpi4-arm64\) cannot run it: many@1\.0\.0: its tables and code cost .* of its memory budget of 32 pages/);
  const heavyAccepted = await h.call('POST', '/api/v1/deployments', { module: 'many', version: '1.0.0', target: { devices: ['sim-1'] } });
  assert.equal(heavyAccepted.status, 201, JSON.stringify(heavyAccepted.body));
});

test('the agent refuses such a module before instantiating it and reports why', async (t) => {
  const broker = await startBroker(t);
  const fleet = await connectClient(t, broker.url, 'fleet');
  const big = needingPages('ema', 100); // sim-x86-64 grants 64
  const fits = exampleModule('zscore');
  for (const module of [big, fits]) await fleet.publishAsync(topics.module(module.sha256), JSON.stringify(envelopeOf(module)), { qos: 1, retain: true });
  const desired = desiredState('gw-fit', 1, [desiredModuleOf(big, { deploymentId: 'dep_big' }), desiredModuleOf(fits, { deploymentId: 'dep_ok' })]);
  await fleet.publishAsync(topics.device('gw-fit', 'desired'), JSON.stringify(desired), { qos: 1, retain: true });

  const started: string[] = [];
  const { startSandbox } = await import('../../wasm-host/module-sandbox.js');
  const agent = await startAgent(
    { deviceId: 'gw-fit', broker: { url: broker.url, username: 'gw-fit', password: 'pw' }, profile: 'sim-x86-64', stateDir: tempDir(t), reconnectPeriodMs: 0, trust: testTrust() },
    { logger: silentLogger, startSandbox: (options) => (started.push(options.manifest.name), startSandbox(options)) },
  );
  t.after(() => agent.stop());
  await agent.whenApplied(1, 15_000);
  await until(() => agent.reportedState().modules.some((m) => m.name === 'zscore' && m.state === 'running'), 10_000, 'zscore running');
  const refused = agent.reportedState().modules.find((m) => m.name === 'ema')!;
  assert.equal(refused.state, 'failed');
  assert.match(refused.reason ?? '', /module ema@1\.0\.0 refused by profile sim-x86-64: ema@1\.0\.0 needs at least 100 pages \(6400 KiB\) of memory; it would be granted 64 pages/);
  assert.deepEqual(started, ['zscore'], 'the refused module never reached the sandbox');
});

test('the agent refuses a module that would overrun the profile memory budget beside the running ones', async (t) => {
  const broker = await startBroker(t);
  const dir = tempDir(t);
  // 64 pages (4 MiB) each, 6 MiB for all: the second module does not fit beside the first.
  const profile = { ...JSON.parse(JSON.stringify(loadProfile('sim-x86-64'))), name: 'tight', moduleLimits: { memoryPages: 64, cpuMsPerBatch: 200, maxOutputsPerBatch: 2048, maxModules: 4, memoryBudgetMiB: 6 } };
  writeFileSync(join(dir, 'tight.json'), JSON.stringify(profile));
  const fleet = await connectClient(t, broker.url, 'fleet');
  const modules = [exampleModule('ema'), exampleModule('zscore')];
  for (const module of modules) await fleet.publishAsync(topics.module(module.sha256), JSON.stringify(envelopeOf(module)), { qos: 1, retain: true });
  const desired = desiredState('gw-budget', 1, modules.map((m) => desiredModuleOf(m, { deploymentId: `dep_${m.manifest.name}` })));
  await fleet.publishAsync(topics.device('gw-budget', 'desired'), JSON.stringify(desired), { qos: 1, retain: true });

  const agent = await startAgent(
    { deviceId: 'gw-budget', broker: { url: broker.url, username: 'gw-budget', password: 'pw' }, profile: join(dir, 'tight.json'), stateDir: join(dir, 'state'), reconnectPeriodMs: 0, trust: testTrust() },
    { logger: silentLogger },
  );
  t.after(() => agent.stop());
  await agent.whenApplied(1, 15_000);
  await until(() => agent.reportedState().modules.some((m) => m.state === 'running'), 10_000, 'one module running');
  const states = agent.reportedState().modules.map((m) => m.state).sort();
  assert.deepEqual(states, ['failed', 'running']);
  const refused = agent.reportedState().modules.find((m) => m.state === 'failed')!;
  assert.match(refused.reason ?? '', /refused by profile tight: .* does not fit beside the modules already running: 2 modules would be granted 8\.00 MiB of memory together; profile tight budgets 6 MiB/);
});
