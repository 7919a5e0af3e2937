/**
 * Rollouts on 50 real agents (two child processes of 25, inline sandbox, simulated sensors)
 * against the real platform: canary then waves in order behind the health gate; a trapping
 * version aborts at the threshold and every device it reached returns to the previous version;
 * a device offline during its wave times out and counts as failed; a device provisioned later
 * gets the deployment; a maintenance window holds the waves until it opens.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import {
  apiClient,
  deploymentOf,
  poll,
  provisionDevice,
  publishProbes,
  runningProbe,
  startAgentProcess,
  untilFinished,
  type AgentProcess,
  type FleetDevice,
} from './rollout-fleet.js';

const DEVICES = 50;
const ms = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso));

test('rollouts on 50 agents: waves in order, abort with rollback, offline timeout, late joiner, maintenance window', { timeout: 480_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-e2e-rollout-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(async () => {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const api = apiClient(platform.apiUrl, platform.newAdminToken!);
  await publishProbes(api, join(dir, 'data'));

  const devices: FleetDevice[] = [];
  for (let i = 0; i < DEVICES; i += 1) devices.push(await provisionDevice(api, dir, `gw-${String(i).padStart(2, '0')}`, { fleet: 'rollout' }));
  const processes: AgentProcess[] = [
    await startAgentProcess(t, dir, 'fleet-a', devices.slice(0, 25)),
    await startAgentProcess(t, dir, 'fleet-b', devices.slice(25)),
  ];
  const processOf = (id: string) => processes[devices.findIndex((d) => d.deviceId === id) < 25 ? 0 : 1]!;
  const deploy = async (version: string, strategy: object) => {
    const res = await api.call('POST', '/api/v1/deployments', { module: 'probe', version, target: { tags: { fleet: 'rollout' } }, strategy });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; waves: number[]; published: number };
  };

  await t.test('baseline: probe@1.0.0 everywhere in one unthrottled wave', async () => {
    const created = await deploy('1.0.0', { canary: 0, soakSeconds: 0, ratePerMinute: 0 });
    assert.deepEqual(created.waves, [DEVICES]);
    const done = await untilFinished(api, created.id);
    assert.equal(done.status, 'completed', done.statusReason ?? '');
    assert.equal(done.counts.healthy, DEVICES);
  });

  await t.test('canary then waves of growing size, each sent only after the previous one was healthy for the soak', async () => {
    const created = await deploy('2.0.0', { canary: 5, waveGrowth: 2, soakSeconds: 2, ratePerMinute: 0, applyTimeoutSeconds: 30, failureThreshold: '10%' });
    assert.deepEqual(created.waves, [5, 10, 20, 15]);
    assert.equal(created.published, 5, 'only the canary leaves with the request');
    const done = await untilFinished(api, created.id, 120_000);
    assert.equal(done.status, 'completed', done.statusReason ?? '');
    assert.equal(done.counts.healthy, DEVICES);
    assert.deepEqual(done.waves.map((w) => [w.name, w.size, w.state]), [['canary', 5, 'done'], ['wave 1', 10, 'done'], ['wave 2', 20, 'done'], ['wave 3', 15, 'done']]);
    for (let wave = 1; wave < 4; wave += 1) {
      const previous = done.devices.filter((d) => d.wave === wave - 1);
      const current = done.devices.filter((d) => d.wave === wave);
      const firstSent = Math.min(...current.map((d) => ms(d.publishedAt)));
      const lastApplied = Math.max(...previous.map((d) => ms(d.appliedAt)));
      assert.ok(firstSent >= lastApplied + 2000, `wave ${wave} sent ${firstSent - lastApplied} ms after the previous wave's last apply; the soak is 2000 ms`);
      assert.ok(previous.every((d) => d.state === 'healthy'), `wave ${wave - 1} all healthy`);
    }
    for (const id of ['gw-00', 'gw-49']) assert.equal((await poll(`${id} running 2.0.0`, () => runningProbe(api, id))).version, '2.0.0');
  });

  await t.test('a trapping version aborts at the threshold and every device it reached returns to the previous version', async () => {
    const before = new Map<string, number>();
    for (const device of devices) before.set(device.deviceId, (await api.call('GET', `/api/v1/devices/${device.deviceId}`)).body.desired.revision);
    const created = await deploy('3.0.0', { canary: 5, soakSeconds: 2, ratePerMinute: 0, applyTimeoutSeconds: 30, failureThreshold: 3 });
    const done = await untilFinished(api, created.id, 60_000);
    assert.equal(done.status, 'aborted');
    assert.match(done.statusReason ?? '', /failure threshold 3 reached/);
    const touched = done.devices.filter((d) => d.publishedAt !== null);
    assert.equal(touched.length, 5, 'only the canary was reached');
    assert.equal(done.counts['rolled-back'], 5);
    assert.equal(done.counts.cancelled, DEVICES - 5);
    assert.ok(touched.some((d) => /trap: unreachable/.test(d.reason ?? '')), JSON.stringify(touched.map((d) => d.reason)));
    for (const row of touched) {
      assert.match(row.reason ?? '', /rolled back to probe@2\.0\.0/);
      const back = await poll(`${row.id} back on 2.0.0`, async () => {
        const running = await runningProbe(api, row.id);
        return running?.version === '2.0.0' && running.revision === before.get(row.id)! + 2 && running;
      });
      assert.equal(back.revision, before.get(row.id)! + 2, 'the rollback is a new, higher revision');
    }
    for (const row of done.devices.filter((d) => d.publishedAt === null)) {
      const desired = (await api.call('GET', `/api/v1/devices/${row.id}`)).body.desired;
      assert.equal(desired.revision, before.get(row.id), `${row.id} never received 3.0.0`);
    }
    const history = (await api.call('GET', `/api/v1/devices/${touched[0]!.id}/deployments`)).body;
    assert.deepEqual(history.deployments.slice(0, 3).map((h: { version: string; state: string }) => `${h.version}:${h.state}`), ['3.0.0:rolled-back', '2.0.0:superseded', '1.0.0:superseded']);
  });

  await t.test('a device offline during its wave times out and counts as failed', async () => {
    await processOf('gw-30').send({ cmd: 'stop', id: 'gw-30' });
    await poll('gw-30 offline', async () => (await api.call('GET', '/api/v1/devices/gw-30')).body.online === false);
    const created = await deploy('1.0.0', { canary: 10, waveGrowth: 10, soakSeconds: 3, ratePerMinute: 0, applyTimeoutSeconds: 20, failureThreshold: '20%' });
    const done = await untilFinished(api, created.id, 60_000);
    assert.equal(done.status, 'completed', done.statusReason ?? '');
    const offline = done.devices.find((d) => d.id === 'gw-30')!;
    assert.equal(offline.state, 'timed-out');
    assert.match(offline.reason ?? '', /timed out waiting for apply after 20 s \(device offline\)/);
    assert.equal(done.counts['timed-out'], 1);
    assert.equal(done.counts.healthy, DEVICES - 1);
    await processOf('gw-30').send({ cmd: 'start', id: 'gw-30' });
  });

  await t.test('a device provisioned later that matches the selector receives the finished deployment', async () => {
    // The newest deployment of probe still live (completed) is the one a newcomer joins.
    const latest = (await api.call('GET', '/api/v1/deployments')).body.deployments.find((d: { status: string }) => d.status === 'completed');
    const late = await provisionDevice(api, dir, 'gw-late', { fleet: 'rollout' });
    await processes[0]!.send({ cmd: 'add', device: late });
    const running = await poll('gw-late running probe', () => runningProbe(api, 'gw-late')).catch(async (error: Error) => {
      const device = (await api.call('GET', '/api/v1/devices/gw-late')).body;
      const rows = (await api.call('GET', `/api/v1/devices/gw-late/deployments`)).body;
      const jobs = (await api.call('GET', '/api/v1/jobs')).body;
      throw new Error(`${error.message}; device ${JSON.stringify(device)}; history ${JSON.stringify(rows)}; jobs ${JSON.stringify(jobs)}`);
    });
    assert.equal(running.version, latest.version);
    const row = await poll('gw-late healthy in the deployment', async () => {
      const found = (await deploymentOf(api, latest.id)).devices.find((d) => d.id === 'gw-late');
      return found?.state === 'healthy' && found;
    });
    assert.equal(row.late, true);
  });

  await t.test('a maintenance window holds the waves until it opens', async () => {
    // Opens at the next whole minute, for one minute; not too close to it, so it is still closed at the request.
    if (60_000 - (Date.now() % 60_000) < 5000) await new Promise((resolve) => setTimeout(resolve, 6000));
    const opens = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
    const minute = new Date(opens).getUTCMinutes();
    const created = await deploy('2.0.0', { canary: 0, soakSeconds: 0, ratePerMinute: 0, window: { cron: `${minute} * * * *`, durationMinutes: 1 } });
    assert.equal(created.published, 0);
    const held = await deploymentOf(api, created.id);
    assert.match(held.statusReason ?? '', /waits for the maintenance window opening at/);
    assert.equal(held.counts.waiting, DEVICES + 1);
    const done = await untilFinished(api, created.id, 150_000);
    assert.equal(done.status, 'completed', done.statusReason ?? '');
    const firstSent = Math.min(...done.devices.map((d) => ms(d.publishedAt)));
    assert.ok(firstSent >= opens, `sent ${opens - firstSent} ms before the window opened`);
  });
});
