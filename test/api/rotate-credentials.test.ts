/**
 * Device credential rotation through the real platform (broker with its store verifier and
 * revocation, API, SQLite): with a grace period the old secret works until the device connects
 * with the new one; with none it stops at once and open sessions are cut.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { startPlatform, type RunningPlatform } from '../../platform/start-platform.js';
import { DEFAULT_GRACE_SECONDS } from '../../fleet-api/http/routes/credentials.js';
import { adminCall, type AdminCall } from '../helpers/admin-api.js';

async function platform(t: TestContext): Promise<{ p: RunningPlatform; call: AdminCall }> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-rotate-'));
  const p = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(async () => {
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const call = adminCall(p.apiUrl, p.newAdminToken!);
  return { p, call };
}

/** Resolves with the CONNACK return code: 0 connected (then disconnects), else the refusal. */
async function tryConnect(t: TestContext, url: string, deviceId: string, password: string, keep = false): Promise<{ code: number; client: MqttClient }> {
  const client = mqtt.connect(url, { clientId: deviceId, username: deviceId, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
  t.after(() => client.endAsync(true));
  const code = await new Promise<number>((resolve) => {
    client.once('connect', () => resolve(0));
    client.once('error', (error) => resolve(Number((error as { code?: number }).code ?? -1)));
  });
  if (code === 0 && !keep) await client.endAsync();
  return { code, client };
}

test('with the default grace the old secret works until the device first connects with the new one', async (t) => {
  const { p, call } = await platform(t);
  const provisioned = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64' });
  const oldSecret = provisioned.body.mqtt.password as string;
  assert.equal((await tryConnect(t, p.mqttUrl, 'gw-01', oldSecret)).code, 0);

  const rotated = await call('POST', '/api/v1/devices/gw-01/credentials/rotate', {});
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const newSecret = rotated.body.mqtt.password as string;
  assert.notEqual(newSecret, oldSecret);
  assert.equal(rotated.body.mqtt.username, 'gw-01');
  const graceMs = Date.parse(rotated.body.previousValidUntil) - Date.parse(rotated.body.rotatedAt);
  assert.equal(graceMs, DEFAULT_GRACE_SECONDS * 1000);

  assert.equal((await tryConnect(t, p.mqttUrl, 'gw-01', oldSecret)).code, 0, 'old secret still accepted during the grace period');
  assert.equal((await tryConnect(t, p.mqttUrl, 'gw-01', newSecret)).code, 0, 'new secret accepted');
  assert.equal((await tryConnect(t, p.mqttUrl, 'gw-01', oldSecret)).code, 4, 'old secret retired by the first use of the new one');
  assert.equal((await tryConnect(t, p.mqttUrl, 'gw-01', newSecret)).code, 0);

  const [entry] = (await call('GET', '/api/v1/audit?action=device.rotate-credentials')).body.entries;
  assert.equal(entry.target, 'gw-01');
  assert.equal(entry.detail.graceSeconds, DEFAULT_GRACE_SECONDS);
  assert.ok(!JSON.stringify(entry).includes(newSecret));
});

test('graceSeconds 0 revokes the old secret at once and disconnects its open session', async (t) => {
  const { p, call } = await platform(t);
  const oldSecret = (await call('POST', '/api/v1/devices', { id: 'gw-02', profile: 'sim-x86-64' })).body.mqtt.password as string;
  const { code, client } = await tryConnect(t, p.mqttUrl, 'gw-02', oldSecret, true);
  assert.equal(code, 0);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));

  const rotated = await call('POST', '/api/v1/devices/gw-02/credentials/rotate', { graceSeconds: 0 });
  assert.equal(rotated.status, 200);
  assert.equal(rotated.body.previousValidUntil, null);
  await closed;
  assert.equal((await tryConnect(t, p.mqttUrl, 'gw-02', oldSecret)).code, 4);
  assert.equal((await tryConnect(t, p.mqttUrl, 'gw-02', rotated.body.mqtt.password)).code, 0);
});

test('a grace period ends on its own; rotating again keeps at most two secrets; bad input is named', async (t) => {
  const { p, call } = await platform(t);
  await call('POST', '/api/v1/devices', { id: 'gw-03', profile: 'sim-x86-64' });
  const first = await call('POST', '/api/v1/devices/gw-03/credentials/rotate', { graceSeconds: 60 });
  const store = p.api.store;
  const state = store.deviceCredentials('gw-03')!;
  assert.notEqual(state.previousHash, null);
  const later = new Date(Date.parse(first.body.previousValidUntil) + 1).toISOString();
  assert.equal(store.deviceCredentials('gw-03', later)!.previousHash, null, 'expired previous secret is not offered');

  await call('POST', '/api/v1/devices/gw-03/credentials/rotate', { graceSeconds: 60 });
  const again = store.deviceCredentials('gw-03')!;
  assert.equal(again.previousHash, state.currentHash, 'only the secret just replaced survives');

  assert.equal((await call('POST', '/api/v1/devices/gw-none/credentials/rotate', {})).status, 404);
  const tooLong = await call('POST', '/api/v1/devices/gw-03/credentials/rotate', { graceSeconds: 30 * 24 * 3600 });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.error.field, 'body/graceSeconds');
});
