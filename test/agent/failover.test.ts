/**
 * An agent with several broker URLs: it starts on the first node and, when that node dies or
 * refuses it, is on the next one after a jittered reconnect delay. Real Aedes brokers over TCP.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Aedes } from 'aedes';
import { resolveAgentConfig } from '../../device-agent/config.js';
import { classifyLinkError, logLinkErrors } from '../../device-agent/link-errors.js';
import { connectBroker, failoverServers } from '../../device-agent/mqtt-link.js';
import { captureLogs } from '../broker/helpers.js';
import { tempDir, testTrust, until } from './helpers.js';

interface Node {
  readonly url: string;
  readonly aedes: Aedes;
  /** Like kill -9 of the process: sockets cut, no goodbye. */
  kill(): Promise<void>;
}

async function startNode(t: TestContext, refuse = false): Promise<Node> {
  const aedes = await Aedes.createBroker({
    authenticate: (_client, _username, _password, done) => {
      if (!refuse) return done(null, true);
      const error = Object.assign(new Error('refused'), { returnCode: 3 });
      done(error as never, false);
    },
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let killed = false;
  const kill = async () => {
    if (killed) return;
    killed = true;
    server.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  };
  t.after(kill);
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, aedes, kill };
}

const configFor = (t: TestContext, urls: string[]) =>
  resolveAgentConfig({
    deviceId: 'gw-01',
    broker: { urls, username: 'gw-01', password: 'pw' },
    profile: 'sim-x86-64',
    stateDir: tempDir(t),
    trust: testTrust(),
    reconnectPeriodMs: 200,
    reconnectMaxMs: 1000,
  });

test('the single url form and the list form resolve to the same broker list', (t) => {
  const single = resolveAgentConfig({ deviceId: 'gw-01', broker: { url: 'mqtt://a:1883', username: 'gw-01', password: 'pw' }, profile: 'sim-x86-64', stateDir: tempDir(t), trust: testTrust() });
  assert.deepEqual(single.broker.urls, ['mqtt://a:1883']);
  const list = configFor(t, ['mqtt://a:1883', 'mqtts://b:8883']);
  assert.equal(list.broker.url, 'mqtt://a:1883');
  assert.deepEqual(failoverServers(list.broker.urls!), [
    { host: 'a', port: 1883, protocol: 'mqtt' },
    { host: 'b', port: 8883, protocol: 'mqtts' },
  ]);
  assert.throws(() => resolveAgentConfig({ deviceId: 'gw-01', broker: { username: 'gw-01', password: 'pw' }, profile: 'sim-x86-64', stateDir: 'x', trust: testTrust() }), /broker/);
});

test('when its node dies the agent is on the next node', async (t) => {
  const a = await startNode(t);
  const b = await startNode(t);
  const client = connectBroker(configFor(t, [a.url, b.url]));
  t.after(() => client.endAsync(true));
  await until(() => a.aedes.connectedClients === 1, 5000, 'the agent on node A');
  await a.kill();
  // Aedes counts the client before its CONNACK reaches the agent: wait for both ends.
  await until(() => b.aedes.connectedClients === 1 && client.connected, 10_000, 'the agent on node B');
  assert.ok(client.connected);
});

test('a node that refuses the CONNECT is left for the next one', async (t) => {
  const refusing = await startNode(t, true);
  const b = await startNode(t);
  const client = connectBroker(configFor(t, [refusing.url, b.url]));
  t.after(() => client.endAsync(true));
  await until(() => b.aedes.connectedClients === 1, 10_000, 'the agent on node B');
});

test('a dead node is one warning per outage and reason, not an error line per reconnect attempt', async (t) => {
  const a = await startNode(t);
  const logs = captureLogs();
  const client = connectBroker(configFor(t, [a.url]));
  logLinkErrors(client, logs.logger);
  t.after(() => client.endAsync(true));
  await until(() => client.connected, 5000, 'the agent on node A');
  await a.kill();
  let attempts = 0;
  client.on('reconnect', () => attempts++);
  await until(() => attempts >= 4, 15_000, 'four reconnect attempts at the dead node');
  const failures = logs.lines.filter((line) => line.msg === 'broker connection failed');
  assert.deepEqual(logs.lines.filter((line) => line.level === 'error'), [], 'no error line for an expected outage');
  assert.ok(failures.length >= 1, 'the outage is said');
  assert.equal(new Set(failures.map((line) => line.reason)).size, failures.length, 'each reason once per outage');
  assert.ok(failures.every((line) => line.level === 'warn' && typeof line.reason === 'string' && /^E[A-Z]+$/.test(line.reason as string)), JSON.stringify(failures));
});

test('credentials refused are an error, said once per outage; a protocol fault is an error each time', () => {
  assert.deepEqual(classifyLinkError(Object.assign(new Error('Connection refused: Bad username or password'), { code: 4 })), { reason: 'connack-4', level: 'error' });
  assert.deepEqual(classifyLinkError(Object.assign(new Error('Connection refused: Server unavailable'), { code: 3 })), { reason: 'connack-3', level: 'warn' });
  assert.deepEqual(classifyLinkError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), { reason: 'ECONNREFUSED', level: 'warn' });
  assert.equal(classifyLinkError(Object.assign(new Error('Protocol error: duplicate CONNACK'), { code: 130 })), undefined);
  assert.equal(classifyLinkError(new Error('unexpected packet')), undefined);
});
