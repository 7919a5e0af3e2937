/**
 * Request body limits: a small default for every route, a larger one for the routes marked
 * `body: 'large'` in http/route-roles.ts (module uploads, deployments). Over the limit is a 413
 * WF_API_PAYLOAD_TOO_LARGE that names the limit, the route and the option to raise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './helpers/harness.js';
import { abiModule, manifestFor, toBase64 } from './helpers/wasm.js';

test('by default a device body over 64 KiB is refused with 413 naming the limit, route and option', async (t) => {
  const { call } = await startApi(t);
  const res = await call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64', pad: 'y'.repeat(70 * 1024) });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, 'WF_API_PAYLOAD_TOO_LARGE');
  assert.equal(res.body.error.field, 'body');
  assert.equal(res.body.error.message, 'request body exceeds the 65536-byte limit of POST /api/v1/devices (bodyLimitBytes)');
  // Nothing was created.
  assert.deepEqual((await call('GET', '/api/v1/devices')).body.devices, []);
  // Token bodies have the same small limit.
  const token = await call('POST', '/api/v1/tokens', { name: 'x', role: 'viewer', pad: 'z'.repeat(70 * 1024) });
  assert.equal(token.status, 413);
  // Refused attempts by a valid token are audited.
  const failed = (await call('GET', '/api/v1/audit?failed=true')).body.entries;
  assert.deepEqual(failed.map((e: { action: string; status: number }) => [e.action, e.status]), [['token.create', 413], ['device.create', 413]]);
});

test('module uploads get the large limit: a 1 MiB upload passes the body check, one over largeBodyLimitBytes is a 413', async (t) => {
  const { call } = await startApi(t, { options: { largeBodyLimitBytes: 2 * 1024 * 1024 } });
  const padded = { manifest: manifestFor('big', '1.0.0'), wasm: toBase64(abiModule({ label: 'x'.repeat(768 * 1024) })) };
  assert.ok(JSON.stringify(padded).length > 1024 * 1024);
  const accepted = await call('POST', '/api/v1/modules', padded);
  assert.notEqual(accepted.status, 413, JSON.stringify(accepted.body).slice(0, 300));
  const huge = { manifest: manifestFor('huge', '1.0.0'), wasm: 'A'.repeat(2 * 1024 * 1024 + 16) };
  const refused = await call('POST', '/api/v1/modules', huge);
  assert.equal(refused.status, 413);
  assert.equal(refused.body.error.code, 'WF_API_PAYLOAD_TOO_LARGE');
  assert.equal(refused.body.error.message, 'request body exceeds the 2097152-byte limit of POST /api/v1/modules (largeBodyLimitBytes)');
});

test('a deployment naming thousands of devices is over the small limit but within the large one', async (t) => {
  const { call } = await startApi(t);
  const devices = Array.from({ length: 3000 }, (_, i) => `gateway-${String(i).padStart(6, '0')}-north-site`);
  const body = { module: 'ema', version: '1.0.0', target: { devices } };
  assert.ok(JSON.stringify(body).length > 64 * 1024);
  const res = await call('POST', '/api/v1/deployments', body);
  // Past the body limit: the module does not exist, so the handler answers.
  assert.notEqual(res.status, 413);
  assert.equal(res.body.error.code, 'WF_API_NOT_FOUND');
});
