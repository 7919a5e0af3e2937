/**
 * A rollout step looks for late joiners only when something that makes one was written since the
 * last step that looked (store.joinableGeneration, rollout.ts joinLate): a device provisioned, one
 * re-tagged, a deployment created or changing status. Real store and REST app; time is passed to
 * the step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepRollouts } from '../../fleet-api/deployments/rollout.js';
import type { Store } from '../../fleet-api/store/index.js';
import { startApi } from './helpers/harness.js';
import { provision, upload } from './helpers/fleet.js';

/** The store, counting the searches for late joiners. */
function counting(store: Store): { store: Store; searches: () => number } {
  let searches = 0;
  const wrapped = Object.create(store) as Store;
  wrapped.lateJoiners = (deployment) => {
    searches += 1;
    return store.lateJoiners(deployment);
  };
  return { store: wrapped, searches: () => searches };
}

test('late joiners are sought after a write that can make one, and not at every step', async (t) => {
  const h = await startApi(t);
  for (const id of ['j1', 'j2']) await provision(h, id, { site: 'j' });
  await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'j' } }, strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0, applyTimeoutSeconds: 300 } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id as string;
  const { store, searches } = counting(h.api.store);
  const rowsOf = () => h.api.store.deploymentDevices(id).map((row) => row.id).sort();

  // POST /deployments took the first step (the first wave goes out at once); it looked.
  let now = Date.now();
  stepRollouts(store, (now += 1000));
  stepRollouts(store, (now += 1000));
  assert.equal(searches(), 0, 'nothing written since the last step looked: no search');

  await provision(h, 'j3', { site: 'j' });
  stepRollouts(store, (now += 1000));
  assert.equal(searches(), 1, 'a device provisioned: the step looks');
  assert.deepEqual(rowsOf(), ['j1', 'j2', 'j3']);
  stepRollouts(store, (now += 1000));
  assert.equal(searches(), 1);

  await provision(h, 'other', { site: 'elsewhere' });
  stepRollouts(store, (now += 1000));
  assert.equal(searches(), 2, 'any device provisioned makes the step look, matching or not');
  assert.deepEqual(rowsOf(), ['j1', 'j2', 'j3']);

  const retag = await h.call('PATCH', '/api/v1/devices/other', { tags: { site: 'j' } });
  assert.equal(retag.status, 200, JSON.stringify(retag.body));
  stepRollouts(store, (now += 1000));
  assert.equal(searches(), 3, 'a device re-tagged: the step looks');
  assert.deepEqual(rowsOf(), ['j1', 'j2', 'j3', 'other']);
  stepRollouts(store, (now += 1000));
  assert.equal(searches(), 3);
});

test('a step that fails after finding joiners has them rolled back and the next step looks again', async (t) => {
  const h = await startApi(t);
  await provision(h, 'k1', { site: 'k' });
  await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'k' } }, strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id as string;
  const now = Date.now();
  stepRollouts(h.api.store, now + 1000);
  await provision(h, 'k2', { site: 'k' });

  const failing = Object.create(h.api.store) as Store;
  failing.progressingDeployments = () => {
    throw new Error('disk I/O error');
  };
  assert.throws(() => stepRollouts(failing, now + 2000), /disk I\/O error/);
  assert.deepEqual(h.api.store.deploymentDevices(id).map((row) => row.id), ['k1'], 'the joiner row was rolled back');

  const { store, searches } = counting(h.api.store);
  stepRollouts(store, now + 3000);
  assert.equal(searches(), 1);
  assert.deepEqual(h.api.store.deploymentDevices(id).map((row) => row.id).sort(), ['k1', 'k2']);
});
