import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { connect, connectDevice, connectService, startTestBroker, subscribeGranted } from './helpers.js';

/** mqtt.js reports a refused CONNACK as an error whose code is the return code. */
const refusedWith = (code: number) => (error: unknown) => (error as { code?: number }).code === code;

test('an anonymous client is refused with return code 5 and the refusal is logged', async (t) => {
  const tb = await startTestBroker(t);
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'anon' }), refusedWith(5));
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_AUTH_REFUSED');
  assert.equal(line?.clientId, 'anon');
  assert.equal(line?.level, 'warn');
  assert.match(String(line?.reason), /anonymous/);
});

test('a wrong password is refused with return code 4 and never logged', async (t) => {
  const tb = await startTestBroker(t);
  await tb.verifier.addDevice('gw-1');
  await assert.rejects(
    connect(t, tb.broker.url, { clientId: 'gw-1', username: 'gw-1', password: 'guess-secret-xyz' }),
    refusedWith(4),
  );
  await assert.rejects(
    connect(t, tb.broker.url, { clientId: 'gw-9', username: 'gw-9', password: 'guess-secret-xyz' }),
    refusedWith(4),
  );
  const text = tb.logs.lines.map((l) => JSON.stringify(l)).join('\n');
  assert.ok(!text.includes('guess-secret-xyz'), 'password must not appear in logs');
  assert.equal(tb.broker.stats().authRefusals, 2);
});

test('a device with the right credentials and clientId connects', async (t) => {
  const tb = await startTestBroker(t);
  const client = await connectDevice(t, tb, 'gw-1');
  assert.ok(client.connected);
});

test('a device connecting under another clientId is refused with return code 2', async (t) => {
  const tb = await startTestBroker(t);
  const secret = await tb.verifier.addDevice('gw-1');
  await tb.verifier.addDevice('gw-2');
  // Using its own credentials but gw-2's clientId would evict gw-2's session; refused.
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-2', username: 'gw-1', password: secret }), refusedWith(2));
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_AUTH_REFUSED');
  assert.equal(line?.clientId, 'gw-2');
  assert.equal(line?.username, 'gw-1');
});

test('a device cannot take over another device session by clientId', async (t) => {
  const tb = await startTestBroker(t);
  const victim = await connectDevice(t, tb, 'gw-2');
  const attackerSecret = await tb.verifier.addDevice('gw-1');
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-2', username: 'gw-1', password: attackerSecret }), refusedWith(2));
  assert.ok(victim.connected, 'the legitimate session survives');
});

test('the service account connects with any clientId', async (t) => {
  const tb = await startTestBroker(t);
  const client = await connectService(t, tb);
  assert.ok(client.connected);
});

test('a failing verifier answers return code 3 (server unavailable)', async (t) => {
  const tb = await startTestBroker(t);
  const secret = await tb.verifier.addDevice('gw-1');
  tb.verifier.failing = true;
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-1', username: 'gw-1', password: secret }), refusedWith(3));
  assert.ok(tb.logs.lines.some((l) => l.code === 'WF_BROKER_VERIFIER_FAILED'));
});

test("a will on another device's topic is refused at CONNECT with return code 5", async (t) => {
  const tb = await startTestBroker(t);
  const secret = await tb.verifier.addDevice('gw-1');
  const will = { topic: topics.device('gw-2', 'status'), payload: Buffer.from('{}'), qos: 1 as const, retain: true };
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-1', username: 'gw-1', password: secret, will }), refusedWith(5));
  // Its own status topic is the will it is meant to use [WF-P-T-4].
  const ok = await connect(t, tb.broker.url, {
    clientId: 'gw-1', username: 'gw-1', password: secret, will: { ...will, topic: topics.device('gw-1', 'status') },
  });
  assert.ok(ok.connected);
});

test('with allowAnonymous an anonymous client connects, loudly logged, and may only read device reports', async (t) => {
  const tb = await startTestBroker(t, { allowAnonymous: true });
  assert.ok(
    tb.logs.lines.some((line) => line.level === 'warn' && line.code === 'WF_BROKER_ANONYMOUS_ENABLED'),
    'the broker warns at start that anonymous access is on',
  );
  const client = await connect(t, tb.broker.url, { clientId: 'probe' });
  assert.ok(tb.logs.lines.some((line) => line.level === 'warn' && line.msg === 'anonymous client connected' && line.clientId === 'probe'));
  assert.equal(tb.broker.stats().anonymousConnects, 1);
  assert.deepEqual(
    await subscribeGranted(client, [topics.allDevices('status'), topics.allDevices('results'), topics.allModules, topics.allDevices('desired'), '#']),
    [1, 1, 0x80, 0x80, 0x80],
  );
  // Seeing a device's report works...
  const secret = await tb.verifier.addDevice('gw-1');
  const device = await connect(t, tb.broker.url, { clientId: 'gw-1', username: 'gw-1', password: secret });
  const seen = new Promise<string>((resolve) => client.once('message', (topic) => resolve(topic)));
  await device.publishAsync(topics.device('gw-1', 'status'), '{}', { qos: 1 });
  assert.equal(await seen, topics.device('gw-1', 'status'));
  // ...publishing anything closes the connection.
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.publish(topics.device('gw-1', 'status'), '{}', { qos: 1 });
  await closed;
  assert.equal(tb.broker.stats().aclPublishRefusals, 1);
});

test('without allowAnonymous the broker does not warn about anonymous access', async (t) => {
  const tb = await startTestBroker(t);
  assert.ok(!tb.logs.lines.some((line) => line.code === 'WF_BROKER_ANONYMOUS_ENABLED'));
});
