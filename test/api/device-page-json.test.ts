/**
 * GET /devices sends each device as JSON text written by SQLite (store/device-summary-json.ts), not
 * through deviceSummary and the response schema. These tests hold the two to the same document:
 * for devices in every state that changes a field (online, seen, out of sync, faulted, quarantined,
 * behind no hub, an online hub or an offline one, tags JSON must escape or that spell out the
 * boundary between two entries of the joined page), each page equals
 * deviceSummary of the store's records for the same query, field for field and in the same order,
 * and conforms to the route's response schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import type { ReportedState } from '../../protocol/index.js';
import { DevicePage } from '../../fleet-api/http/schemas.js';
import { deviceSummary } from '../../fleet-api/http/views.js';
import { unreachableHubs } from '../../fleet-api/hubs/views.js';
import type { DevicePageQuery } from '../../fleet-api/store/index.js';
import { startApi, type Harness } from './helpers/harness.js';
import { provision } from './helpers/fleet.js';

const reported = (deviceId: string, modules: Array<{ state: 'running' | 'failed'; faults: number; quarantined?: boolean }>): ReportedState =>
  ({
    v: 1,
    deviceId,
    revision: 0,
    at: new Date().toISOString(),
    agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
    modules: modules.map((m, i) => ({ name: `m${i}`, version: '1.0.0', sha256: 'a'.repeat(64), deploymentId: 'dep-x', batches: 1, ...m })),
    errors: [],
  }) as unknown as ReportedState;

const hubStatus = (hubId: string, state: 'online' | 'offline') =>
  ({ v: 1, hubId, state, at: new Date().toISOString(), siteRevision: 1, backlog: { batches: 0, bytes: 0, oldestAt: null }, lost: {}, devicesConnected: 0 }) as never;

/** A fleet with one device in each state a list entry shows, behind no hub, an online one and an offline one. */
async function variedFleet(h: Harness): Promise<void> {
  const store = h.api.store;
  for (const name of ['up', 'down']) {
    store.insertHub({ id: name, parentId: null, urls: ['mqtt://hub.local:1883'], selector: { hub: name }, credentialHash: 'h', deviceIds: [] });
    store.setHubStatus(name, hubStatus(name, name === 'up' ? 'online' : 'offline'), new Date().toISOString());
  }
  const tricky = { note: 'quote " back \\ tab \t newline \n é 🛰', empty: '' };
  await provision(h, 'a-plain', { site: 'north' });
  await provision(h, 'b-tricky', { site: 'north', ...tricky });
  await provision(h, 'c-online', { site: 'north' });
  await provision(h, 'd-faulted', { site: 'south' });
  await provision(h, 'e-quarantined', { site: 'north' });
  await provision(h, 'f-behind-up', { site: 'north' });
  await provision(h, 'g-behind-down', { site: 'north' });
  await provision(h, 'h-out-of-sync');
  // Tags that spell entries and their boundary, where the route cuts the joined page.
  await provision(h, 'i-spelled', { id: '},{"id":"zz"', site: 'north', z: ',{"id":' });
  store.setPresence('c-online', true, '2026-01-01T00:00:02.000Z');
  store.setPresence('d-faulted', false, '2026-01-01T00:00:01.000Z');
  store.setReported('d-faulted', reported('d-faulted', [{ state: 'failed', faults: 1 }]));
  store.setReported('e-quarantined', reported('e-quarantined', [{ state: 'running', faults: 0, quarantined: true }]));
  store.setDeviceHub('f-behind-up', 'up');
  store.setDeviceHub('g-behind-down', 'down');
  store.db.prepare('UPDATE devices SET desired_revision = 3, reported_revision = 1 WHERE id = ?').run('h-out-of-sync');
}

