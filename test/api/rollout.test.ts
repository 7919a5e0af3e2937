/**
 * The rollout step on a real store and the real REST app: wave plan, the health gate and the
 * threshold, late joiners (provisioned and re-tagged), maintenance windows and operator control.
 * Reported states go through the API's own ingestion function; time is passed to the step, so
 * soak times and windows are exercised without waiting for them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepRollouts } from '../../fleet-api/deployments/rollout.js';
import { openWindow, planWaves } from '../../fleet-api/deployments/strategy.js';
import { startApi, type Harness } from './helpers/harness.js';
import { provision, reportModule, upload } from './helpers/fleet.js';

const online = (h: Harness, ids: string[]) => {
  for (const id of ids) h.api.store.setPresence(id, true, new Date().toISOString());
};

const rows = (h: Harness, id: string) => h.api.store.getDeployment(id)!.devices;

test('the wave plan: canary, growing waves, the last takes the rest', () => {
  assert.deepEqual(planWaves({ canary: '5%', waveGrowth: 2 }, 1000), [50, 100, 200, 400, 250]);
  assert.deepEqual(planWaves({ canary: 5, waveGrowth: 2 }, 50), [5, 10, 20, 15]);
  assert.deepEqual(planWaves({ canary: '5%', waveGrowth: 2 }, 3), [1, 2]);
  assert.deepEqual(planWaves({ canary: 0, waveGrowth: 2 }, 7), [7]);
  assert.deepEqual(planWaves({ canary: 2, waveGrowth: 1 }, 5), [2, 2, 1]);
});

test('waves advance only once every device of the previous one was healthy for the soak', async (t) => {
  const h = await startApi(t);
  const ids = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
  for (const id of ids) await provision(h, id, { site: 'x' });
  online(h, ids);
  const probe = await upload(h, 'ema', '1.0.0');
  const module = { name: 'ema', version: '1.0.0', sha256: probe.sha256 };
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'x' } }, strategy: { canary: 2, soakSeconds: 30, requireResults: false } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body.waves, [2, 4]);
  assert.deepEqual(rows(h, res.body.id).map((r) => [r.id, r.state]), [['d0', 'pending'], ['d1', 'pending'], ['d2', 'waiting'], ['d3', 'waiting'], ['d4', 'waiting'], ['d5', 'waiting']]);

  reportModule(h, 'd0', module);
  reportModule(h, 'd1', module);
  const t0 = Date.now();
  stepRollouts(h.api.store, t0 + 10_000);
  assert.equal(rows(h, res.body.id).filter((r) => r.state === 'waiting').length, 4, 'still soaking');
  stepRollouts(h.api.store, t0 + 31_000);
  const after = rows(h, res.body.id);
  assert.deepEqual(after.filter((r) => r.wave === 0).map((r) => r.state), ['healthy', 'healthy']);
  assert.deepEqual(after.filter((r) => r.wave === 1).map((r) => r.state), ['pending', 'pending', 'pending', 'pending']);
  const detail = await h.call('GET', `/api/v1/deployments/${res.body.id}`);
  assert.deepEqual(detail.body.waves.map((w: { name: string; state: string }) => [w.name, w.state]), [['canary', 'done'], ['wave 1', 'in progress']]);
  assert.equal(detail.body.devices[0].previous, null);
});

test('a device offline at the end of its soak is unhealthy; the threshold aborts and rolls back to the previous entry', async (t) => {
  const h = await startApi(t);
  for (const id of ['a', 'b', 'c']) await provision(h, id, { site: 'y' });
  online(h, ['a', 'b', 'c']);
  const v1 = await upload(h, 'ema', '1.0.0');
  const v2 = await upload(h, 'ema', '2.0.0');
  const first = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'y' } }, strategy: { canary: 0, soakSeconds: 0 } });
  for (const id of ['a', 'b', 'c']) reportModule(h, id, { name: 'ema', version: '1.0.0', sha256: v1.sha256 });
  stepRollouts(h.api.store);
  assert.equal(h.api.store.getDeployment(first.body.id)!.status, 'completed');

  const second = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '2.0.0', target: { tags: { site: 'y' } }, strategy: { canary: 2, soakSeconds: 5, failureThreshold: 1, requireResults: false } });
  const revisions = ['a', 'b'].map((id) => h.api.store.getDevice(id)!.desiredRevision);
  reportModule(h, 'a', { name: 'ema', version: '2.0.0', sha256: v2.sha256 });
  reportModule(h, 'b', { name: 'ema', version: '2.0.0', sha256: v2.sha256 });
  h.api.store.setPresence('b', false, new Date().toISOString());
  stepRollouts(h.api.store, Date.now() + 1000);
  const deployment = h.api.store.getDeployment(second.body.id)!;
  assert.equal(deployment.status, 'aborted');
  assert.match(deployment.statusReason!, /failure threshold 1 reached: 1 of 2/);
  const byId = new Map(deployment.devices.map((r) => [r.id, r]));
  assert.equal(byId.get('b')!.state, 'rolled-back');
  assert.match(byId.get('b')!.reason!, /device went offline during the 5 s soak; rolled back to ema@1\.0\.0/);
  assert.equal(byId.get('a')!.state, 'rolled-back');
  assert.equal(byId.get('c')!.state, 'cancelled');
  for (const [i, id] of ['a', 'b'].entries()) {
    const device = h.api.store.getDevice(id)!;
    assert.equal(device.desiredRevision, revisions[i]! + 1, 'rollback is a new revision');
    assert.deepEqual(device.desired!.modules.map((m) => `${m.name}@${m.version}:${m.deploymentId}`), [`ema@1.0.0:${first.body.id}`]);
  }
});

test('after an API restart, a device not heard from since gets the apply timeout to reconnect before its soak counts it offline', async (t) => {
  const h = await startApi(t);
  for (const id of ['r0', 'r1']) await provision(h, id, { site: 'r' });
  online(h, ['r0', 'r1']);
  const v1 = await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'r' } }, strategy: { canary: 0, soakSeconds: 5, applyTimeoutSeconds: 60, failureThreshold: 2, requireResults: false } });
  for (const id of ['r0', 'r1']) reportModule(h, id, { name: 'ema', version: '1.0.0', sha256: v1.sha256 });
  // Both were last heard before the restart; offline detection then marked them offline.
  const restart = Date.now() + 2000;
  h.api.store.markOffline(['r0', 'r1']);
  stepRollouts(h.api.store, restart + 30_000, undefined, restart);
  assert.deepEqual(rows(h, res.body.id).map((r) => r.state), ['applied', 'applied'], 'still within the apply timeout of the restart');
  h.api.store.setPresence('r0', true, new Date(restart + 31_000).toISOString());
  stepRollouts(h.api.store, restart + 61_000, undefined, restart);
  assert.deepEqual(rows(h, res.body.id).map((r) => [r.id, r.state, r.reason]), [
    ['r0', 'healthy', null],
    ['r1', 'unhealthy', 'device went offline during the 5 s soak'],
  ]);
});

test('devices provisioned or re-tagged later join the newest live deployment they match', async (t) => {
  const h = await startApi(t);
  await provision(h, 'n1', { site: 'north' });
  online(h, ['n1']);
  const v1 = await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'north' } }, strategy: { canary: 0, soakSeconds: 0 } });
  reportModule(h, 'n1', { name: 'ema', version: '1.0.0', sha256: v1.sha256 });
  stepRollouts(h.api.store);
  assert.equal(h.api.store.getDeployment(res.body.id)!.status, 'completed');

  await provision(h, 'n2', { site: 'north' });
  await provision(h, 's1', { site: 'south' });
  // Provisioning nudges a step of its own; this one only makes sure a step has run.
  await h.api.rollouts.step();
  const late = rows(h, res.body.id).find((r) => r.id === 'n2')!;
  assert.deepEqual([late.state, late.late, late.wave], ['pending', true, 1]);
  assert.equal(h.api.store.getDevice('n2')!.desired!.modules[0]!.version, '1.0.0');
  assert.equal(h.api.store.getDevice('s1')!.desired, null);

  const retag = await h.call('PATCH', '/api/v1/devices/s1', { tags: { site: 'north' } });
  assert.equal(retag.status, 200, JSON.stringify(retag.body));
  await h.api.rollouts.step();
  assert.equal(h.api.store.getDevice('s1')!.desired!.modules[0]!.deploymentId, res.body.id);
  const detail = await h.call('GET', `/api/v1/deployments/${res.body.id}`);
  assert.equal(detail.body.waves.at(-1).name, 'late joiners');
  assert.equal(detail.body.waves.at(-1).size, 2);
  const history = await h.call('GET', '/api/v1/devices/s1/deployments');
  assert.deepEqual(history.body.deployments.map((d: { deploymentId: string; late: boolean }) => [d.deploymentId, d.late]), [[res.body.id, true]]);
});

test('a maintenance window holds every wave until it opens', async (t) => {
  const h = await startApi(t);
  await provision(h, 'w1', { site: 'w' });
  await upload(h, 'ema', '1.0.0');
  // The deployment is created (and stepped once) at the real time of day, so the window
  // opens twelve hours away from it: a fixed hour failed when CI happened to run inside it.
  const today = new Date();
  const hour = (today.getUTCHours() + 12) % 24;
  const window = { cron: `0 ${hour} * * *`, durationMinutes: 60 };
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'w' } }, strategy: { canary: 0, window } });
  const at = (hh: number, mm: number) => Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), hour + hh, mm);
  assert.equal(h.api.store.getDeployment(res.body.id)!.devices[0]!.state, 'waiting', 'closed window at creation');
  assert.equal(openWindow(window, at(-1, 59)), null);
  assert.deepEqual(openWindow(window, at(0, 30)), { openedAt: at(0, 0), closesAt: at(1, 0) });
  assert.equal(openWindow(window, at(1, 0)), null);

  stepRollouts(h.api.store, at(-1, 30));
  let deployment = h.api.store.getDeployment(res.body.id)!;
  assert.equal(deployment.devices[0]!.state, 'waiting');
  assert.match(deployment.statusReason!, new RegExp(`waits for the maintenance window opening at ${new Date(at(0, 0)).toISOString()}`));
  stepRollouts(h.api.store, at(0, 10));
  deployment = h.api.store.getDeployment(res.body.id)!;
  assert.equal(deployment.devices[0]!.state, 'pending');
  assert.equal(deployment.devices[0]!.publishedAt, at(0, 10));

  const bad = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'w' } }, strategy: { window: { cron: 'every night', durationMinutes: 5 } } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, 'body/strategy/window/cron');
});

test('pause, resume, cancel and rollback by REST, with 409 for a move the status does not allow', async (t) => {
  const h = await startApi(t);
  for (const id of ['p0', 'p1', 'p2', 'p3']) await provision(h, id, { site: 'p' });
  online(h, ['p0', 'p1', 'p2', 'p3']);
  const v1 = await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'p' } }, strategy: { canary: 1, soakSeconds: 0 } });
  const id = res.body.id;
  const paused = await h.call('POST', `/api/v1/deployments/${id}/pause`);
  assert.equal(paused.status, 200);
  assert.equal(paused.body.status, 'paused');
  reportModule(h, 'p0', { name: 'ema', version: '1.0.0', sha256: v1.sha256 });
  stepRollouts(h.api.store);
  assert.equal(rows(h, id).filter((r) => r.state === 'waiting').length, 3, 'paused: no next wave');
  assert.equal((await h.call('POST', `/api/v1/deployments/${id}/pause`)).status, 409);
  assert.equal((await h.call('POST', `/api/v1/deployments/${id}/resume`)).body.status, 'running');
  await h.api.rollouts.step();
  assert.deepEqual(rows(h, id).map((r) => r.state), ['healthy', 'pending', 'pending', 'waiting']);

  const cancelled = await h.call('POST', `/api/v1/deployments/${id}/cancel`);
  assert.equal(cancelled.body.status, 'cancelled');
  const rolled = await h.call('POST', `/api/v1/deployments/${id}/rollback`);
  assert.equal(rolled.body.status, 'rolled-back');
  for (const device of ['p0', 'p1', 'p2', 'p3']) assert.deepEqual(h.api.store.getDevice(device)!.desired?.modules ?? [], [], `${device} back to no module (or never sent)`);
  const again = await h.call('POST', `/api/v1/deployments/${id}/rollback`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'WF_API_CONFLICT');
  assert.equal((await h.call('POST', '/api/v1/deployments/nope/pause')).status, 404);
  assert.equal((await h.call('POST', `/api/v1/deployments/${id}/explode`)).status, 400);
});

test('a reported state asks for a step only when one can act: a failure, or the last device of its wave turning healthy', async (t) => {
  const h = await startApi(t);
  const ids = ['a0', 'a1', 'a2', 'b0', 'b1', 'c0'];
  for (const id of ids) await provision(h, id, { group: id[0]! });
  online(h, ids);
  const probe = await upload(h, 'ema', '1.0.0');
  const module = { name: 'ema', version: '1.0.0', sha256: probe.sha256 };
  const deploy = async (group: string, strategy: object) => {
    const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { group } }, strategy });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  // One wave of three, no soak: the first two healthy leave nothing for a step to do.
  const a = await deploy('a', { canary: 0, soakSeconds: 0 });
  assert.deepEqual([reportModule(h, 'a0', module).settling, reportModule(h, 'a1', module).settling], [false, false]);
  assert.equal(reportModule(h, 'a2', module).settling, true, 'the wave is settled: the step completes the deployment');
  stepRollouts(h.api.store);
  assert.equal(h.api.store.getDeployment(a)!.status, 'completed');
  // A failure may trip the threshold, whatever the rest of the wave does.
  await deploy('b', { canary: 0, soakSeconds: 0 });
  assert.equal(reportModule(h, 'b0', module, { state: 'failed', reason: 'trap' }).settling, true);
  // With a soak, applied is not yet healthy: the soak's end is the job's tick to judge.
  await deploy('c', { canary: 0, soakSeconds: 30, requireResults: false });
  const applied = reportModule(h, 'c0', module);
  assert.deepEqual([applied.updated, applied.settling], [1, false]);
});
