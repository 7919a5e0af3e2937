/**
 * `wasmfleet hub add|list|show|remove` and `device add --hub` / `device list --hub` (and `--quarantined`), run as the
 * real CLI against a running platform (its broker admits hubs from the store), then the hub
 * principal connects with the secret from the config file it wrote and reads its site document.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { hubTopics, type HubSite } from '../../protocol/index.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

test('hub add writes a 0600 hub config; device add --hub points the agent at the hub; the hub reads its site with that secret', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-cli-hub-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(() => platform.close());
  const admin = ['--api', platform.apiUrl, '--token', platform.newAdminToken!];

  const configFile = join(dir, 'north.hub.json');
  const added = await runCliJson<{ hub: { id: string }; upstream: { password: string }; hubConfig: string }>([
    'hub', 'add', 'north', '--tag', 'site=north', '--url', 'mqtt://127.0.0.1:21883', '--config-out', configFile, ...admin,
  ]);
  assert.equal(added.hubConfig, configFile);
  assert.equal(statSync(configFile).mode & 0o777, 0o600);
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  assert.deepEqual(config, {
    hubId: 'north',
    secret: added.upstream.password,
    upstream: { urls: [platform.api.options.publicMqttUrl] },
    listen: { host: '0.0.0.0', port: 21883 },
    dataDir: 'north.hub.data',
  });

  const agentConfig = join(dir, 'gw-1.json');
  const device = await runCliJson<{ hub: { id: string }; brokerUrls: string[] }>([
    'device', 'add', 'gw-1', '--profile', 'sim-x86-64', '--tag', 'site=north', '--fallback-central', '--agent-config', agentConfig, ...admin,
  ]);
  assert.equal(device.hub.id, 'north');
  const agent = JSON.parse(readFileSync(agentConfig, 'utf8'));
  assert.equal(agent.broker.url, 'mqtt://127.0.0.1:21883');
  assert.deepEqual(agent.broker.urls, ['mqtt://127.0.0.1:21883', platform.api.options.publicMqttUrl], 'the hub first, the central broker as last resort');
  const direct = await runCliJson<{ brokerUrls: string[] }>(['device', 'add', 'gw-2', '--profile', 'sim-x86-64', '--hub', 'north', ...admin]);
  assert.deepEqual(direct.brokerUrls, ['mqtt://127.0.0.1:21883'], 'without --fallback-central only the hub');
  await runCliJson(['device', 'add', 'gw-9', '--profile', 'sim-x86-64', '--tag', 'site=south', ...admin]);

  const behind = await runCliJson<{ devices: Array<{ id: string; reachable: string }> }>(['device', 'list', '--hub', 'north', ...admin]);
  assert.deepEqual(behind.devices.map((d) => [d.id, d.reachable]), [['gw-1', 'offline-hub'], ['gw-2', 'offline-hub']]);
  const quarantined = await runCliJson<{ devices: Array<{ id: string }> }>(['device', 'list', '--quarantined', ...admin]);
  assert.deepEqual(quarantined.devices, [], 'no device has reported a quarantined module');
  const notQuarantined = await runCliJson<{ devices: Array<{ id: string }> }>(['device', 'list', '--no-quarantined', ...admin]);
  assert.deepEqual(notQuarantined.devices.map((d) => d.id), ['gw-1', 'gw-2', 'gw-9']);
  const hubs = await runCliJson<{ hubs: Array<{ id: string; uplink: string; devices: { total: number } }> }>(['hub', 'list', ...admin]);
  assert.deepEqual(hubs.hubs.map((h) => [h.id, h.uplink, h.devices.total]), [['north', 'unknown', 2]]);
  const human = await runCli(['hub', 'list', ...admin]);
  assert.match(human.stdout, /north\s+unknown\s+0\/2/);

  // The hub principal, with the secret from its config file, at the platform's own broker.
  const hub = await mqtt.connectAsync(platform.mqttUrl, { clientId: 'wf-hub-north', clean: false, username: 'wf:hub:north', password: config.secret, protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => hub.endAsync(true));
  let site: HubSite | undefined;
  hub.on('message', (topic, payload) => {
    if (topic === hubTopics.hub('north', 'site') && payload.byteLength > 0) site = JSON.parse(payload.toString()) as HubSite;
  });
  await hub.subscribeAsync(hubTopics.hub('north', 'site'), { qos: 1 });
  // mqtt.js rejects a SUBACK of 0x80: another site's device is refused.
  await assert.rejects(hub.subscribeAsync('wf/v1/devices/gw-9/desired', { qos: 1 }), /Subscribe error/);
  const doc = await waitFor('the site document', () => site, 5000);
  assert.deepEqual(doc.devices.map((d) => d.deviceId), ['gw-1', 'gw-2']);

  const online = { v: 1, hubId: 'north', state: 'online', at: new Date().toISOString(), siteRevision: doc.revision, backlog: { batches: 0, bytes: 0, oldestAt: null }, lost: {}, devicesConnected: 1 };
  await hub.publishAsync(hubTopics.hub('north', 'status'), JSON.stringify(online), { qos: 1, retain: true });
  await waitFor('the hub online', async () => ((await runCliJson<{ online: boolean }>(['hub', 'show', 'north', ...admin])).online ? true : undefined), 5000);

  const refused = await runCli(['hub', 'add', 'north', ...admin]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /already exists/);
  assert.equal((await runCli(['hub', 'remove', 'north', ...admin])).code, 0);
  assert.deepEqual((await runCliJson<{ hubs: unknown[] }>(['hub', 'list', ...admin])).hubs, []);
});
