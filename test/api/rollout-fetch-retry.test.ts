/**
 * A fetch the agent retries is not a failure [WF-P-T-3c]: the device's row stays pending and says
 * why, a strict rollout waits for it, and the apply timeout judges a device that never gets there.
 * A failed row recovers when the same deployment's module later runs without a fault (an older
 * agent reports a fetch it retries as failed), unless its rollout has ended otherwise. Real store
 * and REST app; reports go through the API's own ingestion function, time is passed to the step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepRollouts } from '../../fleet-api/deployments/rollout.js';
import { startApi } from './helpers/harness.js';
import { provision, reportModule, upload } from './helpers/fleet.js';

const NOT_FOUND = 'module ema@1.0.0 (ab12) not found: nothing on its topic within 3000 ms';

async function rollout(t: Parameters<typeof startApi>[0], count: number, strategy: object) {
  const h = await startApi(t);
  const ids = Array.from({ length: count }, (_, i) => `r${i}`);
  for (const id of ids) await provision(h, id, { site: 'r' });
  for (const id of ids) h.api.store.setPresence(id, true, new Date().toISOString());
  const uploaded = await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'r' } }, strategy });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id as string;
  const row = (device: string) => h.api.store.getDeployment(id)!.devices.find((r) => r.id === device)!;
  const module = { name: 'ema', version: '1.0.0', sha256: uploaded.sha256 };
  // As the agent reports it: under this deployment's id unless `extra` names another.
  const report = (device: string, extra: Parameters<typeof reportModule>[3] = {}) => reportModule(h, device, module, { deploymentId: id, ...extra });
  return { h, ids, id, row, report };
}

test('[WF-P-T-3c] a module still starting while its agent retries the fetch keeps its row pending, with the reason; a strict rollout completes', async (t) => {
  const { h, id, row, report } = await rollout(t, 2, { canary: 0, soakSeconds: 0, ratePerMinute: 0, failureThreshold: 0 });
  const retrying = { state: 'starting', reason: NOT_FOUND, batches: 0 } as const;
  assert.deepEqual(report('r0', retrying), { updated: 1, settling: false }, 'nothing for a step to do at once');
  assert.equal(row('r0').state, 'pending');
  assert.equal(row('r0').reason, `still starting, the agent retries: ${NOT_FOUND}`);
  assert.equal(report('r0', retrying).updated, 0, 'the same reason is not written again');
  report('r1');
  stepRollouts(h.api.store, Date.now() + 1000);
  assert.equal(h.api.store.getDeployment(id)!.status, 'running', 'the strict threshold is not reached');

  report('r0');
  assert.deepEqual([row('r0').state, row('r0').reason], ['healthy', null]);
  stepRollouts(h.api.store, Date.now() + 2000);
  const done = h.api.store.getDeployment(id)!;
  assert.equal(done.status, 'completed', done.statusReason ?? '');
  assert.equal(done.counts.healthy, 2);
});

test('a device whose agent retries until the apply timeout times out with its last reason', async (t) => {
  const { h, id, row, report } = await rollout(t, 1, { canary: 0, soakSeconds: 0, ratePerMinute: 0, applyTimeoutSeconds: 60, failureThreshold: 0 });
  report('r0', { state: 'starting', reason: NOT_FOUND, batches: 0 });
  stepRollouts(h.api.store, Date.now() + 61_000);
  assert.equal(h.api.store.getDeployment(id)!.status, 'aborted');
  assert.match(row('r0').reason!, /^timed out waiting for apply after 60 s \(last: still starting, the agent retries: module ema@1\.0\.0 \(ab12\) not found/);
});

test('a failed row recovers when the same deployment later runs without a fault, and then no longer counts against the threshold', async (t) => {
  // Abort at two failures: without the recovery, r0's retried fetch and r1's real failure make two.
  const { h, id, row, report } = await rollout(t, 3, { canary: 0, soakSeconds: 0, ratePerMinute: 0, failureThreshold: 2 });
  report('r0', { state: 'failed', reason: NOT_FOUND, batches: 0 });
  assert.equal(row('r0').state, 'failed');
  stepRollouts(h.api.store, Date.now() + 1000);

  report('r0', { deploymentId: 'dep-other' });
  assert.equal(row('r0').state, 'failed', 'another deployment of the same version running says nothing of this one');
  report('r0', { faults: 1, lastFault: 'trap: unreachable' });
  assert.equal(row('r0').state, 'failed', 'a module that faulted does not recover');
  assert.deepEqual(report('r0'), { updated: 1, settling: false });
  assert.deepEqual([row('r0').state, row('r0').reason], ['healthy', null]);

  report('r1', { state: 'failed', reason: 'trap: unreachable', faults: 1, batches: 0 });
  report('r2');
  stepRollouts(h.api.store, Date.now() + 2000);
  const done = h.api.store.getDeployment(id)!;
  assert.equal(done.status, 'completed', done.statusReason ?? '');
  assert.deepEqual([done.counts.healthy, done.counts.failed], [2, 1]);
});

test('with a soak, a recovered row soaks again; a failed row of a cancelled rollout stays failed', async (t) => {
  const soaking = await rollout(t, 1, { canary: 0, soakSeconds: 30, ratePerMinute: 0, failureThreshold: 5, requireResults: false });
  soaking.report('r0', { state: 'failed', reason: NOT_FOUND, batches: 0 });
  soaking.report('r0');
  assert.equal(soaking.row('r0').state, 'applied');
  stepRollouts(soaking.h.api.store, Date.now() + 31_000);
  assert.equal(soaking.row('r0').state, 'healthy');

  const cancelled = await rollout(t, 2, { canary: 1, soakSeconds: 0, ratePerMinute: 0, failureThreshold: 5 });
  cancelled.report('r0', { state: 'failed', reason: NOT_FOUND, batches: 0 });
  assert.equal((await cancelled.h.call('POST', `/api/v1/deployments/${cancelled.id}/cancel`)).body.status, 'cancelled');
  cancelled.report('r0');
  assert.equal(cancelled.row('r0').state, 'failed', 'a cancelled rollout judges nothing any more');
});
