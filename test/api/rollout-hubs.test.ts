/**
 * A site outage during a rollout (issue 14): devices behind an offline hub wait, unreachable; they
 * neither count toward the failure threshold nor time out, and the rollout resumes there when the
 * hub is back. The real rollout step on a real store; time is passed to the step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepRollouts } from '../../fleet-api/deployments/rollout.js';
import type { HubStatus } from '../../protocol/index.js';
import { startApi, type Harness } from './helpers/harness.js';
import { provision, reportModule, upload } from './helpers/fleet.js';

function hubState(h: Harness, hubId: string, state: HubStatus['state']): void {
  const at = new Date().toISOString();
  h.api.store.setHubStatus(hubId, { v: 1, hubId, state, at, siteRevision: 1, backlog: { batches: 0, bytes: 0, oldestAt: null }, lost: {}, devicesConnected: 0 }, at);
}

const rows = (h: Harness, id: string) => new Map(h.api.store.getDeployment(id)!.devices.map((r) => [r.id, r]));

test('devices behind an offline hub wait instead of timing out or tripping the threshold, and the rollout resumes when the hub returns', async (t) => {
  const h = await startApi(t);
  const hub = await h.call('POST', '/api/v1/hubs', { id: 'north', selector: { site: 'north' }, urls: ['mqtt://hub-north.local:1883'] });
  assert.equal(hub.status, 201, JSON.stringify(hub.body));
  const central = ['c0', 'c1'];
  const site = ['n0', 'n1', 'n2'];
  for (const id of central) await provision(h, id, { fleet: 'x' });
  for (const id of site) await provision(h, id, { fleet: 'x', site: 'north' });
  assert.deepEqual(site.map((id) => h.api.store.deviceHub(id)), ['north', 'north', 'north'], 'the selector put them behind the hub');
  for (const id of [...central, ...site]) h.api.store.setPresence(id, true, new Date().toISOString());
  hubState(h, 'north', 'online');

  const probe = await upload(h, 'ema', '1.0.0');
  const module = { name: 'ema', version: '1.0.0', sha256: probe.sha256 };
  // One wave of all five; any single failure aborts; 60 s to apply.
  const res = await h.call('POST', '/api/v1/deployments', {
    module: 'ema',
    version: '1.0.0',
    target: { tags: { fleet: 'x' } },
    strategy: { canary: 0, soakSeconds: 0, applyTimeoutSeconds: 60, failureThreshold: 1, requireResults: false },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id as string;
  const t0 = Date.now();

  // The site's uplink is cut right after the desired states went out; the central devices apply.
  hubState(h, 'north', 'offline');
  for (const device of central) reportModule(h, device, module);
  stepRollouts(h.api.store, t0 + 1_000);
  let state = rows(h, id);
  for (const device of site) {
    assert.equal(state.get(device)!.state, 'pending', device);
    assert.equal(state.get(device)!.publishedAt, null, `${device}: its apply timeout has not started`);
    assert.match(state.get(device)!.reason ?? '', /offline hub 'north'/);
  }
  const devices = await h.call('GET', '/api/v1/devices?hub=north');
  assert.deepEqual(devices.body.devices.map((d: { id: string; reachable: string }) => [d.id, d.reachable]), site.map((d) => [d, 'offline-hub']));

  // Far past the apply timeout while the site is out: nothing failed, nothing aborted.
  stepRollouts(h.api.store, t0 + 10 * 60_000);
  let deployment = h.api.store.getDeployment(id)!;
  assert.equal(deployment.status, 'running', deployment.statusReason ?? '');
  state = rows(h, id);
  assert.deepEqual(site.map((d) => state.get(d)!.state), ['pending', 'pending', 'pending']);
  assert.match(deployment.statusReason ?? '', /3 behind offline hubs/);

  // The site returns: the apply clock starts now, the devices apply, the rollout completes.
  hubState(h, 'north', 'online');
  const back = t0 + 11 * 60_000;
  const resumed = stepRollouts(h.api.store, back);
  assert.deepEqual([...(resumed.publish.get(id) ?? [])].sort(), site, 'desired states re-published, freshly signed, for the hub to fetch');
  state = rows(h, id);
  for (const device of site) assert.equal(state.get(device)!.publishedAt, back, device);
  for (const device of site) reportModule(h, device, module);
  stepRollouts(h.api.store, back + 1_000);
  deployment = h.api.store.getDeployment(id)!;
  assert.equal(deployment.status, 'completed', deployment.statusReason ?? '');
  assert.deepEqual([...rows(h, id).values()].map((r) => r.state), ['healthy', 'healthy', 'healthy', 'healthy', 'healthy']);
});

test('a device behind an online hub that does not apply still times out and counts toward the threshold', async (t) => {
  const h = await startApi(t);
  await h.call('POST', '/api/v1/hubs', { id: 'north', selector: { site: 'north' } });
  await provision(h, 'n0', { site: 'north' });
  hubState(h, 'north', 'online');
  await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', {
    module: 'ema',
    version: '1.0.0',
    target: { tags: { site: 'north' } },
    strategy: { canary: 0, soakSeconds: 0, applyTimeoutSeconds: 60, failureThreshold: 1, requireResults: false },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  stepRollouts(h.api.store, Date.now() + 2 * 60_000);
  assert.equal(rows(h, res.body.id).get('n0')!.state, 'rolled-back');
  assert.equal(h.api.store.getDeployment(res.body.id)!.status, 'aborted');
});
