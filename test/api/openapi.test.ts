import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './helpers/harness.js';

const ROUTES = [
  'get /api/v1/health',
  'get /api/v1/jobs',
  'post /api/v1/devices',
  'get /api/v1/devices',
  'get /api/v1/devices/{id}',
  'delete /api/v1/devices/{id}',
  'get /api/v1/devices/{id}/results',
  'post /api/v1/modules',
  'get /api/v1/modules',
  'get /api/v1/modules/{name}/{version}',
  'post /api/v1/deployments',
  'get /api/v1/deployments',
  'get /api/v1/deployments/{id}',
  'post /api/v1/devices/{id}/credentials/rotate',
  'post /api/v1/tokens',
  'get /api/v1/tokens',
  'delete /api/v1/tokens/{id}',
  'get /api/v1/audit',
  'get /api/v1/keys',
  'post /api/v1/keys',
  'delete /api/v1/keys/{keyId}',
  'delete /api/v1/modules/{name}/{version}',
  'post /api/v1/keys/fleet/rotate',
  'put /api/v1/keys/trusted',
  'post /api/v1/deployments/{id}/{action}',
  'get /api/v1/devices/{id}/deployments',
  'patch /api/v1/devices/{id}',
  'post /api/v1/devices/batch',
  'get /api/v1/whoami',
  'get /api/v1/fleet/summary',
  'get /api/v1/results/aggregate',
  'get /api/v1/events',
  'post /api/v1/hubs',
  'get /api/v1/hubs',
  'get /api/v1/hubs/{id}',
  'delete /api/v1/hubs/{id}',
  'post /api/v1/hubs/{id}/credentials/rotate',
];

test('GET /openapi.json serves an OpenAPI 3 document listing every route', async (t) => {
  const { call, api } = await startApi(t);
  const res = await call('GET', '/openapi.json', undefined, null);
  assert.equal(res.status, 200);
  const doc = res.body;
  assert.match(doc.openapi, /^3\./);
  const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
  assert.deepEqual(listed.sort(), [...ROUTES].sort());
  assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  assert.deepEqual(doc.paths['/api/v1/health'].get.security, [], 'health is documented as public');
  assert.ok(doc.paths['/api/v1/devices'].post.requestBody, 'request bodies are documented');
  // Every registered route is documented: compare against Fastify's own table.
  const registered = api.app.printRoutes({ commonPrefix: false });
  for (const route of ROUTES) {
    const path = route.split(' ')[1]!.replace(/\{(\w+)\}/g, ':$1');
    assert.ok(registered.includes(path.split('/').pop()!), `${route} is registered`);
  }
});
