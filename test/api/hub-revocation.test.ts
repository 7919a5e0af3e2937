/**
 * A hub's credential revoked at the centre [WF-P-T-6]: rotating it without grace, or removing the
 * hub, closes the session the hub has open at the broker (wf/v1/control/revoke-hub), as device
 * revocation does for devices; the old secret is refused from then on, the new one admitted. A
 * rotation with grace leaves the session alone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { hubClientId, hubUsername } from '../../protocol/index.js';
import { adminCall } from '../helpers/admin-api.js';
import { closedWithin, hubConnectCode } from '../helpers/sessions.js';

async function connectHub(t: TestContext, url: string, hubId: string, password: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: hubClientId(hubId), username: hubUsername(hubId), password, clean: true, reconnectPeriod: 0, connectTimeout: 3000 });
  t.after(() => client.endAsync(true));
  return client;
}

test("a hub's rotation without grace cuts its open session; with grace it stays; removal cuts it too", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-hub-revoke-'));
  const p = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(async () => {
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const h = { call: adminCall(p.apiUrl, p.newAdminToken!) };
  const url = p.mqttUrl;
  const created = await h.call('POST', '/api/v1/hubs', { id: 'north', urls: ['mqtt://hub-north.local:1883'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const first = created.body.upstream.password as string;

  // With grace: the session opened with the old secret carries on, and the old secret still works.
  let hub = await connectHub(t, url, 'north', first);
  const graced = await h.call('POST', '/api/v1/hubs/north/credentials/rotate', { graceSeconds: 600 });
  assert.equal(graced.status, 200);
  await hub.subscribeAsync('wf/v1/hubs/north/site', { qos: 1 });
  assert.ok(hub.connected, 'a rotation with grace leaves the session open');

  // Without grace: the broker closes it, the old secrets are refused, the new one is admitted.
  const closed = closedWithin(hub, 10_000, 'the session after a rotation without grace');
  const revoked = await h.call('POST', '/api/v1/hubs/north/credentials/rotate', { graceSeconds: 0 });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  assert.equal(revoked.body.previousValidUntil, null);
  await closed;
  assert.equal(await hubConnectCode(url, 'north', first), 4, 'the first secret is refused');
  assert.equal(await hubConnectCode(url, 'north', graced.body.upstream.password), 4, 'the secret it replaced is refused');
  hub = await connectHub(t, url, 'north', revoked.body.upstream.password);

  // Removing the hub ends its session as well.
  const removedClose = closedWithin(hub, 10_000, 'the session after the hub was removed');
  assert.equal((await h.call('DELETE', '/api/v1/hubs/north')).status, 204);
  await removedClose;
  assert.equal(await hubConnectCode(url, 'north', revoked.body.upstream.password), 4);
});
