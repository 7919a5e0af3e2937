import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, SERVICE_USERNAME, topics } from '../../protocol/index.js';
import { collect, connectClient, startApi, waitFor } from './helpers/harness.js';
import { provision, upload } from './helpers/fleet.js';

test('on (re)connect the link re-derives every retained module and desired state from SQLite', async (t) => {
  const h = await startApi(t, { live: true });
  await provision(h, 'gw-01');
  const module = await upload(h, 'ema', '1.0.0');
  await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01'] } });
  // Wipe the broker's retained copies, as a broker restart without persistence would.
  const admin = await connectClient(t, h.broker!.url, SERVICE_USERNAME, 'test-service-password');
  await admin.publishAsync(topics.device('gw-01', 'desired'), Buffer.alloc(0), { qos: 1, retain: true });
  await admin.publishAsync(topics.module(module.sha256), Buffer.alloc(0), { qos: 1, retain: true });
  const resyncs = h.api.link.counters().resyncs;
  await h.api.link.resync();
  assert.equal(h.api.link.counters().resyncs, resyncs + 1);

  const reader = await connectClient(t, h.broker!.url, SERVICE_USERNAME, 'test-service-password');
  const desired = await collect(reader, topics.device('gw-01', 'desired'));
  const modules = await collect(reader, topics.module(module.sha256));
  await waitFor(() => desired.length > 0 && modules.length > 0, 3000, 'retained messages');
  const state = decodePayload('desired', desired[0]!.payload);
  assert.ok(state.ok);
  assert.equal(state.value.revision, 1);
  assert.ok(decodePayload('module', modules[0]!.payload).ok);
});

test('the link reports its state in health and uses the service account', async (t) => {
  const h = await startApi(t, { live: true });
  const health = await h.call('GET', '/api/v1/health', undefined, null);
  assert.equal(health.body.mqtt, 'connected');
  assert.match(h.api.link.clientId, /^wf-fleet-api-[0-9a-f]+$/);
  assert.ok(h.api.link.counters().connects >= 1);
});
