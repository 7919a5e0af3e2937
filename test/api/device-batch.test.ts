import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './helpers/harness.js';
import { provision } from './helpers/fleet.js';

const devices = (n: number, prefix = 'gw') => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${String(i).padStart(4, '0')}`, profile: 'sim-x86-64', tags: { site: i % 2 ? 'south' : 'north' } }));

test('POST /devices/batch provisions every device with its own password, shown once, and one trust block', async (t) => {
  const h = await startApi(t);
  const body = { devices: devices(250) };
  const res = await h.call('POST', '/api/v1/devices/batch', body);
  assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
  assert.equal(res.body.devices.length, 250);
  assert.deepEqual(res.body.devices.map((d: { device: { id: string } }) => d.device.id), body.devices.map((d) => d.id), 'in the order given');
  const passwords = new Set(res.body.devices.map((d: { mqtt: { password: string } }) => d.mqtt.password));
  assert.equal(passwords.size, 250);
  assert.equal(res.body.devices[3].mqtt.username, 'gw-0003');
  assert.deepEqual(res.body.devices[3].device.tags, { site: 'south' });
  assert.ok(res.body.trust.root);
  // The passwords are real credentials: the store verifies them.
  const verifier = h.api.store.deviceCredentialHash('gw-0003');
  assert.ok(verifier?.startsWith('sha256$'));
  const north = await h.call('GET', '/api/v1/devices?tag=site=north&limit=1000');
  assert.equal(north.body.devices.length, 125);
});

test('a batch with a bad item is refused naming the item and field, and nothing of it is provisioned', async (t) => {
  const h = await startApi(t);
  await provision(h, 'taken');
  const refusals: Array<[unknown, number, string, string]> = [
    [{ devices: [...devices(3), { id: 'Bad Id', profile: 'sim-x86-64' }] }, 400, 'WF_API_VALIDATION', 'body/devices/3/id'],
    [{ devices: [...devices(5), { id: 'x-1', profile: 'toaster' }] }, 400, 'WF_API_VALIDATION', 'body/devices/5/profile'],
    [{ devices: [...devices(2), { id: 'x-2', profile: 'sim-x86-64', tags: { 'Bad Key': 'v' } }] }, 400, 'WF_API_VALIDATION', 'body/devices/2/tags'],
    [{ devices: [...devices(4), devices(1)[0]] }, 400, 'WF_API_VALIDATION', 'body/devices/4/id'],
    [{ devices: [...devices(6), { id: 'taken', profile: 'sim-x86-64' }] }, 409, 'WF_API_CONFLICT', 'body/devices/6/id'],
    [{ devices: [] }, 400, 'WF_API_VALIDATION', 'body/devices'],
    [{ devices: devices(10_001, 'n') }, 400, 'WF_API_VALIDATION', 'body/devices'],
  ];
  for (const [body, status, code, field] of refusals) {
    const res = await h.call('POST', '/api/v1/devices/batch', body);
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
    assert.ok(String(res.body.error.field).startsWith(field), `${res.body.error.field} names ${field}`);
  }
  const all = await h.call('GET', '/api/v1/devices?limit=1000');
  assert.deepEqual(all.body.devices.map((d: { id: string }) => d.id), ['taken'], 'all or nothing');
});

test('a batch of 10,000 devices fits the large body limit and is provisioned', async (t) => {
  const h = await startApi(t);
  const res = await h.call('POST', '/api/v1/devices/batch', { devices: devices(10_000, 'big') });
  assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
  assert.equal(res.body.devices.length, 10_000);
  let count = 0;
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { devices: unknown[]; nextCursor: string | null } } = await h.call('GET', `/api/v1/devices?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    count += page.body.devices.length;
    cursor = page.body.nextCursor;
  } while (cursor);
  assert.equal(count, 10_000);
});
