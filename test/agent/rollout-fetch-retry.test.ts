/**
 * A module fetch that fails for a moment must not fail a rollout [WF-P-T-3c]. The whole platform
 * in process (real broker with its ACL, API, SQLite, signing keys), real agents provisioned
 * through the API, the asc-built ema module published signed. Before the deployment, the module's
 * retained envelope is taken off the broker (as if it reached the broker late, or the broker lost
 * it): each agent's first fetch finds nothing within its 3 s timeout. The agent keeps the module
 * starting and retries on its timer; the strict rollout (failure threshold 0) waits. What comes
 * back decides: the genuine envelope, and the rollout completes; one the agent must refuse, and
 * the refusal fails the row and aborts the rollout. A refused copy says nothing of the next one
 * (a relay's stale or tampered copy), so the agent keeps fetching: under a lenient rollout the
 * genuine copy, once back, runs and the failed row recovers.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { topics } from '../../protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import { exampleModule } from './helpers.js';
import { genuineEnvelope, provisionAgent, publishSigned, startHostileFleet, type HostileFleet, type WatchedAgent } from './hostile-fleet.js';

const ema = exampleModule('ema');
const STRICT = { canary: 0, soakSeconds: 0, ratePerMinute: 0, applyTimeoutSeconds: 120, failureThreshold: 0 };

interface Row {
  id: string;
  state: string;
  reason: string | null;
}
interface Deployment {
  status: string;
  statusReason: string | null;
  devices: Row[];
}

/** The fleet, ema published and then taken off its topic, and two agents given a strict rollout of it. */
async function rolloutOfAMissingModule(t: TestContext, ids: [string, string], strategy: Record<string, number> = STRICT) {
  const fleet = await startHostileFleet(t);
  await publishSigned(fleet, ema);
  const genuine = await genuineEnvelope(fleet, ema);
  await fleet.attacker.publishAsync(topics.module(ema.sha256), '', { qos: 1, retain: true });
  const agents: WatchedAgent[] = [];
  for (const id of ids) agents.push(await (await provisionAgent(t, fleet, id)).start());
  const created = await fleet.api<{ id: string }>('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ids }, strategy });
  const deployment = () => fleet.api<Deployment>('GET', `/api/v1/deployments/${created.id}`);
  // Both fetches found nothing: each row pending, saying why, and the rollout still running.
  const retrying = await waitFor('both rows pending with the agent retrying', async () => {
    const body = await deployment();
    if (body.status !== 'running') throw new Error(`the rollout ended ${body.status}: ${body.statusReason}`);
    return body.devices.every((row) => row.state === 'pending' && row.reason?.startsWith('still starting, the agent retries: ')) ? body : undefined;
  }, 20_000, 100);
  return { fleet, genuine, agents, deployment, retrying };
}

async function finished(deployment: () => Promise<Deployment>): Promise<Deployment> {
  return waitFor('the rollout to end', async () => {
    const body = await deployment();
    return body.status === 'running' ? undefined : body;
  }, 30_000, 100);
}

const emaOf = (watched: WatchedAgent) => watched.agent.reportedState().modules.find((m) => m.name === 'ema');
const retries = (watched: WatchedAgent) => watched.logs.filter((line) => line.msg === 'retrying module fetches that failed').length;

test('a module missing from the broker when the rollout starts is fetched on the retry, and a strict rollout completes', async (t) => {
  const { fleet, genuine, agents, deployment, retrying } = await rolloutOfAMissingModule(t, ['gw-late-1', 'gw-late-2']);
  assert.equal(retrying.status, 'running');
  for (const row of retrying.devices) assert.match(row.reason!, /the agent retries: module ema@1\.0\.0 \([0-9a-f]{64}\) not found: nothing on its topic within 3000 ms$/);
  for (const watched of agents) assert.equal(emaOf(watched)?.state, 'starting', 'the agent says starting, not failed');

  // The module reaches the broker late.
  await fleet.attacker.publishAsync(topics.module(ema.sha256), JSON.stringify(genuine), { qos: 1, retain: true });
  const done = await finished(deployment);
  assert.equal(done.status, 'completed', done.statusReason ?? '');
  assert.deepEqual(done.devices.map((row) => [row.id, row.state]), [['gw-late-1', 'healthy'], ['gw-late-2', 'healthy']]);
  for (const watched of agents) {
    assert.equal(emaOf(watched)?.state, 'running');
    assert.ok(retries(watched) >= 1, 'running came from the timer retry');
  }
});

test('a refused envelope on the retry is final: the row fails with the refusal and the strict rollout aborts', async (t) => {
  const { fleet, genuine, agents, deployment } = await rolloutOfAMissingModule(t, ['gw-forged-1', 'gw-forged-2']);
  // What comes back is unsigned: no trusted publisher vouches for it.
  const { signatures: _dropped, ...unsigned } = genuine;
  await fleet.attacker.publishAsync(topics.module(ema.sha256), JSON.stringify(unsigned), { qos: 1, retain: true });
  const done = await finished(deployment);
  assert.equal(done.status, 'aborted');
  assert.match(done.statusReason!, /^failure threshold 0 reached: \d of 2 devices reached failed \(gw-forged-\d: module failed: module ema@1\.0\.0 refused: not signed by a trusted publisher key/);
  // The first refusal aborts: the other device may be rolled back before its own retry came.
  const refused = agents.filter((watched) => watched.logs.some((line) => line.msg === 'module refused' && line.code === 'WF_AGENT_MODULE_SIGNATURE'));
  assert.ok(refused.length >= 1, 'an agent refused it for its signature');
  for (const watched of agents) {
    // Rolled back to no entry: the agent drops the module.
    await waitFor(`${watched.agent.deviceId} rolled back`, () => (emaOf(watched) === undefined ? true : undefined), 15_000);
  }
});

test('a refused copy is fetched again: under a lenient rollout the genuine copy, once back, runs and the failed row recovers', async (t) => {
  const lenient = { ...STRICT, failureThreshold: 1_000_000 };
  const { fleet, genuine, agents, deployment } = await rolloutOfAMissingModule(t, ['gw-relay-1', 'gw-relay-2'], lenient);
  const { signatures: _dropped, ...unsigned } = genuine;
  await fleet.attacker.publishAsync(topics.module(ema.sha256), JSON.stringify(unsigned), { qos: 1, retain: true });
  await waitFor('both rows failed for the signature', async () => {
    const body = await deployment();
    return body.devices.every((row) => row.state === 'failed' && /not signed by a trusted publisher key/.test(row.reason ?? '')) ? true : undefined;
  }, 60_000, 100);
  for (const watched of agents) assert.equal(emaOf(watched)?.state, 'failed');

  await fleet.attacker.publishAsync(topics.module(ema.sha256), JSON.stringify(genuine), { qos: 1, retain: true });
  const recovered = await waitFor('both rows healthy', async () => {
    const body = await deployment();
    return body.devices.every((row) => row.state === 'healthy') ? body : undefined;
  }, 90_000, 100);
  assert.notEqual(recovered.status, 'aborted');
  for (const watched of agents) {
    assert.equal(emaOf(watched)?.state, 'running');
    assert.ok(retries(watched) >= 2, 'a retry after the refusal fetched the genuine copy');
  }
});
