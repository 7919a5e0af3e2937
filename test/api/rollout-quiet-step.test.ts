/**
 * A rollout step with nothing to do decides so from one aggregate query (rollout.ts quietWave)
 * instead of reading every device row, and still hands over to the full step as soon as something
 * is due: an apply timeout, a device soaking, a wave to close, the threshold. Real store and REST
 * app; time is passed to the step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepRollouts } from '../../fleet-api/deployments/rollout.js';
import type { Store } from '../../fleet-api/store/index.js';
import { startApi, type Harness } from './helpers/harness.js';
import { provision, reportModule, upload } from './helpers/fleet.js';

/** The store, counting the steps that read every device row of a deployment. */
function counting(store: Store): { store: Store; fullReads: () => number } {
  let reads = 0;
  const wrapped = Object.create(store) as Store;
  wrapped.deploymentDevices = (id) => {
    reads += 1;
    return store.deploymentDevices(id);
  };
  return { store: wrapped, fullReads: () => reads };
}

async function rollout(t: Parameters<typeof startApi>[0], count: number, strategy: object) {
  const h = await startApi(t);
  const ids = Array.from({ length: count }, (_, i) => `q${i}`);
  for (const id of ids) await provision(h, id, { site: 'q' });
  for (const id of ids) h.api.store.setPresence(id, true, new Date().toISOString());
  const uploaded = await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'q' } }, strategy });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { h, ids, id: res.body.id as string, module: { name: 'ema', version: '1.0.0', sha256: uploaded.sha256 } };
}

test('a sent wave waiting for its devices is stepped without reading its rows, until a timeout is due', async (t) => {
  const { h, ids, id, module } = await rollout(t, 6, { canary: 0, soakSeconds: 0, ratePerMinute: 0, applyTimeoutSeconds: 300, failureThreshold: 10 });
  const { store, fullReads } = counting(h.api.store);
  const t0 = Date.now();
  stepRollouts(store, t0 + 1000);
  assert.equal(fullReads(), 0, 'every device pending within its timeout: nothing to read');
  const deployment = h.api.store.getDeployment(id)!;
  assert.equal(deployment.status, 'running');
  assert.match(deployment.statusReason ?? '', /sent; waiting for its devices to apply and pass the 0 s soak$/);

  for (const device of ids.slice(0, 3)) reportModule(h, device, module);
  stepRollouts(store, t0 + 2000);
  assert.equal(fullReads(), 0, 'healthy devices are settled: still nothing to read');
  assert.equal(h.api.store.getDeployment(id)!.counts.healthy, 3);

  // Past the apply timeout the full step runs and times the rest out.
  stepRollouts(store, t0 + 301_000);
  assert.ok(fullReads() > 0);
  const after = h.api.store.getDeployment(id)!;
  assert.equal(after.counts['timed-out'], 3);
  assert.equal(after.status, 'completed');
});

test('the full step still runs for a soak, a closing wave and a failure past the threshold', async (t) => {
  const soaking = await rollout(t, 3, { canary: 0, soakSeconds: 30, ratePerMinute: 0, requireResults: false });
  const first = counting(soaking.h.api.store);
  reportModule(soaking.h, soaking.ids[0]!, soaking.module);
  const t0 = Date.now();
  stepRollouts(first.store, t0 + 1000);
  assert.ok(first.fullReads() > 0, 'a device soaking is judged every step');
  stepRollouts(first.store, t0 + 31_000);
  assert.equal(soaking.h.api.store.getDeployment(soaking.id)!.counts.healthy, 1);

  const closing = await rollout(t, 2, { canary: 0, soakSeconds: 0, ratePerMinute: 0 });
  const second = counting(closing.h.api.store);
  for (const device of closing.ids) reportModule(closing.h, device, closing.module);
  stepRollouts(second.store, Date.now() + 1000);
  assert.ok(second.fullReads() > 0, 'a settled wave is closed by the full step');
  assert.equal(closing.h.api.store.getDeployment(closing.id)!.status, 'completed');

  const failing = await rollout(t, 4, { canary: 0, soakSeconds: 0, ratePerMinute: 0, failureThreshold: 1 });
  const third = counting(failing.h.api.store);
  reportModule(failing.h, failing.ids[0]!, failing.module, { state: 'failed', reason: 'trap' });
  stepRollouts(third.store, Date.now() + 1000);
  assert.ok(third.fullReads() > 0, 'a failure at the threshold aborts through the full step');
  assert.equal(failing.h.api.store.getDeployment(failing.id)!.status, 'aborted');
});
