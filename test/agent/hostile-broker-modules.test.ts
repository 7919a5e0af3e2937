/**
 * Modules from a hostile broker (docs/security.md). The operator publishes a module through the
 * API (signed by the trusted publisher key); before it is deployed, the attacker, holding the
 * API's MQTT credentials, replaces the retained envelope on its content-addressed topic. Whatever
 * it puts there, the agent refuses the module, reports why through the API, and runs nothing the
 * signatures do not vouch for. A module the publisher built for another profile is refused too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSigningKey, signModule, topics } from '../../protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import { exampleModule, type ExampleModule } from './helpers.js';
import { genuineEnvelope, loggedRefusals, NO_ROLLBACK, provisionAgent, publishSigned, startHostileFleet, type HostileFleet, type WatchedAgent } from './hostile-fleet.js';

const ema = exampleModule('ema');
const zscore = exampleModule('zscore');

/** Replaces the retained envelope, deploys the module to the device, waits for its reported failure. */
async function deployTampered(fleet: HostileFleet, watched: WatchedAgent, module: ExampleModule, tampered: unknown): Promise<string> {
  await fleet.attacker.publishAsync(topics.module(module.sha256), typeof tampered === 'string' ? tampered : JSON.stringify(tampered), { qos: 1, retain: true });
  await fleet.api('POST', '/api/v1/deployments', { module: module.manifest.name, version: module.manifest.version, target: { devices: [watched.agent.deviceId] }, strategy: NO_ROLLBACK });
  return waitFor(`${module.manifest.name} reported failed through the API`, async () => {
    const device = await fleet.api<{ reported?: { modules: Array<{ name: string; state: string; reason?: string }> } }>('GET', `/api/v1/devices/${watched.agent.deviceId}`);
    const entry = device.reported?.modules.find((m) => m.name === module.manifest.name && m.state === 'failed');
    return entry?.reason;
  }, 15_000);
}

/** One fleet, the ema module published by the operator, and two devices to attack one after the other. */
async function fleetWith(t: Parameters<typeof startHostileFleet>[0], ids: [string, string]) {
  const fleet = await startHostileFleet(t);
  await publishSigned(fleet, ema);
  const first = await (await provisionAgent(t, fleet, ids[0])).start();
  const second = await (await provisionAgent(t, fleet, ids[1])).start();
  return { fleet, first, second };
}

test('an unsigned or foreign-signed module envelope is refused and reported', async (t) => {
  const { fleet, first, second } = await fleetWith(t, ['gw-unsigned', 'gw-foreign']);
  const genuine = await genuineEnvelope(fleet, ema);
  const { signatures: _dropped, ...unsigned } = genuine;
  const reason = await deployTampered(fleet, first, ema, unsigned);
  assert.match(reason, /^module ema@1\.0\.0 refused: not signed by a trusted publisher key: it is not signed$/);

  const attackerKey = generateSigningKey();
  const foreign = { ...genuine, signatures: [signModule(genuine, attackerKey)] };
  const foreignReason = await deployTampered(fleet, second, ema, foreign);
  assert.match(foreignReason, /not signed by a trusted publisher key: key [0-9a-f]{16} is not trusted/);
  assert.ok(loggedRefusals(second.logs).some((line) => line.code === 'WF_AGENT_MODULE_SIGNATURE'), 'the refusal is logged with its code');
  assert.equal(second.agent.reportedState().modules.find((m) => m.name === 'ema')?.state, 'failed');
});

test('module bytes whose length or hash differ from the signed manifest are refused', async (t) => {
  const { fleet, first, second } = await fleetWith(t, ['gw-bytes', 'gw-hash']);
  const genuine = await genuineEnvelope(fleet, ema);
  // The genuine signature still verifies: it covers sha256 and size, and the bytes no longer match them.
  const otherBytes = { ...genuine, wasm: Buffer.from(zscore.wasm).toString('base64') };
  const lengthReason = await deployTampered(fleet, first, ema, otherBytes);
  assert.match(lengthReason, new RegExp(`size mismatch for ema@1\\.0\\.0: expected ${ema.wasm.byteLength} bytes, the decoded bytes says ${zscore.wasm.byteLength}`));

  const flipped = Buffer.from(ema.wasm);
  flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 0xff;
  const sameLength = { ...genuine, wasm: flipped.toString('base64') };
  const hashReason = await deployTampered(fleet, second, ema, sameLength);
  assert.match(hashReason, new RegExp(`sha256 mismatch for ema@1\\.0\\.0: expected ${ema.sha256}, got [0-9a-f]{64}`));
});

test('a module for another ABI or another profile is refused', async (t) => {
  const { fleet, first: watched } = await fleetWith(t, ['gw-abi', 'gw-spare']);
  const genuine = await genuineEnvelope(fleet, ema);
  const otherAbi = { ...genuine, manifest: { ...genuine.manifest, abi: 3 } };
  const abiReason = await deployTampered(fleet, watched, ema, otherAbi);
  assert.match(abiReason, /module ema@1\.0\.0 envelope refused: WF_PROTO_SCHEMA: .*manifest\/abi/);

  // Signed by the trusted publisher, but for a Raspberry Pi only: the signed manifest says so.
  const piOnly = { ...zscore, manifest: { ...zscore.manifest, targets: { profiles: ['rpi4-arm64'], arch: ['arm64'] } } };
  await publishSigned(fleet, piOnly);
  await fleet.api('POST', '/api/v1/deployments', { module: 'zscore', version: zscore.manifest.version, target: { devices: [watched.agent.deviceId] }, strategy: NO_ROLLBACK });
  const targetReason = await waitFor('zscore refused for its target', async () => {
    const device = await fleet.api<{ reported?: { modules: Array<{ name: string; state: string; reason?: string }> } }>('GET', `/api/v1/devices/${watched.agent.deviceId}`);
    return device.reported?.modules.find((m) => m.name === 'zscore' && m.state === 'failed')?.reason;
  }, 15_000);
  assert.equal(targetReason, `module zscore@${zscore.manifest.version} refused: it targets profiles rpi4-arm64, not sim-x86-64`);
});
