import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { collect, connectDevice, connectService, settle, startTestBroker, subscribeGranted, SHA_A } from './helpers.js';

test("device A's subscriptions to device B's topics get SUBACK 0x80 and the connection stays up", async (t) => {
  const tb = await startTestBroker(t);
  const a = await connectDevice(t, tb, 'gw-a');
  const refused = [
    topics.device('gw-b', 'desired'),
    topics.device('gw-b', 'results'),
    topics.allDevices('desired'),
    'wf/v1/#',
    '#',
  ];
  assert.deepEqual(await subscribeGranted(a, refused), refused.map(() => 0x80));
  assert.ok(a.connected);
  assert.deepEqual(await subscribeGranted(a, [topics.device('gw-a', 'desired'), topics.allModules, topics.module(SHA_A)]), [1, 1, 1]);
  assert.equal(tb.broker.stats().aclSubscribeRefusals, refused.length);
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_ACL_SUBSCRIBE_REFUSED');
  assert.equal(line?.clientId, 'gw-a');
});

test("device A receives nothing meant for device B, even after trying to subscribe", async (t) => {
  const tb = await startTestBroker(t);
  const a = await connectDevice(t, tb, 'gw-a');
  const b = await connectDevice(t, tb, 'gw-b');
  const service = await connectService(t, tb);
  const seenByA = collect(a);
  const seenByB = collect(b);
  await subscribeGranted(a, [topics.device('gw-b', 'desired'), '#']);
  await subscribeGranted(b, [topics.device('gw-b', 'desired')]);
  await subscribeGranted(service, [topics.allDevices('results')]);

  await service.publishAsync(topics.device('gw-b', 'desired'), '{"for":"b"}', { qos: 1 });
  await b.publishAsync(topics.device('gw-b', 'results'), '{"from":"b"}', { qos: 1 });
  await settle();
  assert.equal(seenByA.length, 0);
  assert.deepEqual(seenByB.map((m) => m.topic), [topics.device('gw-b', 'desired')]);
});

test('a device asking for the service wildcards is refused', async (t) => {
  const tb = await startTestBroker(t);
  const a = await connectDevice(t, tb, 'gw-a');
  assert.deepEqual(
    await subscribeGranted(a, [topics.allDevices('reported'), topics.allDevices('status'), topics.allDevices('results')]),
    [0x80, 0x80, 0x80],
  );
});
