/**
 * The MQTT bridge source against a real Aedes broker on port 0 and a real mqtt.js publisher,
 * with Zigbee2MQTT-shaped payloads: the JSON field path picks the value; payloads without it,
 * not JSON, or over the size cap are counted and ignored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSource } from '../../device-agent/sources/index.js';
import { connectClient, startBroker, until } from './helpers.js';
import { drain, sourceConfig } from './source-helpers.js';

test('zigbee2mqtt JSON payloads: the field path picks the value, bad payloads are counted', async (t) => {
  const broker = await startBroker(t);
  const source = await createSource(sourceConfig({ kind: 'mqtt', id: 'zigbee', url: broker.url, topics: ['zigbee2mqtt/+'], parse: { format: 'json', field: 'temperature' }, maxPayloadBytes: 256 }));
  t.after(() => source.stop());
  const subscribed = new Promise<void>((resolve) => broker.aedes.on('subscribe', (subs) => subs.some((s) => s.topic === 'zigbee2mqtt/+') && resolve()));
  source.start(Date.now());
  await subscribed;

  const bridge = await connectClient(t, broker.url, 'zigbee2mqtt-bridge');
  const publish = (topic: string, payload: string) => bridge.publishAsync(topic, payload, { qos: 1 });
  await publish('zigbee2mqtt/greenhouse', '{"battery":97,"humidity":48.1,"linkquality":134,"temperature":22.65,"voltage":2985}');
  await publish('zigbee2mqtt/greenhouse', '{"battery":97,"linkquality":120}'); // no temperature: counted
  await publish('zigbee2mqtt/shed', 'not json');
  await publish('zigbee2mqtt/shed', JSON.stringify({ temperature: 1, pad: 'x'.repeat(300) })); // over the cap
  await publish('zigbee2mqtt/shed', '{"temperature":-3.5}');
  await publish('zigbee2mqtt/bridge/state', '{"state":"online"}'); // not matched by the filter's one level
  await publish('other/topic', '{"temperature":99}');

  const values: number[] = [];
  await until(() => (values.push(...drain(source)), values.length >= 2 && (source.stats?.().badInput ?? 0) >= 3), 5000, 'two samples and three bad payloads');
  assert.deepEqual(values, [22.65, -3.5]);
  assert.equal(source.stats?.().badInput, 3);
  assert.equal(source.stats?.().accepted, 2);
});

test('an unreachable bridge broker is retried, never fatal', async (t) => {
  const source = await createSource(sourceConfig({ kind: 'mqtt', id: 'zigbee', url: 'mqtt://127.0.0.1:1', topics: ['zigbee2mqtt/+'] }));
  source.start(Date.now());
  t.after(() => source.stop());
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(source.take(Date.now(), 10), undefined);
});
