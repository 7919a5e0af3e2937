/**
 * Desired states from a hostile broker (docs/security.md). The attacker holds the fleet API's own
 * MQTT credentials on the real broker, so it may publish any desired state, retained: unsigned,
 * signed with its own key, carrying its own trusted-keys list, or a genuine state replayed after
 * a newer one (rollback) or after it expired (freeze). The real agent refuses each with the
 * reason in its reported state (read back through the API) and its log, and keeps running what
 * it last verified.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  generateSigningKey,
  PROTOCOL_VERSION,
  signDesired,
  signTrustedKeys,
  topics,
  trustedKeyOf,
  type SignedDesiredState,
} from '../../protocol/index.js';
import { KEY_FILES } from '../../fleet-api/index.js';
import { waitFor } from '../helpers/wait.js';
import { exampleModule } from './helpers.js';
import { deployTo, loggedRefusals, provisionAgent, publishSigned, reportedErrors, recordedDesired, startHostileFleet, type HostileFleet, type WatchedAgent } from './hostile-fleet.js';

const ema = exampleModule('ema');
const DEVICE = 'gw-target';

async function runningFleet(t: Parameters<typeof startHostileFleet>[0]): Promise<{ fleet: HostileFleet; watched: WatchedAgent; revision: number }> {
  const fleet = await startHostileFleet(t);
  await publishSigned(fleet, ema);
  const watched = await (await provisionAgent(t, fleet, DEVICE)).start();
  const revision = await deployTo(fleet, watched, ema, { alpha: 0.2 });
  return { fleet, watched, revision };
}

const publishDesired = (fleet: HostileFleet, state: unknown) =>
  fleet.attacker.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(state), { qos: 1, retain: true });

/** Waits until the device reports an error with `code` whose message matches, via the API. */
async function reported(fleet: HostileFleet, code: string, message: RegExp): Promise<void> {
  await waitFor(`${code} reported through the API`, async () => {
    const errors = await reportedErrors(fleet, DEVICE);
    return errors.some((error) => error.code === code && message.test(error.message)) ? true : undefined;
  }, 10_000);
}

const emaConfig = (watched: WatchedAgent) => watched.agent.reportedState().modules.map((m) => `${m.name}:${m.state}`);

test('unsigned and badly signed desired states are refused, reported and logged; the verified state keeps running', async (t) => {
  const { fleet, watched, revision } = await runningFleet(t);
  const genuine = await recordedDesired(watched);
  assert.equal(genuine.signatures?.length, 1, 'the API signs what it publishes');
  const attackerKey = generateSigningKey();
  // The attacker wants the device to run nothing (or anything) at a higher revision.
  const wanted = { ...genuine, revision: revision + 1, modules: [] };

  const { signatures: _dropped, ...unsigned } = wanted;
  await publishDesired(fleet, unsigned);
  await reported(fleet, 'WF_AGENT_DESIRED_SIGNATURE', /revision \d+ refused: not signed by a trusted fleet key: it is not signed/);

  // The genuine signature over the old content does not cover the new revision.
  await publishDesired(fleet, { ...wanted, signatures: genuine.signatures });
  await reported(fleet, 'WF_AGENT_DESIRED_SIGNATURE', /the signature by [0-9a-f]{16} \(fleet\) does not verify/);

  // Its own key, which nobody trusts.
  await publishDesired(fleet, signDesired({ ...wanted }, { expiresAt: genuine.expiresAt }, attackerKey));
  await reported(fleet, 'WF_AGENT_DESIRED_SIGNATURE', /key [0-9a-f]{16} is not trusted/);

  // The publisher key is trusted, but only to sign modules, never desired states.
  await publishDesired(fleet, signDesired({ ...wanted }, { expiresAt: genuine.expiresAt }, fleet.key(KEY_FILES.publisher)));
  await reported(fleet, 'WF_AGENT_DESIRED_SIGNATURE', /is a publisher key, not a fleet key/);

  // Its own trusted-keys list making its key a fleet key: not signed by the root, so refused.
  const forgedList = signTrustedKeys(
    { v: PROTOCOL_VERSION, version: 99, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString(), keys: [trustedKeyOf(attackerKey, 'fleet', 'fleet')] },
    attackerKey,
  );
  await publishDesired(fleet, signDesired({ ...wanted }, { expiresAt: genuine.expiresAt, trust: forgedList }, attackerKey));
  await reported(fleet, 'WF_AGENT_TRUST_REFUSED', /version 99 refused: trusted-keys list version 99 is not signed by the root key/);

  // An empty retained payload is how MQTT clears a topic; unsigned, it stops nothing.
  await fleet.attacker.publishAsync(topics.device(DEVICE, 'desired'), Buffer.alloc(0), { qos: 1, retain: true });
  await reported(fleet, 'WF_AGENT_DESIRED_UNSIGNED_CLEAR', /stops nothing|only a signed desired state/);

  assert.equal(watched.agent.reportedState().revision, revision);
  assert.deepEqual(emaConfig(watched), ['ema:running']);
  assert.ok(watched.agent.stats().refused >= 6, `refusals counted: ${watched.agent.stats().refused}`);
  const logged = loggedRefusals(watched.logs).map((line) => line.code);
  for (const code of ['WF_AGENT_DESIRED_SIGNATURE', 'WF_AGENT_TRUST_REFUSED', 'WF_AGENT_DESIRED_UNSIGNED_CLEAR']) assert.ok(logged.includes(code), `${code} logged`);
});

