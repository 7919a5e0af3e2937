/**
 * The broker's in-process link (RunningBroker.inProcess), what a site hub uses of the broker it
 * runs: its publishes are retained and routed like a client's, and its handlers see what clients
 * publish once the ACL let it through, never what the ACL refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { waitFor } from '../helpers/wait.js';
import { collect, connectDevice, settle, startTestBroker, subscribeGranted } from './helpers.js';

test('an in-process publish is retained and routed; an in-process handler sees clients\' publishes after their ACL check', async (t) => {
  const tb = await startTestBroker(t);
  const link = tb.broker.inProcess;
  const seen: { topic: string; payload: string }[] = [];
  link.on(topics.allDevices('reported'), (topic, payload) => seen.push({ topic, payload: payload.toString() }));

  const device = await connectDevice(t, tb, 'gw-1');
  const received = collect(device);
  assert.deepEqual(await subscribeGranted(device, [topics.device('gw-1', 'desired')]), [1]);
  await link.publish(topics.device('gw-1', 'desired'), Buffer.from('{"live":true}'), true);
  await waitFor('the live publish', () => (received.length === 1 ? true : undefined), 3000);
  assert.equal(received[0]!.payload.toString(), '{"live":true}');

  // Retained for a device that subscribes later.
  const later = await connectDevice(t, tb, 'gw-2');
  const laterReceived = collect(later);
  await link.publish(topics.device('gw-2', 'desired'), Buffer.from('{"retained":true}'), true);
  await subscribeGranted(later, [topics.device('gw-2', 'desired')]);
  await waitFor('the retained publish', () => (laterReceived.length === 1 ? true : undefined), 3000);
  assert.equal(laterReceived[0]!.retain, true);

  await device.publishAsync(topics.device('gw-1', 'reported'), '{"own":true}', { qos: 1 });
  // Another device's topic: refused by the ACL (the connection may be closed), never handed on.
  device.publish(topics.device('gw-9', 'reported'), '{"forged":true}', { qos: 0 });
  await waitFor('the allowed publish', () => (seen.length >= 1 ? true : undefined), 3000);
  await settle(200);
  assert.deepEqual(seen, [{ topic: topics.device('gw-1', 'reported'), payload: '{"own":true}' }]);
});
