import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { encodePayload } from '../../protocol/codec.js';
import { PROTOCOL_VERSION } from '../../protocol/version.js';
import { waitFor } from '../helpers/wait.js';
import { connect, connectDevice, connectService, settle, startTestBroker, subscribeGranted, waitForClose } from './helpers.js';

const revoke = (deviceId: string) => encodePayload('revoke', { v: PROTOCOL_VERSION, deviceId, at: new Date().toISOString() });

test('the service revoking a device disconnects it within a short wait [WF-P-T-6]', async (t) => {
  const tb = await startTestBroker(t);
  const service = await connectService(t, tb);
  const victim = await connectDevice(t, tb, 'gw-1');
  const bystander = await connectDevice(t, tb, 'gw-2');
  const closed = waitForClose(victim, 1000);
  await service.publishAsync(topics.controlRevoke, revoke('gw-1'), { qos: 1 });
  await closed;
  await settle(50);
  assert.ok(bystander.connected, 'only the named device is disconnected');
  assert.ok(service.connected);
  const stats = tb.broker.stats();
  assert.equal(stats.revocations, 1);
  assert.equal(stats.revokedDisconnects, 1);
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_DEVICE_REVOKED');
  assert.equal(line?.deviceId, 'gw-1');
});

test('a device cannot publish the control topic, and nobody can subscribe to it', async (t) => {
  const tb = await startTestBroker(t);
  const target = await connectDevice(t, tb, 'gw-2');
  const attacker = await connectDevice(t, tb, 'gw-1');
  const closed = waitForClose(attacker);
  attacker.publish(topics.controlRevoke, revoke('gw-2'), { qos: 1 }, () => undefined);
  await closed;
  await settle(100);
  assert.ok(target.connected, 'the attempted revocation had no effect');
  assert.equal(tb.broker.stats().aclPublishRefusals, 1);
  assert.equal(tb.broker.stats().revocations, 0);

  const service = await connectService(t, tb);
  assert.deepEqual(await subscribeGranted(service, [topics.controlRevoke]), [0x80]);
  assert.deepEqual(await subscribeGranted(target, [topics.controlRevoke]), [0x80]);
});

test('a revoked device whose credential is gone cannot reconnect', async (t) => {
  const tb = await startTestBroker(t);
  const service = await connectService(t, tb);
  const secret = await tb.verifier.addDevice('gw-1');
  const device = await connectDevice(t, tb, 'gw-1', secret);
  // What DELETE /devices/:id does: the store forgets the credential, then the API revokes.
  tb.verifier.removeDevice('gw-1');
  const closed = waitForClose(device, 1000);
  await service.publishAsync(topics.controlRevoke, revoke('gw-1'), { qos: 1 });
  await closed;
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-1', username: 'gw-1', password: secret }), (error: { code?: number }) => error.code === 4);
});

test('a CONNECT still being verified when the revocation lands is refused', async (t) => {
  const tb = await startTestBroker(t);
  const service = await connectService(t, tb);
  const secret = await tb.verifier.addDevice('gw-1');
  tb.verifier.delayMs = 300;
  const attempt = connect(t, tb.broker.url, { clientId: 'gw-1', username: 'gw-1', password: secret });
  await settle(100);
  await service.publishAsync(topics.controlRevoke, revoke('gw-1'), { qos: 1 });
  await assert.rejects(attempt, (error: { code?: number }) => error.code === 4);
  tb.verifier.delayMs = 0;
});

test('a malformed revocation is logged and ignored', async (t) => {
  const tb = await startTestBroker(t);
  const service = await connectService(t, tb);
  const device = await connectDevice(t, tb, 'gw-1');
  await service.publishAsync(topics.controlRevoke, '{"v":1,"deviceId":"+"}', { qos: 1 });
  await waitFor('ignored', () => tb.logs.lines.find((l) => l.msg === 'revocation ignored' || l.message === 'revocation ignored'), 2000);
  assert.ok(device.connected);
  assert.equal(tb.broker.stats().revocations, 0);
});
