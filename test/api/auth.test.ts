import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifySecret } from '../../common/secrets.js';
import { tokenIdOf } from '../../fleet-api/store/index.js';
import { startApi } from './helpers/harness.js';

test('routes need a bearer token: 401 WF_API_UNAUTHORIZED without one or with a bad one', async (t) => {
  const { call, token } = await startApi(t);
  const none = await call('GET', '/api/v1/devices', undefined, null);
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'WF_API_UNAUTHORIZED');
  const garbage = await call('GET', '/api/v1/devices', undefined, 'not-a-token');
  assert.equal(garbage.status, 401);
  // Right shape and id, wrong secret: must fail the hash check, not just the lookup.
  const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const wrong = await call('GET', '/api/v1/devices', undefined, forged);
  assert.equal(wrong.status, 401);
  const ok = await call('GET', '/api/v1/devices');
  assert.equal(ok.status, 200);
  const again = await call('GET', '/api/v1/devices');
  assert.equal(again.status, 200, 'cached verification still answers');
});

test('health and the OpenAPI document are public', async (t) => {
  const { call } = await startApi(t);
  const health = await call('GET', '/api/v1/health', undefined, null);
  assert.equal(health.status, 200);
  assert.deepEqual(Object.keys(health.body).sort(), ['mqtt', 'protocol', 'status', 'version']);
  assert.equal(health.body.status, 'ok');
  assert.equal(health.body.mqtt, 'disconnected');
  const doc = await call('GET', '/openapi.json', undefined, null);
  assert.equal(doc.status, 200);
});

test('tokens are stored hashed and a viewer token may not write', async (t) => {
  const { api, call } = await startApi(t);
  const readToken = api.store.createToken('viewer', 'viewer');
  const id = tokenIdOf(readToken)!;
  const record = api.store.getToken(id)!;
  assert.notEqual(record.hash, readToken);
  assert.ok(!record.hash.includes(readToken.slice(-20)));
  assert.equal(await verifySecret(readToken, record.hash), true);
  assert.equal((await call('GET', '/api/v1/devices', undefined, readToken)).status, 200);
  const write = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64' }, readToken);
  assert.equal(write.status, 403);
  assert.equal(write.body.error.code, 'WF_API_FORBIDDEN');
});
