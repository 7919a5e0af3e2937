/**
 * The cluster as separate processes (docs/scale-out.md): a real redis-server, two
 * `wasmfleet broker --redis` nodes, one `wasmfleet api --redis` and six `wasmfleet agent`
 * processes whose configs list both nodes (half of them node A first, half node B first).
 *
 * 1. kill -9 of node A in the middle of a rollout: A's agents fail over to B, the rollout
 *    converges on every device, and results flow through B.
 * 2. The API away for 30 s: node B keeps admitting known devices with no API (an agent killed and
 *    started again while the API is down is admitted from the credential replica), results wait
 *    in the agents' spools and are stored once the API is back.
 * 3. Redis restarting empty under traffic (no append-only file): the nodes, agents and API carry on
 *    without a restart of their own, and the API writes the credential replica again, so a device
 *    that reconnects afterwards is admitted.
 * Found here: the API's SUBSCRIBE of four topics at once never got its SUBACK from a cluster node,
 * so until its link moved to another node the API received nothing (fleet-api/mqtt-link.ts now
 * subscribes one topic per SUBSCRIBE).
 * The processes are started by cluster-helpers.ts (shared with cluster-chaos.test.ts).
 * Then the exact accounting of fault-helpers.ts over every run of every agent: each result seq is
 * stored once or counted as dropped with a reason, 0 gaps and 0 duplicates.
 *
 * Timings are loose on purpose (the machine is shared); nothing here is timed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { runCliJson } from '../helpers/cli.js';
import { redisSkipReason } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { Cluster, nodePortsOf } from './cluster-helpers.js';
import { everyDeviceRunningEma, stopAndAccount, untilLogged, waitForBacklogs } from './fault-helpers.js';

const DEVICES = ['gw-k1', 'gw-k2', 'gw-k3', 'gw-k4', 'gw-k5', 'gw-k6'];
const API_DOWN_MS = 30_000;

/**
 * Waits for what restarts left unacked (resent at the agent's ack timeout, 15 s), stops every
 * agent and checks the exact accounting over all its runs: 0 gaps, 0 duplicates, nothing pending.
 */
async function assertEveryResultOnce(t: TestContext, cluster: Cluster, devices: readonly string[]): Promise<void> {
  await waitForBacklogs(cluster, devices, 60_000);
  await stopAndAccount(t, cluster, devices);
}

test('two broker nodes + Redis + the API as processes: kill -9 of a node mid-rollout, then the API away for 30 s; every result stored once', { skip: redisSkipReason() }, async (t) => {
  const cluster = await Cluster.start(t);
  const [portA, portB] = [cluster.nodePort(0), cluster.nodePort(1)];
  for (const [index, id] of DEVICES.entries()) await cluster.addDevice(id, index % 2 === 1);
  await cluster.publishEma();
  for (const id of DEVICES) cluster.startAgent(id);
  const first = (id: string) => cluster.agents.get(id)![0]!;
  await waitFor('every agent on its first node', () => (DEVICES.every((id, index) => nodePortsOf(first(id))[0] === (index % 2 === 1 ? portB : portA)) ? true : undefined), 60_000, 250);

  // The rollout starts; node A dies while it is under way.
  await runCliJson(['deploy', 'ema@1.0.0', ...DEVICES.flatMap((id) => ['--device', id]), '--config', 'every=1', '--input', 'temperature', '--immediate'], cluster.env);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const nodeA = cluster.nodes[0]!;
  nodeA.child.kill('SIGKILL');
  await nodeA.exited;
  cluster.nodes[0] = undefined;
  const onA = DEVICES.filter((_, index) => index % 2 === 0);
  await waitFor("node A's agents on node B", () => (onA.every((id) => nodePortsOf(first(id)).at(-1) === portB) ? true : undefined), 60_000, 250);
  await waitFor('every device in sync and running ema', () => everyDeviceRunningEma(cluster, DEVICES), 90_000, 500);
  const afterKill = new Map(DEVICES.map((id) => [id, cluster.storedSeqs(id).at(-1) ?? -1]));
  await waitFor('results through node B after the kill', () => (DEVICES.every((id) => (cluster.storedSeqs(id).at(-1) ?? -1) > afterKill.get(id)!) ? true : undefined), 60_000, 250);

  // The API goes away for 30 s. Node B alone must admit a device that reconnects meanwhile.
  await cluster.api!.stop();
  cluster.api = undefined;
  const beforeApiStop = new Map(DEVICES.map((id) => [id, cluster.storedSeqs(id).at(-1) ?? -1]));
  const apiDownSince = Date.now();
  const restarted = DEVICES[1]!;
  const killedRun = cluster.agents.get(restarted)!.at(-1)!;
  killedRun.process.child.kill('SIGKILL');
  await killedRun.process.exited;
  const rerun = cluster.startAgent(restarted);
  await untilLogged(rerun, 'connected to broker node', `${restarted} admitted again while the API is down`, 60_000, 250);
  assert.equal(nodePortsOf(rerun).at(-1), portB, 'admitted by the surviving node');
  assert.equal(cluster.api, undefined, 'the API was down when the device was admitted');
  const remaining = API_DOWN_MS - (Date.now() - apiDownSince);
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
  assert.deepEqual(
    DEVICES.map((id) => cluster.storedSeqs(id).at(-1) ?? -1),
    DEVICES.map((id) => beforeApiStop.get(id)!),
    'nothing is stored while the API is down',
  );
  await cluster.startApi();
  await waitFor('the results of the 30 s stored after the API returns', () => (DEVICES.every((id) => (cluster.storedSeqs(id).at(-1) ?? -1) > beforeApiStop.get(id)!) ? true : undefined), 90_000, 250);
  await assertEveryResultOnce(t, cluster, DEVICES);
});

