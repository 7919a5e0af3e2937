/**
 * The hub in process between a real upstream broker (where the test plays the API) and real
 * devices: admission from the site document, down relay (byte for byte, one module copy per
 * site, served from disk after a restart with the uplink cut), up relay through custody.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { hubClientId, hubTopics } from '../../protocol/hubs.js';
import { decodePayload, encodePayload, topics, type ResultsAck } from '../../protocol/index.js';
import { startAgent } from '../../device-agent/agent.js';
import { silentLogger } from '../../common/logger.js';
import { collect, desiredModuleOf, desiredState, envelopeOf, exampleModule, testTrust, until } from '../agent/helpers.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { connectCode, connectDevice, onCleanup, resultBatch, siteDocument, startTestHub, startUpstream, tempDir } from './helpers.js';

const HUB = 'north';
const siteTopic = hubTopics.hub(HUB, 'site');

async function central(t: { after: (fn: () => unknown) => void }, url: string) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `central-${Math.random().toString(16).slice(2)}`, clean: true, reconnectPeriod: 0 });
  onCleanup(t, () => client.endAsync(true));
  return client;
}

test('devices are admitted from the site document, refused when dropped (their connection closed), and still admitted from disk after a restart with no uplink', async (t) => {
  const upstream = await startUpstream(t);
  const api = await central(t, upstream.url);
  const dataDir = tempDir(t);
  const hub = await startTestHub(t, { upstreamUrl: upstream.url, dataDir });
  const devices = [
    { deviceId: 'gw-a', secret: 'dev_a' },
    { deviceId: 'gw-b', secret: 'dev_b' },
    { deviceId: 'gw-c', secret: 'dev_c', via: 'child' },
  ];
  assert.equal(await connectCode(hub.broker.url, 'gw-a', 'dev_a'), 4, 'refused before any site document');
  await api.publishAsync(siteTopic, JSON.stringify(siteDocument(HUB, 1, devices)), { qos: 1, retain: true });
  await waitFor('site revision 1', () => (hub.siteRevision() === 1 ? true : undefined));
  assert.equal(await connectCode(hub.broker.url, 'gw-a', 'dev_a'), 0);
  assert.equal(await connectCode(hub.broker.url, 'gw-a', 'wrong'), 4, 'wrong secret');
  assert.equal(await connectCode(hub.broker.url, 'gw-c', 'dev_c'), 4, 'a device behind a child hub connects there, not here');
  assert.equal(await connectCode(hub.broker.url, 'gw-x', 'dev_x'), 4, 'unknown device');

  const b = await connectDevice(t, hub.broker.url, 'gw-b', 'dev_b');
  const closed = new Promise<void>((resolve) => b.once('close', () => resolve()));
  // An older revision changes nothing; a newer one without gw-b closes its connection.
  await api.publishAsync(siteTopic, JSON.stringify(siteDocument(HUB, 1, devices.slice(0, 1))), { qos: 1, retain: true });
  await api.publishAsync(siteTopic, JSON.stringify(siteDocument(HUB, 2, devices.slice(0, 1))), { qos: 1, retain: true });
  await closed;
  assert.equal(hub.siteRevision(), 2);
  assert.equal(await connectCode(hub.broker.url, 'gw-b', 'dev_b'), 4, 'dropped device refused');

  // Restart with the upstream gone: the site on disk still admits gw-a and refuses gw-b.
  await hub.close();
  await upstream.close();
  const again = await startTestHub(t, { upstreamUrl: upstream.url, dataDir });
  assert.equal(again.siteRevision(), 2);
  assert.equal(again.uplinkConnected, false);
  assert.equal(await connectCode(again.broker.url, 'gw-a', 'dev_a'), 0);
  assert.equal(await connectCode(again.broker.url, 'gw-b', 'dev_b'), 4);
});

test('desired states and their modules come down once per site, byte for byte; a real agent applies them through the hub, and again from the hub alone after a restart with the uplink cut', async (t) => {
  const upstream = await startUpstream(t);
  const proxy = await startTcpProxy(t, { port: upstream.port });
  const api = await central(t, upstream.url);
  const dataDir = tempDir(t);
  let hub = await startTestHub(t, { upstreamUrl: proxy.url, dataDir });
  const ema = exampleModule('ema');
  const ids = ['gw-1', 'gw-2', 'gw-3'];
  await api.publishAsync(siteTopic, JSON.stringify(siteDocument(HUB, 1, ids.map((deviceId) => ({ deviceId, secret: `s-${deviceId}` })))), { qos: 1, retain: true });
  const envelope = Buffer.from(JSON.stringify(envelopeOf(ema)));
  await api.publishAsync(topics.module(ema.sha256), envelope, { qos: 1, retain: true });
  const desired = new Map(ids.map((id) => [id, Buffer.from(JSON.stringify(desiredState(id, 1, [desiredModuleOf(ema, { config: { every: 1 }, input: 'temperature' })])))]));
  for (const [id, bytes] of desired) await api.publishAsync(topics.device(id, 'desired'), bytes, { qos: 1, retain: true });
  await waitFor('site revision 1', () => (hub.siteRevision() === 1 ? true : undefined));

  // What a device sees at the hub is exactly what the API retained upstream.
  const device = await connectDevice(t, hub.broker.url, 'gw-2', 's-gw-2');
  assert.deepEqual((await collect(device, topics.device('gw-2', 'desired'), 1))[0], desired.get('gw-2'));
  assert.deepEqual((await collect(device, topics.module(ema.sha256), 1))[0], envelope);
  const moduleSubscriptions = (upstream.subscriptions.get(hubClientId(HUB)) ?? []).filter((topic) => topic === topics.module(ema.sha256));
  assert.equal(moduleSubscriptions.length, 1, 'one module subscription upstream for three devices');

  const agentConfig = { deviceId: 'gw-1', broker: { url: hub.broker.url, username: 'gw-1', password: 's-gw-1' }, profile: 'sim-x86-64', stateDir: tempDir(t), moduleFetchTimeoutMs: 5000, reconnectPeriodMs: 100, reconnectMaxMs: 500, trust: testTrust() };
  let agent = await startAgent(agentConfig, { logger: silentLogger });
  onCleanup(t, () => agent.stop());
  await agent.whenApplied(1, 15_000);
  assert.deepEqual(agent.reportedState().modules.map((m) => [m.name, m.state]), [['ema', 'running']]);
  await agent.stop();

  // Cut the uplink, restart the hub (its broker's retained messages are gone with it) and a
  // fresh agent of gw-1 with an empty state dir: both desired state and module come from the hub's disk.
  proxy.cut();
  const port = hub.broker.port;
  await hub.close();
  hub = await startTestHub(t, { upstreamUrl: proxy.url, dataDir, port });
  assert.equal(hub.uplinkConnected, false);
  agent = await startAgent({ ...agentConfig, stateDir: tempDir(t) }, { logger: silentLogger });
  await agent.whenApplied(1, 15_000);
  assert.deepEqual(agent.reportedState().modules.map((m) => [m.name, m.state]), [['ema', 'running']]);
  await agent.stop();

  // A desired state that names no module any more: the module is dropped from the hub's disk and broker.
  proxy.restore();
  await waitFor('the uplink back', () => (hub.uplinkConnected ? true : undefined), 10_000);
  for (const id of ids) await api.publishAsync(topics.device(id, 'desired'), JSON.stringify(desiredState(id, 2, [])), { qos: 1, retain: true });
  const watcher = await connectDevice(t, hub.broker.url, 'gw-3', 's-gw-3');
  await waitFor('the module dropped at the hub', async () => {
    const got = await collect(watcher, topics.module(ema.sha256), 1, 300).catch(() => []);
    await watcher.unsubscribeAsync(topics.module(ema.sha256));
    return got.length === 0 ? true : undefined;
  }, 10_000, 200);
});

test('results: the device is acked once custody holds them, they go upstream unchanged, and the upstream ack empties custody without reaching the device', async (t) => {
  const upstream = await startUpstream(t);
  const proxy = await startTcpProxy(t, { port: upstream.port });
  const api = await central(t, upstream.url);
  const hub = await startTestHub(t, { upstreamUrl: proxy.url, dataDir: tempDir(t) });
  await api.publishAsync(siteTopic, JSON.stringify(siteDocument(HUB, 1, [{ deviceId: 'gw-r', secret: 'r' }])), { qos: 1, retain: true });
  await waitFor('site revision 1', () => (hub.siteRevision() === 1 ? true : undefined));
  await waitFor('the uplink', () => (hub.uplinkConnected ? true : undefined));

  // Custody sends a lone batch on `results` with its exact bytes, several on `spooled`.
  const received: Buffer[] = [];
  const seqsUp: number[] = [];
  await api.subscribeAsync([topics.device('gw-r', 'results'), topics.device('gw-r', 'spooled')], { qos: 1 });
  api.on('message', (topic, payload) => {
    if (topic === topics.device('gw-r', 'results')) {
      received.push(payload);
      seqsUp.push((JSON.parse(payload.toString()) as { seq: number }).seq);
    } else if (topic === topics.device('gw-r', 'spooled')) {
      for (const batch of (JSON.parse(payload.toString()) as { batches: { seq: number }[] }).batches) seqsUp.push(batch.seq);
    }
  });
  const device = await connectDevice(t, hub.broker.url, 'gw-r', 'r');
  const acks: ResultsAck[] = [];
  await device.subscribeAsync(topics.device('gw-r', 'ack'), { qos: 1 });
  device.on('message', (_topic, payload) => {
    const decoded = decodePayload('ack', payload);
    if (decoded.ok) acks.push(decoded.value);
  });

  // Uplink cut: the hub still acks from custody, and holds the batches.
  proxy.cut();
  await waitFor('the uplink down', () => (hub.uplinkConnected ? undefined : true));
  const batches = [1, 2, 3].map((seq) => encodePayload('results', resultBatch('gw-r', seq)));
  for (const batch of batches) await device.publishAsync(topics.device('gw-r', 'results'), batch, { qos: 1 });
  await until(() => acks.length === 3, 10_000, 'three hub acks');
  assert.deepEqual(acks.flatMap((ack) => ack.stored), [[1, 1], [2, 2], [3, 3]]);
  assert.equal(hub.backlog().batches, 3);

  // Restored: they go up unchanged, oldest first; the API's ack empties custody.
  proxy.restore();
  await until(() => seqsUp.length >= 3, 15_000, 'three batches upstream');
  assert.deepEqual(seqsUp.slice(0, 3), [1, 2, 3], 'oldest first');
  for (const payload of received) assert.ok(batches.some((batch) => batch.equals(payload)), 'a lone batch goes up byte for byte');
  assert.equal(hub.backlog().batches, 3, 'held until the API acks');
  await api.publishAsync(topics.device('gw-r', 'ack'), encodePayload('ack', { v: 1, deviceId: 'gw-r', stored: [[1, 3]] }), { qos: 1 });
  await waitFor('custody emptied by the upstream ack', () => (hub.backlog().batches === 0 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(acks.length, 3, 'the upstream ack never reaches the device');
});

test('HubStatus goes up retained when the uplink comes up, and the will says offline when it is cut', async (t) => {
  const upstream = await startUpstream(t);
  const proxy = await startTcpProxy(t, { port: upstream.port });
  const api = await central(t, upstream.url);
  await startTestHub(t, { upstreamUrl: proxy.url, dataDir: tempDir(t) });
  const statuses: { state: string; siteRevision: number }[] = [];
  api.on('message', (topic, payload) => {
    if (topic !== hubTopics.hub(HUB, 'status')) return;
    statuses.push(JSON.parse(payload.toString()) as { state: string; siteRevision: number });
  });
  await api.subscribeAsync(hubTopics.hub(HUB, 'status'), { qos: 1 });
  await until(() => statuses.at(-1)?.state === 'online', 10_000, 'online status');
  await api.publishAsync(siteTopic, JSON.stringify(siteDocument(HUB, 3, [])), { qos: 1, retain: true });
  await until(() => statuses.at(-1)?.siteRevision === 3, 10_000, 'status with the new site revision');
  proxy.cut();
  await until(() => statuses.at(-1)?.state === 'offline', 20_000, 'the will');
});
