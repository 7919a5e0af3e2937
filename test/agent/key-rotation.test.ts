/**
 * Keys change without reflashing (docs/security.md): on a real platform with a real agent, a new
 * publisher key is trusted, the fleet key is rotated and the development publisher key revoked,
 * all through the API. The agent adopts each root-signed list from the desired states that carry
 * it, keeps the newest across a restart, applies states signed by the new fleet key, and refuses
 * a state signed by the retired one (a stolen old key is worthless) and modules signed by the
 * revoked publisher.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KEY_FILES } from '../../fleet-api/index.js';
import { signDesired, signingKeyFromPem, topics, type TrustedKeys } from '../../protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import { exampleModule } from './helpers.js';
import { deployTo, NO_ROLLBACK, provisionAgent, publishSigned, recordedDesired, startHostileFleet } from './hostile-fleet.js';

const ema = exampleModule('ema');
const zscore = exampleModule('zscore');
const DEVICE = 'gw-rotate';

test('trusting, rotating and revoking keys reach a running agent and survive its restart', async (t) => {
  const fleet = await startHostileFleet(t);
  await publishSigned(fleet, ema);
  // Signed by the development publisher key now, deployed after that key is revoked.
  await publishSigned(fleet, zscore);
  const provisioned = await provisionAgent(t, fleet, DEVICE);
  let watched = await provisioned.start();
  const first = await deployTo(fleet, watched, ema, { alpha: 0.2 });
  const savedVersion = () => (JSON.parse(readFileSync(join(watched.stateDir, 'trust.json'), 'utf8')) as TrustedKeys).version;
  const adopted = (version: number) => waitFor(`trusted-keys list version ${version} adopted`, () => {
    try {
      return savedVersion() === version ? true : undefined;
    } catch {
      return undefined;
    }
  });

  const oldFleetKey = fleet.key(KEY_FILES.fleet);
  const rotated = await fleet.api<{ trustedKeys: TrustedKeys; republished: number }>('POST', '/api/v1/keys/fleet/rotate', {});
  assert.equal(rotated.trustedKeys.version, 2);
  assert.equal(rotated.republished, 1);
  await adopted(2);
  assert.notEqual(fleet.key(KEY_FILES.fleet).keyId, oldFleetKey.keyId);
  assert.ok(readdirSync(join(fleet.dataDir, 'keys')).some((name) => name.endsWith('.retired')), 'the old fleet key is kept, retired');

  // A new deployment is signed by the new fleet key, which the agent learnt from the list.
  const second = await deployTo(fleet, watched, ema, { alpha: 0.5 });
  assert.ok(second > first);
  assert.deepEqual(watched.agent.reportedState().errors, []);

  // Someone who stole the old fleet key signs a state with it: no longer trusted.
  const genuine = await recordedDesired(watched);
  const { signatures: _s, expiresAt: _e, trust: _t, ...plain } = genuine;
  const withOldKey = signDesired({ ...plain, revision: second + 1, modules: [] }, { expiresAt: genuine.expiresAt }, oldFleetKey);
  await fleet.attacker.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(withOldKey), { qos: 1, retain: true });
  await waitFor('the state signed by the retired fleet key refused', () =>
    watched.agent.reportedState().errors.some((error) => error.code === 'WF_AGENT_DESIRED_SIGNATURE' && /is not trusted/.test(error.message)) ? true : undefined,
  );
  assert.equal(watched.agent.reportedState().revision, second);

  // Revoke the development publisher key: its modules are refused from the next desired state on.
  const devKey = signingKeyFromPem(readFileSync(join(fleet.dataDir, 'keys', KEY_FILES.publisher), 'utf8'));
  const revoked = await fleet.api<{ trustedKeys: TrustedKeys }>('DELETE', `/api/v1/keys/${devKey.keyId}`);
  assert.equal(revoked.trustedKeys.version, 3);
  await adopted(3);

  // Restarted from its config (which still holds version 1), the agent keeps version 3.
  await watched.agent.stop();
  watched = await provisioned.start();
  await waitFor('resumed', () => (watched.agent.reportedState().revision === second ? true : undefined));
  assert.equal(savedVersion(), 3);
  await fleet.api('POST', '/api/v1/deployments', { module: 'zscore', version: zscore.manifest.version, target: { devices: [DEVICE] }, strategy: NO_ROLLBACK });
  const reason = await waitFor('zscore refused', () => watched.agent.reportedState().modules.find((m) => m.name === 'zscore' && m.state === 'failed')?.reason, 15_000);
  assert.match(reason, new RegExp(`not signed by a trusted publisher key: key ${devKey.keyId.slice(0, 16)} is not trusted`));
});
