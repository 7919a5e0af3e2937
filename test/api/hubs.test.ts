/**
 * Hubs seen from the API, live: a real broker admitting from the real store, the API's MQTT link,
 * and real mqtt.js clients. The retained HubSite follows every change (add behind a hub, rotate,
 * nest, delete); hub statuses are stored, malformed ones counted and ignored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { hubTopics, hubUsername, type HubSite } from '../../protocol/index.js';
import { connectClient, startApi, waitFor, type Harness } from './helpers/harness.js';

/** The latest retained site document a subscriber has seen for a hub (null: cleared). */
async function watchSite(t: Parameters<typeof startApi>[0], h: Harness, hubId: string, password: string): Promise<{ latest(): HubSite | undefined; cleared(): boolean; client: MqttClient }> {
  const client = await connectClient(t, h.broker!.url, hubUsername(hubId), password);
  let latest: HubSite | null | undefined;
  client.on('message', (topic, payload) => {
    if (topic === hubTopics.hub(hubId, 'site')) latest = payload.byteLength === 0 ? null : (JSON.parse(payload.toString()) as HubSite);
  });
  await client.subscribeAsync(hubTopics.hub(hubId, 'site'), { qos: 1 });
  return { latest: () => latest ?? undefined, cleared: () => latest === null, client };
}

