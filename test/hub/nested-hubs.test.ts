/**
 * Two levels (issue 14 §7): upstream broker → hub north → hub line2 → device gw-9. Hub line2
 * authenticates at north from north's site document (`hubs`, `parent`), gets its own site
 * document through north, and serves gw-9's desired state and module byte for byte; gw-9's
 * results go up through both custodies and each lets go only on the ack from above.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { hashSecretSync } from '../../common/secrets.js';
import { hubTopics, type HubSite } from '../../protocol/hubs.js';
import { decodePayload, encodePayload, topics, PROTOCOL_VERSION } from '../../protocol/index.js';
import { collect, desiredModuleOf, desiredState, envelopeOf, exampleModule } from '../agent/helpers.js';
import { waitFor } from '../helpers/wait.js';
import { connectCode, connectDevice, onCleanup, resultBatch, siteDocument, startTestHub, startUpstream, tempDir } from './helpers.js';

test('a device behind hub line2 behind hub north gets its desired state and module, and its results reach the top through both custodies', async (t) => {
  const upstream = await startUpstream(t);
  const api = await mqtt.connectAsync(upstream.url, { protocolVersion: 4, clientId: 'central', clean: true, reconnectPeriod: 0 });
  onCleanup(t, () => api.endAsync(true));
  const northSite: HubSite = {
    ...siteDocument('north', 1, [{ deviceId: 'gw-9', secret: 's9', via: 'line2' }]),
    hubs: [{ hubId: 'line2', parent: 'north', current: hashSecretSync('line2-secret') }],
  };
  await api.publishAsync(hubTopics.hub('north', 'site'), JSON.stringify(northSite), { qos: 1, retain: true });
  await api.publishAsync(hubTopics.hub('line2', 'site'), JSON.stringify(siteDocument('line2', 1, [{ deviceId: 'gw-9', secret: 's9' }])), { qos: 1, retain: true });
  const north = await startTestHub(t, { hubId: 'north', upstreamUrl: upstream.url, dataDir: tempDir(t) });
  await waitFor('north site', () => (north.siteRevision() === 1 ? true : undefined));
  assert.equal(await connectCode(north.broker.url, 'gw-9', 's9'), 4, 'gw-9 connects to line2, not to north');
  const line2 = await startTestHub(t, { hubId: 'line2', secret: 'line2-secret', upstreamUrl: north.broker.url, dataDir: tempDir(t) });
  await waitFor('line2 gets its site document through north', () => (line2.siteRevision() === 1 ? true : undefined), 10_000);

  const ema = exampleModule('ema');
  const envelope = Buffer.from(JSON.stringify(envelopeOf(ema)));
  const desired = Buffer.from(JSON.stringify(desiredState('gw-9', 1, [desiredModuleOf(ema, { input: 'temperature' })])));
  await api.publishAsync(topics.module(ema.sha256), envelope, { qos: 1, retain: true });
  await api.publishAsync(topics.device('gw-9', 'desired'), desired, { qos: 1, retain: true });
  const device = await connectDevice(t, line2.broker.url, 'gw-9', 's9');
  assert.deepEqual((await collect(device, topics.device('gw-9', 'desired'), 1, 15_000))[0], desired);
  assert.deepEqual((await collect(device, topics.module(ema.sha256), 1, 15_000))[0], envelope);

  // Results: acked by line2, forwarded to north (acked there from north's custody), then to the top.
  const seqsAtTop: number[] = [];
  await api.subscribeAsync([topics.device('gw-9', 'results'), topics.device('gw-9', 'spooled')], { qos: 1 });
  api.on('message', (topic, payload) => {
    if (topic === topics.device('gw-9', 'results')) seqsAtTop.push((JSON.parse(payload.toString()) as { seq: number }).seq);
    if (topic === topics.device('gw-9', 'spooled')) for (const batch of (JSON.parse(payload.toString()) as { batches: { seq: number }[] }).batches) seqsAtTop.push(batch.seq);
  });
  const acks: number[] = [];
  await device.subscribeAsync(topics.device('gw-9', 'ack'), { qos: 1 });
  device.on('message', (topic, payload) => {
    const decoded = decodePayload('ack', payload);
    if (topic === topics.device('gw-9', 'ack') && decoded.ok) acks.push(...decoded.value.stored.map(([first]) => first));
  });
  for (const seq of [1, 2]) await device.publishAsync(topics.device('gw-9', 'results'), encodePayload('results', resultBatch('gw-9', seq)), { qos: 1 });
  await waitFor('both batches at the top', () => (seqsAtTop.includes(1) && seqsAtTop.includes(2) ? true : undefined), 20_000);
  await waitFor('line2 acked the device', () => (acks.includes(1) && acks.includes(2) ? true : undefined));
  await waitFor('line2 custody emptied by north\'s acks', () => (line2.backlog().batches === 0 ? true : undefined), 20_000);
  assert.equal(north.backlog().batches, 2, 'north holds them until the top acks');
  await api.publishAsync(topics.device('gw-9', 'ack'), encodePayload('ack', { v: PROTOCOL_VERSION, deviceId: 'gw-9', stored: [[1, 2]] }), { qos: 1 });
  await waitFor('north custody emptied by the top\'s ack', () => (north.backlog().batches === 0 ? true : undefined), 10_000);

  // line2's status reaches the top through north.
  const statuses = await collect(api, hubTopics.hub('line2', 'status'), 1, 15_000);
  assert.equal((JSON.parse(statuses[0]!.toString()) as { state: string }).state, 'online');
});
