import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifySecret } from '../../common/secrets.js';
import { storeCredentialVerifier } from '../../fleet-api/index.js';
import { SERVICE_USERNAME, topics } from '../../protocol/index.js';
import { collect, connectClient, startApi, waitFor } from './helpers/harness.js';

test('provisioning returns the MQTT credentials once and stores only their hash', async (t) => {
  const { api, call } = await startApi(t, { options: { publicMqttUrl: 'mqtts://fleet.example:8883' } });
  const created = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64', tags: { site: 'north', line: '2' } });
  assert.equal(created.status, 201);
  assert.equal(created.body.device.id, 'gw-01');
  assert.deepEqual(created.body.device.tags, { site: 'north', line: '2' });
  assert.equal(created.body.device.online, false);
  assert.equal(created.body.mqtt.url, 'mqtts://fleet.example:8883');
  assert.equal(created.body.mqtt.username, 'gw-01');
  const password: string = created.body.mqtt.password;
  assert.match(password, /^wfd_[A-Za-z0-9_-]{43}$/);

  const hash = api.store.deviceCredentialHash('gw-01')!;
  assert.ok(hash.startsWith('sha256$'));
  assert.ok(!hash.includes(password));
  assert.equal(await verifySecret(password, hash), true);
  const raw = api.store.db.prepare('SELECT * FROM devices').all();
  assert.ok(!JSON.stringify(raw).includes(password), 'the clear password is nowhere in the table');

  const shown = await call('GET', '/api/v1/devices/gw-01');
  assert.equal(shown.status, 200);
  assert.ok(!JSON.stringify(shown.body).includes(password), 'never shown again');
  assert.equal(shown.body.desired.revision, 0);
  assert.equal(shown.body.reported, undefined);

  const duplicate = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64' });
  assert.equal(duplicate.status, 409);
  assert.equal(duplicate.body.error.code, 'WF_API_CONFLICT');
  assert.equal(duplicate.body.error.field, 'body/id');
});

test('devices are listed by tags (AND), profile and online status', async (t) => {
  const { api, call } = await startApi(t);
  await call('POST', '/api/v1/devices', { id: 'a', profile: 'sim-x86-64', tags: { site: 'north', line: '1' } });
  await call('POST', '/api/v1/devices', { id: 'b', profile: 'sim-x86-64', tags: { site: 'north', line: '2' } });
  await call('POST', '/api/v1/devices', { id: 'c', profile: 'rpi4-arm64', tags: { site: 'south' } });
  api.store.setPresence('b', true, new Date().toISOString());
  const ids = async (query: string) => ((await call('GET', `/api/v1/devices${query}`)).body.devices as Array<{ id: string }>).map((d) => d.id);
  assert.deepEqual(await ids(''), ['a', 'b', 'c']);
  assert.deepEqual(await ids('?tag=site=north'), ['a', 'b']);
  assert.deepEqual(await ids('?tag=site=north&tag=line=2'), ['b']);
  assert.deepEqual(await ids('?profile=rpi4-arm64'), ['c']);
  assert.deepEqual(await ids('?online=true'), ['b']);
  assert.deepEqual(await ids('?online=false&tag=site=north'), ['a']);
});

test('deleting a device removes it and clears its retained desired state', async (t) => {
  const { api, call, broker } = await startApi(t, { live: true });
  await call('POST', '/api/v1/devices', { id: 'gw-09', profile: 'sim-x86-64' });
  const observer = await connectClient(t, broker!.url, SERVICE_USERNAME, 'test-service-password');
  const seen = await collect(observer, topics.device('gw-09', 'desired'));
  const removed = await call('DELETE', '/api/v1/devices/gw-09');
  assert.equal(removed.status, 204);
  await waitFor(() => seen.find((m) => m.payload.byteLength === 0), 3000, 'empty retained desired');
  assert.equal((await call('GET', '/api/v1/devices/gw-09')).status, 404);
  assert.equal((await call('DELETE', '/api/v1/devices/gw-09')).status, 404);
  assert.equal(api.store.deviceCredentialHash('gw-09'), undefined);
});

test('the credential verifier admits devices by their hash and the service by its password', async (t) => {
  const { api, call } = await startApi(t);
  const created = await call('POST', '/api/v1/devices', { id: 'gw-02', profile: 'sim-x86-64' });
  const verifier = storeCredentialVerifier(api.store, { username: SERVICE_USERNAME, password: 'svc-secret' });
  assert.deepEqual(await verifier.verify('gw-02', Buffer.from(created.body.mqtt.password)), { kind: 'device', deviceId: 'gw-02' });
  assert.equal(await verifier.verify('gw-02', Buffer.from('wrong')), undefined);
  assert.equal(await verifier.verify('gw-unknown', Buffer.from(created.body.mqtt.password)), undefined);
  assert.equal(await verifier.verify('../etc', Buffer.from('x')), undefined);
  assert.deepEqual(await verifier.verify(SERVICE_USERNAME, Buffer.from('svc-secret')), { kind: 'service', name: SERVICE_USERNAME });
  assert.equal(await verifier.verify(SERVICE_USERNAME, Buffer.from('svc-secret!')), undefined);
});

test('a provisioned device can connect to a broker guarded by the verifier; a wrong password cannot', async (t) => {
  const { call, broker } = await startApi(t, { live: true });
  const created = await call('POST', '/api/v1/devices', { id: 'gw-03', profile: 'sim-x86-64' });
  const device = await connectClient(t, broker!.url, 'gw-03', created.body.mqtt.password);
  assert.equal(device.connected, true);
  await assert.rejects(connectClient(t, broker!.url, 'gw-03', 'wfd_wrong'));
});
