import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { waitFor } from '../helpers/wait.js';
import { connect, connectDevice, connectService, startTestBroker, subscribeGranted } from './helpers.js';

test('stats count connected clients, refusals and routed publishes', async (t) => {
  const tb = await startTestBroker(t);
  assert.deepEqual(tb.broker.stats(), {
    connectedClients: 0,
    authRefusals: 0,
    aclPublishRefusals: 0,
    aclSubscribeRefusals: 0,
    aclForwardDrops: 0,
    payloadCapRefusals: 0,
    oversizePackets: 0,
    messagesPublished: 0,
    publishRateDrops: 0,
    publishRateDisconnects: 0,
    connectionRateRefusals: 0,
    topicDepthRefusals: 0,
    revocations: 0,
    revokedDisconnects: 0,
    tlsHandshakeFailures: 0,
    certificateMismatches: 0,
    anonymousConnects: 0,
  });

  const service = await connectService(t, tb);
  const device = await connectDevice(t, tb, 'gw-1');
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'nobody' }));
  await subscribeGranted(device, [topics.device('gw-2', 'desired')]);
  await device.publishAsync(topics.device('gw-1', 'results'), '{}', { qos: 1 });
  await service.publishAsync(topics.device('gw-1', 'desired'), '{}', { qos: 1, retain: true });

  const stats = await waitFor('two published messages', () => {
    const s = tb.broker.stats();
    return s.messagesPublished >= 2 ? s : undefined;
  }, 3000);
  assert.equal(stats.connectedClients, 2);
  assert.equal(stats.authRefusals, 1);
  assert.equal(stats.aclSubscribeRefusals, 1);
  assert.equal(stats.messagesPublished, 2);

  await device.endAsync();
  await waitFor('device gone', () => (tb.broker.stats().connectedClients === 1 ? true : undefined), 3000);
});

test('startBroker reports the bound port and url, and close() is idempotent', async (t) => {
  const tb = await startTestBroker(t);
  assert.ok(tb.broker.port > 0);
  assert.equal(tb.broker.host, '127.0.0.1');
  assert.equal(tb.broker.url, `mqtt://127.0.0.1:${tb.broker.port}`);
  const device = await connectDevice(t, tb, 'gw-1');
  const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
  await tb.broker.close();
  await tb.broker.close();
  await closed;
});
