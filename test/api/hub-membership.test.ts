/**
 * Where a device sits as hubs come and go and its tags change, with the retained site documents
 * following (a real broker admitting from the store, the API's MQTT link, mqtt.js subscribers as
 * the hubs): removing a child hub moves its devices to the parent hub (not to the centre);
 * re-tagging a device so that another hub's selector matches moves it there, and both hubs get a
 * new site document; tags that match no selector leave it where it is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hubTopics, hubUsername, type HubSite } from '../../protocol/index.js';
import { connectClient, startApi, waitFor, type Harness } from './helpers/harness.js';

async function watchSite(t: Parameters<typeof startApi>[0], h: Harness, hubId: string, password: string): Promise<() => HubSite | undefined> {
  const client = await connectClient(t, h.broker!.url, hubUsername(hubId), password);
  let latest: HubSite | undefined;
  client.on('message', (topic, payload) => {
    if (topic === hubTopics.hub(hubId, 'site') && payload.byteLength > 0) latest = JSON.parse(payload.toString()) as HubSite;
  });
  await client.subscribeAsync(hubTopics.hub(hubId, 'site'), { qos: 1 });
  return () => latest;
}

const listed = (site: HubSite | undefined) => site?.devices.map((device) => [device.deviceId, device.via ?? null]);

test('removing a child hub moves its devices to its parent; removing a root hub puts them back on the centre', async (t) => {
  const h = await startApi(t, { live: true });
  const north = await h.call('POST', '/api/v1/hubs', { id: 'north', urls: ['mqtt://hub-north.local:1883'] });
  await h.call('POST', '/api/v1/hubs', { id: 'line2', parent: 'north', urls: ['mqtt://hub-line2.local:1883'] });
  const northSite = await watchSite(t, h, 'north', north.body.upstream.password);
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-1', profile: 'sim-x86-64', hub: 'line2' })).status, 201);
  await waitFor(() => (listed(northSite())?.length === 1 ? true : undefined), 3000, 'gw-1 via line2 in north');
  assert.deepEqual(listed(northSite()), [['gw-1', 'line2']]);

  assert.equal((await h.call('DELETE', '/api/v1/hubs/line2')).status, 204);
  assert.equal((await h.call('GET', '/api/v1/devices/gw-1')).body.hub, 'north', 'behind the parent now');
  const after = await waitFor(() => (northSite()?.hubs.length === 0 ? northSite() : undefined), 3000, "north's site without line2");
  assert.deepEqual(listed(after), [['gw-1', null]], 'north admits it directly');

  assert.equal((await h.call('DELETE', '/api/v1/hubs/north')).status, 204);
  assert.equal((await h.call('GET', '/api/v1/devices/gw-1')).body.hub, null, 'no parent: back on the centre');
});

test("re-tagging a device so that another hub's selector matches moves it there; both sites follow", async (t) => {
  const h = await startApi(t, { live: true });
  const north = await h.call('POST', '/api/v1/hubs', { id: 'north', selector: { site: 'north' }, urls: ['mqtt://hub-north.local:1883'] });
  const south = await h.call('POST', '/api/v1/hubs', { id: 'south', selector: { site: 'south' }, urls: ['mqtt://hub-south.local:1883'] });
  const northSite = await watchSite(t, h, 'north', north.body.upstream.password);
  const southSite = await watchSite(t, h, 'south', south.body.upstream.password);
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-1', profile: 'sim-x86-64', tags: { site: 'north' } })).body.device.hub, 'north');
  const northBefore = await waitFor(() => (listed(northSite())?.length === 1 ? northSite() : undefined), 3000, 'gw-1 at north');
  const southBefore = await waitFor(() => southSite(), 3000, "south's first site");

  const moved = await h.call('PATCH', '/api/v1/devices/gw-1', { tags: { site: 'south', rack: '4' } });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.equal(moved.body.hub, 'south');
  const northAfter = await waitFor(() => (northSite()!.revision > northBefore.revision ? northSite() : undefined), 3000, "north's new site");
  const southAfter = await waitFor(() => (southSite()!.revision > southBefore.revision ? southSite() : undefined), 3000, "south's new site");
  assert.deepEqual(listed(northAfter), [], 'north no longer admits it');
  assert.deepEqual(listed(southAfter), [['gw-1', null]], 'south admits it');

  // Tags matching no selector: it stays behind south (it may have been put there by name).
  const unmatched = await h.call('PATCH', '/api/v1/devices/gw-1', { tags: { site: 'east' } });
  assert.equal(unmatched.body.hub, 'south');
  // Put behind a hub by name, tags matching that hub's selector or none change nothing either.
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-2', profile: 'sim-x86-64', hub: 'north' })).body.device.hub, 'north');
  assert.equal((await h.call('PATCH', '/api/v1/devices/gw-2', { tags: { owner: 'ops' } })).body.hub, 'north');
});
