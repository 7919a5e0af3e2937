import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './helpers/harness.js';

test('a body failing its schema is a 400 WF_API_VALIDATION naming the field', async (t) => {
  const { call } = await startApi(t);
  const bad = await call('POST', '/api/v1/devices', { id: 'Bad/Id', profile: 'sim-x86-64' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'WF_API_VALIDATION');
  assert.equal(bad.body.error.field, 'body/id');
  assert.match(bad.body.error.message, /^body\/id: must match pattern/);
});

test('a missing required property is named with its path', async (t) => {
  const { call } = await startApi(t);
  const missing = await call('POST', '/api/v1/devices', { id: 'gw-01' });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.field, 'body/profile');
  assert.equal(missing.body.error.message, 'body/profile: is required');
});

test('unknown properties are refused, not silently dropped', async (t) => {
  const { call } = await startApi(t);
  const extra = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64', colour: 'red' });
  assert.equal(extra.status, 400);
  assert.equal(extra.body.error.field, 'body/colour');
});

test('nested fields, params and querystrings are named too', async (t) => {
  const { call } = await startApi(t);
  const tag = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64', tags: { Site: 'north' } });
  assert.equal(tag.status, 400);
  assert.equal(tag.body.error.field, 'body/tags/Site');
  const target = await call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['UPPER'] } });
  assert.equal(target.body.error.field, 'body/target/devices/0');
  const param = await call('GET', '/api/v1/devices/NOPE');
  assert.equal(param.status, 400);
  assert.equal(param.body.error.field, 'params/id');
  const query = await call('GET', '/api/v1/devices?online=maybe');
  assert.equal(query.status, 400);
  assert.equal(query.body.error.field, 'querystring/online');
  const limit = await call('GET', '/api/v1/devices/gw-01/results?limit=5000');
  assert.equal(limit.body.error.field, 'querystring/limit');
});

test('an unknown firmware profile is a validation error listing the known ones', async (t) => {
  const { call } = await startApi(t);
  const res = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'toaster' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'body/profile');
  assert.match(res.body.error.message, /sim-x86-64/);
});

test('malformed JSON and unknown routes answer in the same error shape', async (t) => {
  const { api, token } = await startApi(t);
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/v1/devices',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: '{"id": ',
  });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error.code, 'WF_API_VALIDATION');
  const missing = await api.app.inject({ method: 'GET', url: '/api/v1/nothing', headers: { authorization: `Bearer ${token}` } });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().error.code, 'WF_API_ROUTE_NOT_FOUND');
});

test('a body over bodyLimitBytes is a 413', async (t) => {
  const { call } = await startApi(t, { options: { bodyLimitBytes: 2048 } });
  const res = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64', tags: { note: 'x'.repeat(60) }, pad: 'y'.repeat(4096) });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, 'WF_API_PAYLOAD_TOO_LARGE');
  assert.equal(res.body.error.message, 'request body exceeds the 2048-byte limit of POST /api/v1/devices (bodyLimitBytes)');
});
