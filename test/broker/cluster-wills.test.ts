/**
 * A dead node's wills (broker/cluster.ts, docs/scale-out.md): two `wasmfleet broker --redis`
 * processes on a real redis-server, with a 1 s heartbeat so node B declares node A dead within
 * seconds of its `kill -9`. Two devices were on node A with the agent's will (retained offline
 * status). One stays away: node B must publish its will. The other reconnects to node B before
 * node B notices A's death: its will on A is stale, and publishing it would set the retained
 * status of a device that is online to offline. aedes-persistence-redis keeps that will in Redis
 * and Aedes publishes it anyway; without the drop in cluster.ts/index.ts this test fails.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { deviceCredentialKey, serviceCredentialKey, writeCredential } from '../../common/redis-credentials.js';
import { generateSecret, hashSecret } from '../../common/secrets.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { topics } from '../../protocol/topics.js';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { freePort, redisSkipReason, startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { logLines } from '../e2e/fault-helpers.js';
import { collect, connect } from './helpers.js';

const skip = redisSkipReason();
const HEARTBEAT_MS = 1000;

const status = (deviceId: string, online: boolean) => Buffer.from(JSON.stringify({ deviceId, online }));

/** node:test runs after hooks in the order they were added; these run in reverse, so processes stop before Redis. */
function cleanupStack(t: TestContext): (step: () => unknown) => void {
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (step) => void steps.push(step);
}

async function startNode(onCleanup: (step: () => unknown) => void, dir: string, name: string, redisUrl: string): Promise<{ node: RunningCli; url: string }> {
  const url = `mqtt://127.0.0.1:${await freePort()}`;
  const node = startCli(['broker', '--data', join(dir, name), '--mqtt-port', new URL(url).port, '--redis', redisUrl, '--heartbeat-ms', String(HEARTBEAT_MS), '--json'], {
    WASMFLEET_LOG_LEVEL: 'info',
  });
  onCleanup(() => node.stop());
  await waitFor(`node ${name} to start`, () => (node.output().includes('"mqtt"') ? true : undefined), 30_000);
  return { node, url };
}

/** A device as the agent connects: its will is its retained offline status (device-agent/mqtt-link.ts). */
const connectDevice = (t: TestContext, url: string, deviceId: string, password: string): Promise<MqttClient> =>
  connect(t, url, {
    clientId: deviceId,
    username: deviceId,
    password,
    will: { topic: topics.device(deviceId, 'status'), payload: status(deviceId, false), qos: 1, retain: true },
  });

const lastStatus = (seen: { topic: string; payload: Buffer }[], deviceId: string): boolean | undefined => {
  const mine = seen.filter((m) => m.topic === topics.device(deviceId, 'status'));
  return mine.length === 0 ? undefined : (JSON.parse(mine[mine.length - 1]!.payload.toString()) as { online: boolean }).online;
};

test("a dead node's will is published for a device that stayed away and dropped for one that moved to another node", { skip }, async (t) => {
  const onCleanup = cleanupStack(t);
  const redis = await startRedis(undefined);
  onCleanup(() => redis.dispose());
  const dir = mkdtempSync(join(tmpdir(), 'wf-cluster-wills-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));

  // The credential replica as the API writes it (common/redis-credentials.ts).
  const writer = new Redis(redis.url);
  onCleanup(() => writer.disconnect());
  const secrets: Record<string, string> = {};
  for (const id of ['gw-moved', 'gw-gone', SERVICE_USERNAME]) {
    secrets[id] = generateSecret('test');
    const key = id === SERVICE_USERNAME ? serviceCredentialKey(id) : deviceCredentialKey(id);
    await writeCredential(writer, key, { current: await hashSecret(secrets[id]!) });
  }

  const a = await startNode(onCleanup, dir, 'node-a', redis.url);
  const b = await startNode(onCleanup, dir, 'node-b', redis.url);

  // The service watches every device's status through node B from before the kill to the end.
  const service = await connect(t, b.url, { clientId: 'svc-watch', username: SERVICE_USERNAME, password: secrets[SERVICE_USERNAME]! });
  const live = collect(service);
  await service.subscribeAsync(topics.allDevices('status'), { qos: 1 });

  // The service hears much from node A after the CONNECTs, as the API does (results, reports):
  // each message A routes carries A's id and its next counter, and Aedes delivers a QoS 1 packet
  // from A only if its counter is above the last one (broker/cluster.ts republishedWill).
  const FROM_A = 50;
  for (const id of ['gw-moved', 'gw-gone']) {
    const device = await connectDevice(t, a.url, id, secrets[id]!);
    for (let i = 0; i < FROM_A; i += 1) await device.publishAsync(topics.device(id, 'status'), status(id, true), { qos: 1, retain: true });
  }
  await waitFor('every online status seen through node B', () => (live.length === 2 * FROM_A ? true : undefined), 10_000);

  a.node.child.kill('SIGKILL');
  await a.node.exited;
  // gw-moved reconnects at once (the mqtt.js client of node A is gone with it), long before node B
  // declares A dead (3 missed heartbeats) and streams A's wills.
  const moved = await connectDevice(t, b.url, 'gw-moved', secrets['gw-moved']!);
  await moved.publishAsync(topics.device('gw-moved', 'status'), status('gw-moved', true), { qos: 1, retain: true });

  const judged = (clientId: string, msg: string) => () =>
    logLines(b.node.output()).some((line) => line.msg === msg && line.clientId === clientId) ? true : undefined;
  await waitFor("node B to publish gw-gone's will", judged('gw-gone', 'will of a dead node published'), 30_000);
  await waitFor("node B to drop gw-moved's stale will", judged('gw-moved', 'stale will of a dead node dropped'), 30_000);
  await waitFor('the offline status of gw-gone delivered', () => (lastStatus(live, 'gw-gone') === false ? true : undefined), 10_000).catch((error) => assert.fail(`${error}; received: ${live.map((m) => m.topic + ' ' + m.payload.toString()).join(' | ')}; node B: ${b.node.output().split('\n').filter((l) => l.includes('will')).join('\n')}`));

  // What a new subscriber (the API after a restart, the console) reads from the retained messages.
  const reader = await connect(t, b.url, { clientId: 'svc-read', username: SERVICE_USERNAME, password: secrets[SERVICE_USERNAME]! });
  const retained = collect(reader);
  await reader.subscribeAsync(topics.allDevices('status'), { qos: 1 });
  await waitFor('both retained statuses', () => (lastStatus(retained, 'gw-moved') !== undefined && lastStatus(retained, 'gw-gone') !== undefined ? true : undefined), 10_000);
  assert.equal(lastStatus(retained, 'gw-gone'), false, 'the device that stayed away is offline');
  assert.equal(lastStatus(retained, 'gw-moved'), true, 'the device that moved to node B is still online');
  assert.equal(lastStatus(live, 'gw-moved'), true, 'no offline status of the moved device was routed');
  assert.ok(moved.connected);
});
