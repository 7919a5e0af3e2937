import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, SERVICE_USERNAME, topics } from '../../protocol/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { createFleetApi } from '../../fleet-api/index.js';
import { collect, connectClient, startApi, startBroker, waitFor } from './helpers/harness.js';
import { provision, upload } from './helpers/fleet.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

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

test("the link's connection attempts wait for a slow CONNACK longer than listen() waits", async (t) => {
  const broker = await startBroker(t, async () => true);
  // A broker slow to answer, as one busy with a large rollout: everything it sends on a
  // connection waits 1.5 s before it is passed on, past the 300 ms listen() waits.
  const proxy = createServer((inbound) => {
    const outbound = createConnection({ host: '127.0.0.1', port: Number(new URL(broker.url).port) });
    let held: Promise<void> | undefined;
    outbound.on('data', (chunk: Buffer) => {
      held ??= new Promise((resolve) => setTimeout(resolve, 1500));
      void held.then(() => inbound.destroyed || inbound.write(chunk));
    });
    inbound.pipe(outbound);
    const end = () => (inbound.destroy(), outbound.destroy());
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const dir = mkdtempSync(join(tmpdir(), 'wf-link-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const api = await createFleetApi(
    {
      dbPath: join(dir, 'fleet.db'),
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { url: `mqtt://127.0.0.1:${(proxy.address() as AddressInfo).port}`, password: 'test-service-password', connectTimeoutMs: 300 },
      jobs: { enabled: false },
    },
    { logger: silentLogger },
  );
  t.after(() => api.close());
  await api.listen();
  // listen() went on degraded after its 300 ms; the attempt it started still gets its CONNACK.
  await waitFor(() => api.link.connected, 10_000, 'the link connected through the slow broker');
  assert.equal(api.link.counters().connects, 1);
});

test('a reconnect to a broker that kept the session sends again only what the link could not publish', async (t) => {
  const broker = await startBroker(t, async () => true);
  const proxy = await startTcpProxy(t, { port: Number(new URL(broker.url).port) });
  // A fixed client id, as the platform runs it: the broker keeps the link's session while it is away.
  const h = await startApi(t, { options: { mqtt: { url: proxy.url, password: 'test-service-password', connectTimeoutMs: 3000, clientId: 'wf-fleet-api-test' } } });
  await h.api.listen();
  await provision(h, 'gw-01');
  await provision(h, 'gw-02');
  await upload(h, 'ema', '1.0.0');
  const created = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01', 'gw-02'] }, strategy: { canary: 0, soakSeconds: 0 } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const reader = await connectClient(t, broker.url, 'reader', 'x');
  const first = await collect(reader, topics.device('gw-01', 'desired'));
  const second = await collect(reader, topics.device('gw-02', 'desired'));
  await waitFor(() => first.length === 1 && second.length === 1, 3000, 'both retained desired states');

  proxy.cut();
  await waitFor(() => !h.api.link.connected, 5000, 'the link down');
  // While the link is down gw-02's desired state cannot be published: it is stale.
  assert.equal(await h.api.link.publishDesired('gw-02'), false);
  const before = h.api.link.counters();
  proxy.restore();
  await waitFor(() => second.length === 2, 10_000, "gw-02's desired state sent again after the reconnect");
  const after = h.api.link.counters();
  assert.equal(after.connects, before.connects + 1);
  assert.equal(after.resyncs, before.resyncs, 'no full re-derive: the broker kept the session and its retained messages');
  assert.equal(first.length, 1, "gw-01's retained desired state was not sent again");
  const resent = decodePayload('desired', second[1]!.payload);
  assert.ok(resent.ok);
  assert.equal(resent.value.revision, 1);
});
