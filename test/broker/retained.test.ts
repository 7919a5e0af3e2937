import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { waitFor } from '../helpers/wait.js';
import { collect, connectDevice, connectService, startTestBroker, subscribeGranted, SHA_A } from './helpers.js';

test('[WF-P-T-2] a desired state retained by the service reaches a device that connects later', async (t) => {
  const tb = await startTestBroker(t);
  const service = await connectService(t, tb);
  const desired = JSON.stringify({ v: 1, revision: 7 });
  await service.publishAsync(topics.device('gw-late', 'desired'), desired, { qos: 1, retain: true });
  await service.publishAsync(topics.module(SHA_A), '{"module":true}', { qos: 1, retain: true });
  await service.endAsync();

  const device = await connectDevice(t, tb, 'gw-late');
  const seen = collect(device);
  assert.deepEqual(await subscribeGranted(device, [topics.device('gw-late', 'desired'), topics.allModules]), [1, 1]);
  await waitFor('both retained messages', () => (seen.length >= 2 ? seen : undefined), 3000);
  const byTopic = new Map(seen.map((m) => [m.topic, m]));
  assert.equal(byTopic.get(topics.device('gw-late', 'desired'))?.payload.toString(), desired);
  assert.equal(byTopic.get(topics.device('gw-late', 'desired'))?.retain, true);
  assert.equal(byTopic.get(topics.module(SHA_A))?.retain, true);
});

test('an empty retained desired state clears it for later subscribers', async (t) => {
  const tb = await startTestBroker(t);
  const service = await connectService(t, tb);
  await service.publishAsync(topics.device('gw-x', 'desired'), '{"v":1}', { qos: 1, retain: true });
  await service.publishAsync(topics.device('gw-x', 'desired'), Buffer.alloc(0), { qos: 1, retain: true });
  const device = await connectDevice(t, tb, 'gw-x');
  const seen = collect(device);
  await subscribeGranted(device, [topics.device('gw-x', 'desired')]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(seen.length, 0);
});

test('a subscriber to an exact topic gets that topic\'s newest retained message only, among many (retained messages indexed by topic)', async (t) => {
  const tb = await startTestBroker(t);
  const service = await connectService(t, tb);
  for (let i = 0; i < 50; i += 1) await service.publishAsync(topics.device(`gw-${i}`, 'desired'), `{"v":1,"n":${i}}`, { qos: 1, retain: true });
  await service.publishAsync(topics.device('gw-7', 'desired'), '{"v":1,"n":"newest"}', { qos: 1, retain: true });
  await service.endAsync();
  const device = await connectDevice(t, tb, 'gw-7');
  const seen = collect(device);
  await subscribeGranted(device, [topics.device('gw-7', 'desired')]);
  await waitFor('the retained desired state', () => (seen.length >= 1 ? seen : undefined), 3000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(seen.map((m) => [m.topic, m.payload.toString(), m.retain]), [[topics.device('gw-7', 'desired'), '{"v":1,"n":"newest"}', true]]);
});
