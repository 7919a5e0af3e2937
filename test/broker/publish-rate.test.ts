import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { waitFor } from '../helpers/wait.js';
import { TokenBucket } from '../../broker/rate-limit.js';
import { collect, connectDevice, connectService, settle, startTestBroker, subscribeGranted, waitForClose } from './helpers.js';

test('a token bucket allows its burst, then its rate, and refusals take no token', () => {
  let now = 0;
  const bucket = new TokenBucket(2, 3, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
  now += 499;
  assert.equal(bucket.take(), false);
  now += 1;
  assert.equal(bucket.take(), true);
  now += 10_000;
  assert.ok(bucket.full());
  assert.ok(new TokenBucket(0, 1, () => now).take() && new TokenBucket(0, 1, () => now).full(), 'rate 0 = no limit');
});

test('QoS 0 over the publish rate is dropped and counted; the connection stays', async (t) => {
  const tb = await startTestBroker(t, { publishRatePerSec: 1, publishBurst: 5 });
  const service = await connectService(t, tb);
  await subscribeGranted(service, [topics.allDevices('results')]);
  const seen = collect(service);
  const device = await connectDevice(t, tb, 'gw-1');
  for (let i = 0; i < 20; i += 1) device.publish(topics.device('gw-1', 'results'), `{"n":${i}}`, { qos: 0 });
  const stats = await waitFor('drops counted', () => {
    const s = tb.broker.stats();
    return s.publishRateDrops + s.messagesPublished >= 20 ? s : undefined;
  }, 3000);
  await settle(100);
  assert.ok(device.connected, 'QoS 0 over the rate does not close');
  assert.ok(seen.length >= 5 && seen.length <= 6, `routed ${seen.length}`);
  assert.equal(stats.publishRateDrops, 20 - seen.length);
  assert.equal(stats.publishRateDisconnects, 0);
});

test('QoS 1 over the publish rate closes the connection unacknowledged, counted and logged', async (t) => {
  const tb = await startTestBroker(t, { publishRatePerSec: 1, publishBurst: 3 });
  const device = await connectDevice(t, tb, 'gw-1');
  for (let i = 0; i < 3; i += 1) await device.publishAsync(topics.device('gw-1', 'results'), '{}', { qos: 1 });
  const closed = waitForClose(device);
  let acked = false;
  device.publish(topics.device('gw-1', 'results'), '{}', { qos: 1 }, (error) => {
    if (!error) acked = true;
  });
  await closed;
  assert.equal(acked, false);
  assert.equal(tb.broker.stats().publishRateDisconnects, 1);
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_PUBLISH_RATE_LIMITED');
  assert.equal(line?.clientId, 'gw-1');
  assert.equal(line?.qos, 1);
});

test("a well-behaved device is unaffected by another device's flood", async (t) => {
  const tb = await startTestBroker(t, { publishRatePerSec: 1, publishBurst: 3 });
  const noisy = await connectDevice(t, tb, 'gw-noisy');
  const quiet = await connectDevice(t, tb, 'gw-quiet');
  for (let i = 0; i < 30; i += 1) noisy.publish(topics.device('gw-noisy', 'results'), '{}', { qos: 0 });
  for (let i = 0; i < 3; i += 1) await quiet.publishAsync(topics.device('gw-quiet', 'results'), '{}', { qos: 1 });
  assert.ok(quiet.connected);
  await waitFor('noisy drops', () => (tb.broker.stats().publishRateDrops >= 27 ? true : undefined), 3000);
});

test('the service account is exempt by default and limited only by its own options', async (t) => {
  const tb = await startTestBroker(t, { publishRatePerSec: 1, publishBurst: 1 });
  const service = await connectService(t, tb);
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => service.publishAsync(topics.device(`gw-${i}`, 'desired'), '{}', { qos: 1, retain: true })),
  );
  assert.equal(tb.broker.stats().publishRateDisconnects, 0);

  const limited = await startTestBroker(t, { servicePublishRatePerSec: 1, servicePublishBurst: 2 });
  const service2 = await connectService(t, limited);
  await service2.publishAsync(topics.device('gw-1', 'desired'), '{}', { qos: 1 });
  await service2.publishAsync(topics.device('gw-2', 'desired'), '{}', { qos: 1 });
  const closed = waitForClose(service2);
  service2.publish(topics.device('gw-3', 'desired'), '{}', { qos: 1 }, () => undefined);
  await closed;
  assert.equal(limited.broker.stats().publishRateDisconnects, 1);
});
