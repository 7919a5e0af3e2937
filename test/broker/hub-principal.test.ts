/**
 * The hub principal at a real broker, authenticated from a real SQLite store (the embedded
 * verifier), with real mqtt.js clients: a hub relays for its own site and cannot read or write
 * another site's topics nor use wildcards over devices.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type RunningBroker } from '../../broker/index.js';
import { generateSecret, hashSecret } from '../../common/secrets.js';
import { openStore, storeCredentialVerifier, type Store } from '../../fleet-api/index.js';
import { hubClientId, hubTopics, hubUsername } from '../../protocol/hubs.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { topics } from '../../protocol/topics.js';
import { captureLogs, collect, connect, settle, subscribeGranted, waitForClose } from './helpers.js';

interface Site {
  readonly store: Store;
  readonly broker: RunningBroker;
  readonly secrets: Record<string, string>;
}

async function startSite(t: TestContext): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-hub-principal-'));
  const store = openStore(join(dir, 'fleet.db'));
  const secrets: Record<string, string> = { service: 'svc-secret' };
  for (const id of ['gw-1', 'gw-2', 'gw-9']) {
    secrets[id] = generateSecret('wfd');
    store.insertDevice({ id, profile: 'sim-x86-64', tags: { site: id === 'gw-9' ? 'south' : 'north' }, credentialHash: await hashSecret(secrets[id]!) });
  }
  for (const [id, site] of [['north', 'north'], ['south', 'south']] as const) {
    secrets[id] = generateSecret('wfh');
    store.insertHub({ id, parentId: null, urls: [], selector: { site }, credentialHash: await hashSecret(secrets[id]!), deviceIds: [] });
  }
  const logs = captureLogs();
  const broker = await startBroker({ port: 0, verifier: storeCredentialVerifier(store, { username: SERVICE_USERNAME, password: secrets.service! }), logger: logs.logger });
  t.after(async () => {
    await broker.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, broker, secrets };
}

const connectHub = (t: TestContext, site: Site, hubId: string, clientId = hubClientId(hubId)) =>
  connect(t, site.broker.url, { clientId, clean: false, username: hubUsername(hubId), password: site.secrets[hubId]! });
const connectService = (t: TestContext, site: Site) =>
  connect(t, site.broker.url, { clientId: 'fleet-api-test', username: SERVICE_USERNAME, password: site.secrets.service! });

test('a hub authenticates from the store only with its own secret and its own clientId', async (t) => {
  const site = await startSite(t);
  await connectHub(t, site, 'north');
  await assert.rejects(connect(t, site.broker.url, { clientId: hubClientId('north'), username: hubUsername('north'), password: site.secrets.south! }), { code: 4 });
  await assert.rejects(connectHub(t, site, 'north', 'gw-1'), { code: 2 });
  await assert.rejects(connect(t, site.broker.url, { clientId: hubClientId('east'), username: hubUsername('east'), password: site.secrets.north! }), { code: 4 });
});

test("a hub relays its site's devices both ways and is refused every other site's topic", async (t) => {
  const site = await startSite(t);
  const hub = await connectHub(t, site, 'north');
  const service = await connectService(t, site);
  const seenByService = collect(service);
  const seenByHub = collect(hub);
  assert.deepEqual(await subscribeGranted(service, [topics.allDevices('results'), hubTopics.allHubs('status')]), [1, 1]);

  // Subscriptions: exact topics of its own devices and site document; nothing else.
  const own = [topics.device('gw-1', 'desired'), topics.device('gw-1', 'ack'), topics.device('gw-2', 'desired'), hubTopics.hub('north', 'site'), topics.allModules];
  assert.deepEqual(await subscribeGranted(hub, own), own.map(() => 1));
  const foreign = [
    topics.device('gw-9', 'desired'),
    topics.device('gw-9', 'ack'),
    topics.allDevices('desired'),
    topics.allDevices('ack'),
    'wf/v1/devices/#',
    '#',
    hubTopics.hub('south', 'site'),
    hubTopics.allHubs('site'),
  ];
  assert.deepEqual(await subscribeGranted(hub, foreign), foreign.map(() => 0x80));
  assert.ok(hub.connected);

  await service.publishAsync(topics.device('gw-1', 'desired'), '{"for":"gw-1"}', { qos: 1, retain: true });
  await service.publishAsync(topics.device('gw-9', 'desired'), '{"for":"gw-9"}', { qos: 1, retain: true });
  await service.publishAsync(hubTopics.hub('north', 'site'), '{"site":"north"}', { qos: 1, retain: true });
  await service.publishAsync(hubTopics.hub('south', 'site'), '{"site":"south"}', { qos: 1, retain: true });
  await hub.publishAsync(topics.device('gw-2', 'results'), '{"from":"gw-2"}', { qos: 1 });
  await hub.publishAsync(hubTopics.hub('north', 'status'), '{"hub":"north"}', { qos: 1, retain: true });
  await settle();
  assert.deepEqual(seenByHub.map((m) => m.topic).sort(), [hubTopics.hub('north', 'site'), topics.device('gw-1', 'desired')].sort());
  assert.deepEqual(seenByService.map((m) => m.topic).sort(), [hubTopics.hub('north', 'status'), topics.device('gw-2', 'results')].sort());

  // Writing another site's device topic closes the connection, as for a device [MQTT-3.3.5-2].
  hub.publish(topics.device('gw-9', 'results'), '{"forged":true}', { qos: 1 });
  await waitForClose(hub);
  await settle();
  assert.equal(seenByService.filter((m) => m.topic === topics.device('gw-9', 'results')).length, 0);
  assert.ok(site.broker.stats().aclPublishRefusals >= 1);
});

test("a hub may not write another hub's status, any site document or desired state", async (t) => {
  const site = await startSite(t);
  for (const topic of [hubTopics.hub('south', 'status'), hubTopics.hub('north', 'site'), topics.device('gw-1', 'desired'), topics.controlRevoke]) {
    const hub = await connectHub(t, site, 'north');
    hub.publish(topic, '{}', { qos: 1 });
    await waitForClose(hub);
  }
});

test('a device moved to another hub is refused at the old one within the membership cache time, even on subscriptions it already held', async (t) => {
  const site = await startSite(t);
  const hub = await connectHub(t, site, 'north');
  const service = await connectService(t, site);
  const seen = collect(hub);
  assert.deepEqual(await subscribeGranted(hub, [topics.device('gw-1', 'desired')]), [1]);
  await service.publishAsync(topics.device('gw-1', 'desired'), '{"n":1}', { qos: 1 });
  await settle();
  assert.equal(seen.length, 1, 'delivered while gw-1 is behind north');

  site.store.setDeviceHub('gw-1', 'south');
  await settle(1_200);
  assert.deepEqual(await subscribeGranted(hub, [topics.device('gw-1', 'ack')]), [0x80]);
  // The subscription made before the move no longer delivers (forwarding checks the subtree again).
  await service.publishAsync(topics.device('gw-1', 'desired'), '{"n":2}', { qos: 1 });
  await settle(300);
  assert.equal(seen.length, 1, 'nothing for gw-1 after it moved away');
  assert.ok(site.broker.stats().aclForwardDrops >= 1);
});

test('a device put behind a hub a moment ago is granted to it at once: a refusal is decided on a fresh read of the subtree, not the cached one', async (t) => {
  const site = await startSite(t);
  const hub = await connectHub(t, site, 'north');
  // The broker now holds north's subtree (gw-1, gw-2), read for this subscription.
  assert.deepEqual(await subscribeGranted(hub, [topics.device('gw-1', 'desired')]), [1]);
  // gw-9 moves behind north; the hub hears of it in its new site document and subscribes at
  // once, well within the cache's second. Before, that was refused (SUBACK 0x80) until the cache expired.
  site.store.setDeviceHub('gw-9', 'north');
  await settle(150);
  assert.deepEqual(await subscribeGranted(hub, [topics.device('gw-9', 'desired'), topics.device('gw-9', 'ack')]), [1, 1]);
  // Still refused: a device of another site, whatever the read.
  assert.deepEqual(await subscribeGranted(hub, [topics.device('gw-2', 'desired'), topics.device('gw-x', 'desired')]), [1, 0x80]);
});

test('a hub publishing after the store closed (the server stopping) is refused and the broker lives on: the membership read that throws denies', async (t) => {
  const site = await startSite(t);
  const hub = await connectHub(t, site, 'north');
  await hub.publishAsync(topics.device('gw-2', 'results'), '{"n":1}', { qos: 1 });
  // What `wasmfleet server` did on SIGTERM before its stop order put the store last: the API closed
  // the store, then the broker stopped. A hub publish in between crashed the process with "The
  // database connection is not open"; the broker still survives a store that goes away under it.
  site.store.close();
  await settle(1_200);
  hub.publish(topics.device('gw-2', 'results'), '{"n":2}', { qos: 1 });
  await waitForClose(hub);
  assert.ok(site.broker.stats().aclPublishRefusals >= 1, 'the publish was refused');
  // Still answering: a CONNECT is refused as "server unavailable" (its credential read fails too).
  await assert.rejects(connect(t, site.broker.url, { clientId: 'gw-1', username: 'gw-1', password: site.secrets['gw-1']! }), { code: 3 });
});