test('a replayed older desired state is refused as a rollback, also after the agent restarts', async (t) => {
  const fleet = await startHostileFleet(t);
  await publishSigned(fleet, ema);
  const provisioned = await provisionAgent(t, fleet, DEVICE);
  let watched = await provisioned.start();
  await deployTo(fleet, watched, ema, { alpha: 0.2 });
  const older = await recordedDesired(watched);
  const newer = await deployTo(fleet, watched, ema, { alpha: 0.5 });
  assert.ok(newer > older.revision);

  // Genuine, validly signed and not expired: only its revision gives it away.
  await publishDesired(fleet, older);
  await reported(fleet, 'WF_AGENT_DESIRED_STALE', new RegExp(`revision ${older.revision} refused as stale: revision ${newer} is already applied`));
  assert.equal(watched.agent.reportedState().revision, newer);

  // The floor is on disk: a restarted agent refuses the replay before the broker could say otherwise.
  await watched.agent.stop();
  watched = await provisioned.start();
  await waitFor('the restarted agent resumes its newer state from disk', () => (watched.agent.reportedState().revision === newer ? true : undefined));
  await publishDesired(fleet, older);
  await waitFor('the replay refused after the restart', () =>
    watched.agent.reportedState().errors.some((error) => error.code === 'WF_AGENT_DESIRED_STALE') ? true : undefined,
  );
  assert.equal(watched.agent.reportedState().revision, newer);
  assert.deepEqual(emaConfig(watched), ['ema:running']);
});

test('a desired state past its expiry is refused (freeze); the last verified state keeps running', async (t) => {
  const { fleet, watched, revision } = await runningFleet(t);
  const genuine = await recordedDesired(watched);
  // A state the fleet key really signed, at a higher revision, whose expiry has passed: what an
  // attacker holds when it withholds newer states and replays one it recorded long ago.
  const fleetKey = fleet.key(KEY_FILES.fleet);
  const { signatures: _s, expiresAt: _e, trust: _t, ...plain } = genuine;
  const expired: SignedDesiredState = signDesired({ ...plain, revision: revision + 1, modules: [] }, { expiresAt: new Date(Date.now() - 1000).toISOString() }, fleetKey);
  await publishDesired(fleet, expired);
  await reported(fleet, 'WF_AGENT_DESIRED_EXPIRED', new RegExp(`revision ${revision + 1} refused: it expired at ${expired.expiresAt.replace(/\./g, '\\.')}`));
  assert.equal(watched.agent.reportedState().revision, revision);
  assert.deepEqual(emaConfig(watched), ['ema:running']);

  // The same state, signed with a fresh expiry, is applied: expiry was the only reason.
  await publishDesired(fleet, signDesired({ ...plain, revision: revision + 1, modules: [] }, { expiresAt: new Date(Date.now() + 60_000).toISOString() }, fleetKey));
  await watched.agent.whenApplied(revision + 1, 10_000);
  assert.deepEqual(emaConfig(watched), []);
});
