import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { connectDevice, connectService, settle, startTestBroker, subscribeGranted, waitForClose } from './helpers.js';

const deep = (levels: number) => Array.from({ length: levels }, (_, i) => `l${i}`).join('/');

test('a subscription deeper than maxTopicDepth gets 0x80, is counted, and the connection stays', async (t) => {
  const tb = await startTestBroker(t, { maxTopicDepth: 8 });
  const service = await connectService(t, tb);
  const granted = await subscribeGranted(service, [deep(9), topics.allModules]);
  assert.deepEqual(granted, [0x80, 1]);
  await settle(50);
  assert.ok(service.connected);
  assert.equal(tb.broker.stats().topicDepthRefusals, 1);
  assert.equal(tb.broker.stats().aclSubscribeRefusals, 0, 'depth is judged before the ACL');
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_TOPIC_TOO_DEEP');
  assert.equal(line?.topic, deep(9));
});

test('a publish deeper than maxTopicDepth closes the connection and is counted', async (t) => {
  const tb = await startTestBroker(t, { maxTopicDepth: 8 });
  const device = await connectDevice(t, tb, 'gw-1');
  const closed = waitForClose(device);
  device.publish(deep(9), '{}', { qos: 1 }, () => undefined);
  await closed;
  assert.equal(tb.broker.stats().topicDepthRefusals, 1);
  assert.equal(tb.broker.stats().aclPublishRefusals, 0);
});

test("a topic beyond Aedes' own ceiling (100 levels) is counted too", async (t) => {
  const tb = await startTestBroker(t);
  const device = await connectDevice(t, tb, 'gw-1');
  const closed = waitForClose(device);
  device.publish(deep(101), '{}', { qos: 0 });
  await closed;
  assert.equal(tb.broker.stats().topicDepthRefusals, 1);
});

test('protocol topics at the default depth are unaffected', async (t) => {
  const tb = await startTestBroker(t);
  const device = await connectDevice(t, tb, 'gw-1');
  await device.publishAsync(topics.device('gw-1', 'results'), '{}', { qos: 1 });
  assert.equal(tb.broker.stats().topicDepthRefusals, 0);
});
