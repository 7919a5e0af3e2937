import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { topics } from '../../protocol/topics.js';
import { PAYLOAD_CAPS } from '../../protocol/limits.js';
import { collect, connectDevice, connectService, settle, startTestBroker, subscribeGranted, waitForClose, SHA_A, type TestBroker } from './helpers.js';
import type { TestContext } from 'node:test';

/** Publishes without awaiting an ack that a refused publish never gets; the broker closes the link. */
async function publishExpectingDisconnect(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1): Promise<void> {
  const closed = waitForClose(client);
  client.publish(topic, payload, { qos }, () => undefined);
  await closed;
}

async function observer(t: TestContext, tb: TestBroker) {
  const service = await connectService(t, tb);
  await subscribeGranted(service, [topics.allDevices('reported'), topics.allDevices('results'), topics.allDevices('status')]);
  const b = await connectDevice(t, tb, 'gw-b');
  await subscribeGranted(b, [topics.device('gw-b', 'desired'), topics.allModules]);
  return { seenByService: collect(service), seenByB: collect(b) };
}

test("device A publishing on device B's topics is disconnected and nothing is routed", async (t) => {
  const tb = await startTestBroker(t);
  const { seenByService } = await observer(t, tb);
  for (const [channel, qos] of [['reported', 1], ['results', 0], ['status', 1]] as const) {
    const a = await connectDevice(t, tb, `gw-a-${channel}`);
    await publishExpectingDisconnect(a, topics.device('gw-b', channel), '{}', qos);
  }
  await settle();
  assert.equal(seenByService.length, 0);
  assert.equal(tb.broker.stats().aclPublishRefusals, 3);
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_ACL_PUBLISH_REFUSED');
  assert.equal(line?.topic, topics.device('gw-b', 'reported'));
});

test('a device cannot publish a module or a desired state, not even its own', async (t) => {
  const tb = await startTestBroker(t);
  const { seenByB } = await observer(t, tb);
  const a1 = await connectDevice(t, tb, 'gw-a1');
  await publishExpectingDisconnect(a1, topics.module(SHA_A), '{}', 1);
  const a2 = await connectDevice(t, tb, 'gw-a2');
  await publishExpectingDisconnect(a2, topics.device('gw-a2', 'desired'), '{}', 1);
  const a3 = await connectDevice(t, tb, 'gw-a3');
  await publishExpectingDisconnect(a3, topics.device('gw-b', 'desired'), '{}', 0);
  await settle();
  assert.equal(seenByB.length, 0);
});

test('nobody publishes under $SYS, and the service does not forge device reports', async (t) => {
  const tb = await startTestBroker(t);
  const a = await connectDevice(t, tb, 'gw-a');
  await publishExpectingDisconnect(a, '$SYS/fake/heartbeat', 'x', 0);
  const service = await connectService(t, tb);
  await publishExpectingDisconnect(service, topics.device('gw-a', 'reported'), '{}', 1);
  assert.equal(tb.broker.stats().aclPublishRefusals, 2);
});

test('a device publishes on its own topics', async (t) => {
  const tb = await startTestBroker(t);
  const { seenByService } = await observer(t, tb);
  const a = await connectDevice(t, tb, 'gw-a');
  await a.publishAsync(topics.device('gw-a', 'reported'), '{"r":1}', { qos: 1, retain: true });
  await a.publishAsync(topics.device('gw-a', 'results'), '{"x":1}', { qos: 1 });
  await a.publishAsync(topics.device('gw-a', 'status'), '{"s":1}', { qos: 1, retain: true });
  await settle();
  assert.deepEqual(seenByService.map((m) => m.topic).sort(), [
    topics.device('gw-a', 'reported'),
    topics.device('gw-a', 'results'),
    topics.device('gw-a', 'status'),
  ]);
  assert.ok(a.connected);
});

test('[WF-P-CAP-1] a payload over its topic cap is refused and counted', async (t) => {
  const tb = await startTestBroker(t);
  const { seenByService } = await observer(t, tb);
  const a = await connectDevice(t, tb, 'gw-a');
  await a.publishAsync(topics.device('gw-a', 'status'), Buffer.alloc(PAYLOAD_CAPS.status, 0x20), { qos: 1 });
  await publishExpectingDisconnect(a, topics.device('gw-a', 'status'), Buffer.alloc(PAYLOAD_CAPS.status + 1, 0x20), 1);
  await settle();
  assert.equal(seenByService.length, 1, 'only the payload at the cap was routed');
  assert.equal(tb.broker.stats().payloadCapRefusals, 1);
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_PAYLOAD_TOO_LARGE');
  assert.equal(line?.cap, PAYLOAD_CAPS.status);
});
