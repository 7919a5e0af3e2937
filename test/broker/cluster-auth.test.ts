/**
 * Device authentication across broker nodes, with no call into the API: the platform (node A with
 * the API, on Redis) provisions, rotates and deletes through REST; node B, a separate broker that
 * knows only the Redis URL, admits and refuses from the credential replica. mosquitto_sub and
 * mosquitto_pub are the third-party clients (Debian package mosquitto-clients).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { redisSkipReason } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { hasMosquittoClients, runTool } from './mosquitto.js';
import { startTwoNodes } from './two-nodes.js';
import { connect, waitForClose } from './helpers.js';

const skip = redisSkipReason() || (hasMosquittoClients() ? false : process.env.CI === 'true' ? false : 'mosquitto-clients not installed');

const portOf = (url: string) => new URL(url).port;

/** One mosquitto_sub CONNECT against a node; its exit code says whether it was admitted. */
const mosquittoConnect = (t: TestContext, url: string, deviceId: string, password: string) =>
  runTool(t, 'mosquitto_sub', ['-h', '127.0.0.1', '-p', portOf(url), '-V', 'mqttv311', '-i', deviceId, '-u', deviceId, '-P', password, '-t', topics.device(deviceId, 'desired'), '-C', '1', '-W', '2']);

test('a device provisioned through the API is admitted by another node, which never asks the API', { skip }, async (t) => {
  const fleet = await startTwoNodes(t, 'cluster-auth');
  const added = await fleet.call('POST', '/api/v1/devices', { id: 'gw-1', profile: 'sim-x86-64' });
  assert.equal(added.status, 201);
  const { password } = added.body.mqtt as { password: string };
  // -C 1 -W 2: admitted, then it waits for one message and times out (exit 27), or gets the retained one.
  const admitted = await mosquittoConnect(t, fleet.nodeB.url, 'gw-1', password);
  assert.ok(!/refused|not authori[sz]ed/i.test(admitted.stderr), admitted.stderr);
  const wrong = await mosquittoConnect(t, fleet.nodeB.url, 'gw-1', password + 'x');
  assert.match(wrong.stderr, /refused|not authori[sz]ed|bad user/i);
});

test('rotation with grace works on every node: the old secret until the new one is used, then only the new one', { skip }, async (t) => {
  const fleet = await startTwoNodes(t, 'cluster-auth');
  const old = (await fleet.call('POST', '/api/v1/devices', { id: 'gw-2', profile: 'sim-x86-64' })).body.mqtt.password as string;
  const rotated = await fleet.call('POST', '/api/v1/devices/gw-2/credentials/rotate', { graceSeconds: 600 });
  assert.equal(rotated.status, 200);
  const fresh = rotated.body.mqtt.password as string;
  const viaOld = await connect(t, fleet.nodeB.url, { clientId: 'gw-2', username: 'gw-2', password: old });
  await viaOld.endAsync();
  // The new secret, on node A this time: its first use retires the old one on every node.
  const viaNew = await connect(t, fleet.platform.mqttUrl, { clientId: 'gw-2', username: 'gw-2', password: fresh });
  await viaNew.endAsync();
  await waitFor('the old secret to be refused on node B', async () => {
    const result = await mosquittoConnect(t, fleet.nodeB.url, 'gw-2', old);
    return /refused|not authori[sz]ed|bad user/i.test(result.stderr) ? true : undefined;
  }, 10_000, 200);
});

test('deleting a device disconnects it on the other node within a second and refuses its reconnect there', { skip }, async (t) => {
  const fleet = await startTwoNodes(t, 'cluster-auth');
  const password = (await fleet.call('POST', '/api/v1/devices', { id: 'gw-3', profile: 'sim-x86-64' })).body.mqtt.password as string;
  const device = await connect(t, fleet.nodeB.url, { clientId: 'gw-3', username: 'gw-3', password });
  const closed = waitForClose(device, 5_000);
  const started = Date.now();
  assert.equal((await fleet.call('DELETE', '/api/v1/devices/gw-3')).status, 204);
  await closed;
  t.diagnostic(`disconnected on node B ${Date.now() - started} ms after DELETE was sent`);
  const again = await mosquittoConnect(t, fleet.nodeB.url, 'gw-3', password);
  assert.match(again.stderr, /refused|not authori[sz]ed|bad user/i);
});

test('an immediate rotation revokes the old sessions on every node', { skip }, async (t) => {
  const fleet = await startTwoNodes(t, 'cluster-auth');
  const password = (await fleet.call('POST', '/api/v1/devices', { id: 'gw-4', profile: 'sim-x86-64' })).body.mqtt.password as string;
  const device = await connect(t, fleet.nodeB.url, { clientId: 'gw-4', username: 'gw-4', password });
  const closed = waitForClose(device, 5_000);
  assert.equal((await fleet.call('POST', '/api/v1/devices/gw-4/credentials/rotate', { graceSeconds: 0 })).status, 200);
  await closed;
  const again = await mosquittoConnect(t, fleet.nodeB.url, 'gw-4', password);
  assert.match(again.stderr, /refused|not authori[sz]ed|bad user/i);
});