test('each page of GET /devices is deviceSummary of the same devices, field for field and in order, and fits the response schema', async (t) => {
  const h = await startApi(t);
  await variedFleet(h);
  const offline = unreachableHubs(h.api.store);
  assert.deepEqual([...offline], ['down']);
  const cases: Array<[string, Omit<DevicePageQuery, 'limit'>]> = [
    ['', { sort: 'id' }],
    ['sort=-id', { sort: '-id' }],
    ['sort=lastSeen', { sort: 'lastSeen' }],
    ['sort=-createdAt', { sort: '-createdAt' }],
    ['tag=site=north', { sort: 'id', tags: { site: 'north' } }],
    ['tag=site=north&sort=-id&online=false', { sort: '-id', tags: { site: 'north' }, online: false }],
    ['faulted=true', { sort: 'id', faulted: true }],
    ['quarantined=true', { sort: 'id', quarantined: true }],
    ['inSync=false', { sort: 'id', inSync: false }],
    ['hub=down', { sort: 'id', hub: 'down' }],
    ['idPrefix=b-', { sort: 'id', idPrefix: 'b-' }],
  ];
  for (const [query, storeQuery] of cases) {
    const res = await h.call('GET', `/api/v1/devices?${query}`);
    assert.equal(res.status, 200, query);
    assert.ok(Value.Check(DevicePage, res.body), `${query}: ${JSON.stringify([...Value.Errors(DevicePage, res.body)].slice(0, 3))}`);
    const expected = h.api.store.pageDevices({ ...storeQuery, limit: 100 }).map((record) => deviceSummary(record, offline));
    assert.ok(expected.length > 0, query);
    // Compared as text: same values, same field order as the schema-serialized document had.
    assert.deepEqual(res.body.devices.map((d: unknown) => JSON.stringify(d)), expected.map((d) => JSON.stringify(d)), query);
  }
  // Every hub back online: the text without the unreachable list says the same.
  h.api.store.setHubStatus('down', hubStatus('down', 'online'), new Date().toISOString());
  assert.equal(unreachableHubs(h.api.store).size, 0);
  for (const [query, storeQuery] of cases) {
    const res = await h.call('GET', `/api/v1/devices?${query}`);
    const expected = h.api.store.pageDevices({ ...storeQuery, limit: 100 }).map((record) => deviceSummary(record, new Set()));
    assert.deepEqual(res.body.devices.map((d: unknown) => JSON.stringify(d)), expected.map((d) => JSON.stringify(d)), `${query}, all hubs online`);
  }
  assert.equal((await h.call('GET', '/api/v1/devices?hub=down')).body.devices[0].reachable, 'hub');
  h.api.store.setHubStatus('down', hubStatus('down', 'offline'), new Date().toISOString());
  const tricky = (await h.call('GET', '/api/v1/devices?idPrefix=b-')).body.devices[0];
  assert.equal(tricky.tags.note, 'quote " back \\ tab \t newline \n é 🛰');
  const reach = Object.fromEntries((await h.call('GET', '/api/v1/devices')).body.devices.map((d: { id: string; reachable: string }) => [d.id, d.reachable]));
  assert.deepEqual([reach['a-plain'], reach['f-behind-up'], reach['g-behind-down']], ['direct', 'hub', 'offline-hub']);
});

test('the cursor of a pre-serialized page resumes after its last device, for id and key sorts, whatever the tags spell', async (t) => {
  const h = await startApi(t);
  await variedFleet(h);
  for (const [sort, limit] of [['id', 3], ['-id', 3], ['lastSeen', 3], ['-createdAt', 3], ['id', 1], ['-id', 1], ['createdAt', 1], ['-lastSeen', 2]] as const) {
    const all = (await h.call('GET', `/api/v1/devices?sort=${sort}`)).body.devices.map((d: { id: string }) => d.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { devices: Array<{ id: string }>; nextCursor: string | null } } = await h.call('GET', `/api/v1/devices?sort=${sort}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.devices.length <= limit);
      seen.push(...res.body.devices.map((d) => d.id));
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(seen, all, `${sort}, ${limit} a page`);
    assert.ok(seen.includes('i-spelled'));
  }
});
