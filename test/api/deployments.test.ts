import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, encodePayload, SERVICE_USERNAME, topics, type ReportedState } from '../../protocol/index.js';
import { collect, connectClient, startApi, waitFor } from './helpers/harness.js';
import { provision, upload } from './helpers/fleet.js';

test('deploying by device ids publishes each desired state retained, with effective config', async (t) => {
  const h = await startApi(t, { live: true });
  await provision(h, 'gw-01');
  await provision(h, 'gw-02');
  await provision(h, 'gw-03');
  const module = await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01', 'gw-02'] }, config: { alpha: 0.5 }, strategy: { canary: 0 } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.devices, 2);
  assert.deepEqual(res.body.waves, [2], 'no canary: one wave');
  assert.equal(res.body.published, 2);

  const reader = await connectClient(t, h.broker!.url, SERVICE_USERNAME, 'test-service-password');
  const seen = await collect(reader, topics.allDevices('desired'));
  await waitFor(() => seen.length >= 2 && seen, 3000, 'two retained desired states');
  assert.deepEqual(seen.map((m) => m.topic).sort(), [topics.device('gw-01', 'desired'), topics.device('gw-02', 'desired')]);
  for (const message of seen) {
    assert.equal(message.retain, true);
    const decoded = decodePayload('desired', message.payload);
    assert.ok(decoded.ok);
    assert.equal(decoded.value.revision, 1);
    assert.deepEqual(decoded.value.modules, [
      { name: 'ema', version: '1.0.0', sha256: module.sha256, size: module.size, deploymentId: res.body.id, config: { alpha: 0.5, window: 10 } },
    ]);
  }

  const detail = await h.call('GET', `/api/v1/deployments/${res.body.id}`);
  assert.equal(detail.status, 200);
  assert.equal(detail.body.counts.pending, 2);
  assert.equal(detail.body.status, 'running');
  assert.deepEqual(detail.body.devices.map((d: { id: string; state: string }) => [d.id, d.state]), [['gw-01', 'pending'], ['gw-02', 'pending']]);
  assert.deepEqual(detail.body.config, { alpha: 0.5 });
  const list = await h.call('GET', '/api/v1/deployments');
  assert.equal(list.body.deployments.length, 1);
});

test('deploying by tag selector (AND) and profile reaches exactly the matching devices', async (t) => {
  const h = await startApi(t);
  await provision(h, 'n1', { site: 'north', tier: 'a' });
  await provision(h, 'n2', { site: 'north', tier: 'b' });
  await provision(h, 's1', { site: 'south', tier: 'a' });
  await provision(h, 'n3', { site: 'north', tier: 'a' }, 'rpi4-arm64');
  await upload(h, 'ema', '1.0.0');
  const byTag = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'north', tier: 'a' } } });
  assert.equal(byTag.status, 201);
  assert.equal(byTag.body.devices, 2);
  const detail = await h.call('GET', `/api/v1/deployments/${byTag.body.id}`);
  assert.deepEqual(detail.body.devices.map((d: { id: string }) => d.id), ['n1', 'n3']);
  const byProfile = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'north' }, profile: 'rpi4-arm64' } });
  assert.equal(byProfile.body.devices, 1);
  const none = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { tags: { site: 'west' } } });
  assert.equal(none.status, 422);
  assert.equal(none.body.error.code, 'WF_API_TARGET_INVALID');
  const empty = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: {} });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error.field, 'body/target');
});

test('config is validated against the manifest and the error names the param', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-01');
  await upload(h, 'ema', '1.0.0');
  const deploy = (config: Record<string, unknown>) => h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01'] }, config });
  const tooBig = await deploy({ alpha: 2 });
  assert.equal(tooBig.status, 422);
  assert.equal(tooBig.body.error.code, 'WF_API_CONFIG_INVALID');
  assert.equal(tooBig.body.error.field, 'body/config/alpha');
  assert.match(tooBig.body.error.message, /config\.alpha: must be <= 1/);
  const notInteger = await deploy({ window: 2.5 });
  assert.equal(notInteger.body.error.field, 'body/config/window');
  const unknown = await deploy({ beta: 1 });
  assert.match(unknown.body.error.message, /has no param 'beta'/);
  const missingModule = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '2.0.0', target: { devices: ['gw-01'] } });
  assert.equal(missingModule.status, 404);
  const missingDevice = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01', 'ghost'] } });
  assert.equal(missingDevice.status, 404);
  assert.match(missingDevice.body.error.message, /ghost/);
  const badInput = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01'] }, input: 'humidity' });
  assert.equal(badInput.status, 422);
  assert.equal(badInput.body.error.field, 'body/input');
  assert.equal((await h.call('GET', '/api/v1/deployments')).body.deployments.length, 0, 'failed deployments leave nothing behind');
});