test('Redis restarts empty under traffic: nodes, agents and the API recover without a restart of their own, and no result is lost', { skip: redisSkipReason() }, async (t) => {
  const cluster = await Cluster.start(t);
  const { redis } = cluster;
  const devices = DEVICES.slice(0, 3);
  for (const [index, id] of devices.entries()) await cluster.addDevice(id, index % 2 === 1);
  await cluster.publishEma();
  for (const id of devices) cluster.startAgent(id);
  await waitFor('every agent connected', () => (devices.every((id) => nodePortsOf(cluster.agents.get(id)![0]!).length > 0) ? true : undefined), 60_000, 250);
  try {
    await runCliJson(['deploy', 'ema@1.0.0', ...devices.flatMap((id) => ['--device', id]), '--config', 'every=1', '--input', 'temperature', '--immediate', '--wait', '--timeout', process.env.DEBUG_CLUSTER ? '20' : '90'], cluster.env);
  } catch (error) {
    if (process.env.DEBUG_CLUSTER) t.diagnostic(`api: ${cluster.api?.output().split('\n').filter((l) => !l.includes('job finished')).join('\n').slice(-8000)}`);
    throw error;
  }
  await waitFor('results flowing', () => (devices.every((id) => cluster.storedSeqs(id).length >= 5) ? true : undefined), 60_000, 250);

  // No append-only file: Redis comes back empty, the credential replica included.
  await redis.restart(3_000);
  const beforeRestart = new Map(devices.map((id) => [id, cluster.storedSeqs(id).at(-1) ?? -1]));
  await waitFor('results after the restart', () => (devices.every((id) => (cluster.storedSeqs(id).at(-1) ?? -1) > beforeRestart.get(id)! + 5) ? true : undefined), 90_000, 250);
  assert.ok([...cluster.nodes, cluster.api].every((run) => run !== undefined && run.child.exitCode === null && run.child.signalCode === null), 'no node and not the API restarted');

  // A device that reconnects now is admitted from the replica the API wrote again.
  const id = devices[0]!;
  const killed = cluster.agents.get(id)!.at(-1)!;
  killed.process.child.kill('SIGKILL');
  await killed.process.exited;
  await untilLogged(cluster.startAgent(id), 'connected to broker node', `${id} admitted after the Redis restart`, 60_000, 250);

  await assertEveryResultOnce(t, cluster, devices);
});