test('the retained site document follows devices added behind a hub, rotated, nested and deleted', async (t) => {
  const h = await startApi(t, { live: true });
  const created = await h.call('POST', '/api/v1/hubs', { id: 'north', selector: { site: 'north' }, urls: ['mqtt://hub-north.local:1883'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.upstream.username, 'wf:hub:north');
  assert.equal(created.body.upstream.clientId, 'wf-hub-north');
  assert.deepEqual(created.body.upstream.urls, [h.api.options.publicMqttUrl]);
  const north = await watchSite(t, h, 'north', created.body.upstream.password);
  const first = await waitFor(() => north.latest(), 3000, 'the first site document');
  assert.deepEqual([first.devices, first.hubs], [[], []]);

  // Behind the hub by its selector: listed with its current hash before the call answers.
  const added = await h.call('POST', '/api/v1/devices', { id: 'gw-1', profile: 'sim-x86-64', tags: { site: 'north' } });
  assert.equal(added.status, 201);
  assert.deepEqual(added.body.hub, { id: 'north', urls: ['mqtt://hub-north.local:1883'] });
  const withDevice = await waitFor(() => (north.latest()?.devices.length ? north.latest() : undefined), 3000, 'gw-1 in the site');
  assert.ok(withDevice.revision > first.revision);
  assert.deepEqual(withDevice.devices, [{ deviceId: 'gw-1', current: h.api.store.deviceCredentials('gw-1')!.currentHash }]);

  // Rotation with grace: the new hash, and the previous one until its grace ends.
  const rotated = await h.call('POST', '/api/v1/devices/gw-1/credentials/rotate', { graceSeconds: 3600 });
  assert.equal(rotated.status, 200);
  const afterRotation = await waitFor(() => (north.latest()?.devices[0]?.previous ? north.latest() : undefined), 3000, 'the rotation in the site');
  const credentials = h.api.store.deviceCredentials('gw-1')!;
  assert.deepEqual(afterRotation.devices[0], { deviceId: 'gw-1', current: credentials.currentHash, previous: credentials.previousHash, previousUntil: Date.parse(rotated.body.previousValidUntil) });
  assert.ok(afterRotation.revision > withDevice.revision);

  // Explicitly behind a child hub: the parent lists it `via` the child, and the child itself.
  const child = await h.call('POST', '/api/v1/hubs', { id: 'north-a', parent: 'north', urls: ['mqtt://hub-north-a.local:1883'] });
  assert.equal(child.status, 201, JSON.stringify(child.body));
  assert.deepEqual(child.body.upstream.urls, ['mqtt://hub-north.local:1883'], "a child hub's upstream is its parent");
  const northA = await watchSite(t, h, 'north-a', child.body.upstream.password);
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-2', profile: 'sim-x86-64', hub: 'north-a' })).status, 201);
  const nested = await waitFor(() => (north.latest()?.devices.length === 2 ? north.latest() : undefined), 3000, 'gw-2 in the parent site');
  assert.deepEqual(nested.devices.map((d) => [d.deviceId, d.via]), [['gw-1', undefined], ['gw-2', 'north-a']]);
  assert.deepEqual(nested.hubs.map((hub) => [hub.hubId, hub.parent, hub.current.length > 0]), [['north-a', 'north', true]]);
  const childSite = await waitFor(() => (northA.latest()?.devices.length ? northA.latest() : undefined), 3000, 'gw-2 in the child site');
  assert.deepEqual(childSite.devices.map((d) => [d.deviceId, d.via]), [['gw-2', undefined]]);

  // The child hub's rotation: its parent's site carries the new hash and, during the grace, the old one.
  const hubRotated = await h.call('POST', '/api/v1/hubs/north-a/credentials/rotate', { graceSeconds: 600 });
  assert.equal(hubRotated.status, 200, JSON.stringify(hubRotated.body));
  const hubCredentials = h.api.store.hubCredentials('north-a')!;
  await waitFor(() => (north.latest()?.hubs[0]?.previous === hubCredentials.previousHash ? true : undefined), 3000, 'the hub rotation in the parent site');
  assert.equal(north.latest()!.hubs[0]!.current, hubCredentials.currentHash);
  assert.equal(north.latest()!.hubs[0]!.previousUntil, Date.parse(hubRotated.body.previousValidUntil));

  const listed = await h.call('GET', '/api/v1/devices?hub=north');
  assert.deepEqual(listed.body.devices.map((d: { id: string; hub: string }) => [d.id, d.hub]), [['gw-1', 'north']]);

  // Deleted: gone from every site that listed it.
  assert.equal((await h.call('DELETE', '/api/v1/devices/gw-1')).status, 204);
  await waitFor(() => (north.latest()?.devices.map((d) => d.deviceId).join() === 'gw-2' ? true : undefined), 3000, 'gw-1 gone from the site');

  // A hub with children cannot go; the child can, and its retained site is cleared.
  const refused = await h.call('DELETE', '/api/v1/hubs/north');
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'WF_API_HUB_HAS_CHILDREN');
  assert.equal(refused.body.error.field, 'params/id');
  assert.equal((await h.call('DELETE', '/api/v1/hubs/north-a')).status, 204);
  await waitFor(() => (northA.cleared() ? true : undefined), 3000, 'the child site cleared');
  await waitFor(() => (north.latest()?.hubs.length === 0 ? true : undefined), 3000, 'the parent site without the child');
  assert.deepEqual(north.latest()!.devices.map((d) => [d.deviceId, d.via]), [['gw-2', undefined]], 'its device moved to the parent, admitted there directly');
  assert.equal(h.api.store.deviceHub('gw-2'), 'north');
});

test('hub statuses are stored and shown; malformed ones are counted and ignored', async (t) => {
  const h = await startApi(t, { live: true });
  const created = await h.call('POST', '/api/v1/hubs', { id: 'north', selector: { site: 'north' }, urls: ['mqtt://hub-north.local:1883'] });
  for (const id of ['gw-1', 'gw-2']) await h.call('POST', '/api/v1/devices', { id, profile: 'sim-x86-64', tags: { site: 'north' } });
  const before = await h.call('GET', '/api/v1/hubs/north');
  assert.equal(before.body.uplink, 'unknown');
  assert.equal(before.body.online, false);
  assert.deepEqual(before.body.devices, { total: 2, direct: 2, connected: 0, online: 0 });
  const device = await h.call('GET', '/api/v1/devices/gw-1');
  assert.equal(device.body.reachable, 'offline-hub');

  const hub = await connectClient(t, h.broker!.url, hubUsername('north'), created.body.upstream.password);
  const oldest = new Date(Date.now() - 30_000).toISOString();
  const status = { v: 1, hubId: 'north', state: 'online', at: new Date().toISOString(), siteRevision: 7, backlog: { batches: 4, bytes: 2048, oldestAt: oldest }, lost: { 'custody-full': 2 }, devicesConnected: 2 };
  await hub.publishAsync(hubTopics.hub('north', 'status'), JSON.stringify(status), { qos: 1, retain: true });
  const shown = await waitFor(async () => {
    const res = await h.call('GET', '/api/v1/hubs');
    return res.body.hubs[0]?.online ? res.body.hubs[0] : undefined;
  }, 3000, 'the hub online');
  assert.equal(shown.uplink, 'online');
  assert.deepEqual(shown.backlog.batches, 4);
  assert.deepEqual(shown.backlog.bytes, 2048);
  assert.equal(shown.backlog.oldestAt, oldest);
  assert.ok(shown.backlog.oldestAgeSeconds >= 29);
  assert.deepEqual(shown.lost, { 'custody-full': 2 });
  assert.equal(shown.devices.connected, 2);
  assert.equal(shown.siteRevision.running, 7);
  assert.equal((await h.call('GET', '/api/v1/devices/gw-1')).body.reachable, 'hub');

  // Not JSON, wrong schema, another hub's id: each dropped and counted; the stored status stays.
  await hub.publishAsync(hubTopics.hub('north', 'status'), 'not json', { qos: 1 });
  await hub.publishAsync(hubTopics.hub('north', 'status'), JSON.stringify({ ...status, state: 'sideways' }), { qos: 1 });
  await hub.publishAsync(hubTopics.hub('north', 'status'), JSON.stringify({ ...status, hubId: 'south' }), { qos: 1 });
  await waitFor(() => (h.api.hubStatuses.counters.malformed === 3 ? true : undefined), 3000, 'three malformed statuses counted');
  assert.equal((await h.call('GET', '/api/v1/hubs/north')).body.uplink, 'online');

  await hub.publishAsync(hubTopics.hub('north', 'status'), JSON.stringify({ ...status, state: 'offline', at: new Date().toISOString() }), { qos: 1, retain: true });
  await waitFor(async () => ((await h.call('GET', '/api/v1/hubs/north')).body.uplink === 'offline' ? true : undefined), 3000, 'the hub offline');
  assert.equal((await h.call('GET', '/api/v1/devices?hub=north')).body.devices[0].reachable, 'offline-hub');
  assert.equal((await h.call('GET', '/api/v1/hubs/nowhere')).status, 404);
});

test('a reconnect re-derives every hub site from SQLite, with a higher revision', async (t) => {
  const h = await startApi(t, { live: true });
  const created = await h.call('POST', '/api/v1/hubs', { id: 'north', selector: { site: 'north' } });
  await h.call('POST', '/api/v1/devices', { id: 'gw-1', profile: 'sim-x86-64', tags: { site: 'north' } });
  const north = await watchSite(t, h, 'north', created.body.upstream.password);
  const before = await waitFor(() => (north.latest()?.devices.length ? north.latest() : undefined), 3000, 'the site with gw-1');
  // The broker lost its retained site (a new broker tier, a wiped persistence): the link's re-sync restores it.
  h.broker!.aedes.publish({ cmd: 'publish', topic: hubTopics.hub('north', 'site'), payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }, () => undefined);
  await waitFor(() => (north.cleared() ? true : undefined), 3000, 'the retained site cleared');
  await h.api.link.resync();
  const after = await waitFor(() => north.latest(), 3000, 'the site re-derived');
  assert.ok(after.revision > before.revision);
  assert.deepEqual(after.devices, before.devices);
});