test('revisions bump per change, identical redeploys are no-ops, and newer deployments supersede older ones', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-01');
  await upload(h, 'ema', '1.0.0');
  await upload(h, 'ema', '1.1.0');
  await upload(h, 'peak', '1.0.0');
  const deploy = (module: string, version: string, config: Record<string, unknown> = {}) =>
    h.call('POST', '/api/v1/deployments', { module, version, target: { devices: ['gw-01'] }, config });
  const revision = async () => (await h.call('GET', '/api/v1/devices/gw-01')).body.desired.revision as number;

  const first = await deploy('ema', '1.0.0');
  assert.equal(await revision(), 1);
  const same = await deploy('ema', '1.0.0', { alpha: 0.1 });
  assert.equal(same.status, 201);
  assert.equal(await revision(), 1, 'explicit default equals the effective config already desired');
  await deploy('peak', '1.0.0');
  assert.equal(await revision(), 2);
  const upgrade = await deploy('ema', '1.1.0');
  assert.equal(await revision(), 3);

  const device = (await h.call('GET', '/api/v1/devices/gw-01')).body;
  assert.deepEqual(device.desired.modules.map((m: { name: string; version: string }) => `${m.name}@${m.version}`), ['ema@1.1.0', 'peak@1.0.0']);
  const old = (await h.call('GET', `/api/v1/deployments/${first.body.id}`)).body;
  assert.equal(old.devices[0].state, 'superseded');
  assert.match(old.devices[0].reason, new RegExp(same.body.id));
  const redeployed = (await h.call('GET', `/api/v1/deployments/${same.body.id}`)).body;
  assert.equal(redeployed.devices[0].state, 'superseded');
  assert.match(redeployed.devices[0].reason, new RegExp(upgrade.body.id));
  const current = (await h.call('GET', `/api/v1/deployments/${upgrade.body.id}`)).body;
  assert.equal(current.devices[0].state, 'pending');
  assert.equal(current.devices[0].revision, 3);
});

test('reported state moves deployment devices to healthy (no soak) or failed', async (t) => {
  const h = await startApi(t, { live: true });
  const password1 = await provision(h, 'gw-01');
  const password2 = await provision(h, 'gw-02');
  const module = await upload(h, 'ema', '1.0.0');
  const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01', 'gw-02'] }, strategy: { canary: 0, failureThreshold: '100%', soakSeconds: 0 } });
  const report = (deviceId: string, revision: number, state: 'running' | 'failed', reason?: string): ReportedState => ({
    v: 1,
    deviceId,
    revision,
    at: new Date().toISOString(),
    agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
    modules: [{ name: 'ema', version: '1.0.0', sha256: module.sha256, deploymentId: res.body.id, state, faults: 0, batches: 3, ...(reason ? { reason } : {}) }],
    errors: [],
  });
  const d1 = await connectClient(t, h.broker!.url, 'gw-01', password1);
  const d2 = await connectClient(t, h.broker!.url, 'gw-02', password2);
  // A report older than the desired revision confirms nothing.
  await d1.publishAsync(topics.device('gw-01', 'reported'), encodePayload('reported', report('gw-01', 0, 'running')), { qos: 1, retain: true });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await h.call('GET', `/api/v1/deployments/${res.body.id}`)).body.counts.pending, 2);

  await d1.publishAsync(topics.device('gw-01', 'reported'), encodePayload('reported', report('gw-01', 1, 'running')), { qos: 1, retain: true });
  await d2.publishAsync(topics.device('gw-02', 'reported'), encodePayload('reported', report('gw-02', 1, 'failed', 'trap: unreachable')), { qos: 1, retain: true });
  const detail = await waitFor(async () => {
    const body = (await h.call('GET', `/api/v1/deployments/${res.body.id}`)).body;
    return body.counts.healthy === 1 && body.counts.failed === 1 && body;
  }, 3000, 'applied and failed').catch(async (error) => {
    throw new Error(`${error.message}: ${JSON.stringify((await h.call('GET', `/api/v1/deployments/${res.body.id}`)).body)}`);
  });
  assert.deepEqual(detail.devices.map((d: { id: string; state: string; reason: string | null }) => [d.id, d.state, d.reason]), [
    ['gw-01', 'healthy', null],
    ['gw-02', 'failed', 'module failed: trap: unreachable'],
  ]);
  const device = (await h.call('GET', '/api/v1/devices/gw-01')).body;
  assert.equal(device.reportedRevision, 1);
  assert.equal(device.inSync, true);
  assert.equal(device.reported.modules[0].state, 'running');
});
