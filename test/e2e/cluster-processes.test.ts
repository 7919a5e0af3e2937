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
 * Then the exact accounting of fault-helpers.ts over every run of every agent: each result seq is
 * stored once or counted as dropped with a reason, 0 gaps and 0 duplicates.
 *
 * Timings are loose on purpose (the machine is shared); nothing here is timed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fromRoot } from '../../common/paths.js';
import { runCliJson, startCli, type RunningCli } from '../helpers/cli.js';
import { redisSkipReason, startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, firstSeqsOf, freePort, logLines, storedGaps, stoppedLog, untilLogged, type AgentRun } from './fault-helpers.js';

const DEVICES = ['gw-k1', 'gw-k2', 'gw-k3', 'gw-k4', 'gw-k5', 'gw-k6'];
const API_DOWN_MS = 30_000;

interface Cluster {
  readonly dir: string;
  readonly dataDir: string;
  readonly nodeUrls: [string, string];
  readonly nodes: (RunningCli | undefined)[];
  api: RunningCli | undefined;
  readonly apiUrl: string;
  env: Record<string, string>;
  readonly runs: Map<string, AgentRun[]>;
}

async function startNode(cluster: Cluster, index: 0 | 1, redisUrl: string): Promise<void> {
  const port = new URL(cluster.nodeUrls[index]).port;
  const node = startCli(['broker', '--data', join(cluster.dir, `node-${index}`), '--mqtt-port', port, '--redis', redisUrl, '--json'], { WASMFLEET_LOG_LEVEL: 'warn' });
  cluster.nodes[index] = node;
  await waitFor(`broker node ${index} to start`, () => (node.output().includes('"mqtt"') ? true : undefined), 30_000);
}

async function startApi(cluster: Cluster, redisUrl: string): Promise<void> {
  const nodeArgs = cluster.nodeUrls.flatMap((url) => ['--mqtt-url', url, '--public-mqtt-url', url]);
  const api = startCli(['api', '--data', cluster.dataDir, '--http-port', new URL(cluster.apiUrl).port, '--redis', redisUrl, ...nodeArgs, '--json'], { WASMFLEET_LOG_LEVEL: process.env.DEBUG_CLUSTER ? 'debug' : 'warn' });
  cluster.api = api;
  await waitFor('the api to start', () => (api.output().includes('"adminTokenFile"') ? true : undefined), 30_000);
  const token = readFileSync(join(cluster.dataDir, 'admin.token'), 'utf8').trim();
  cluster.env = { WASMFLEET_API: cluster.apiUrl, WASMFLEET_TOKEN: token, WASMFLEET_PUBLISHER_KEY: join(cluster.dataDir, 'keys', 'publisher.key') };
}

/** Provisions a device; odd ones list node B first, so the agents start spread over both nodes. */
async function addDevice(cluster: Cluster, id: string, bFirst: boolean): Promise<void> {
  const path = join(cluster.dir, `${id}.json`);
  await runCliJson(['device', 'add', id, '--profile', 'sim-x86-64', '--agent-config', path], cluster.env);
  const config = JSON.parse(readFileSync(path, 'utf8')) as { broker: { urls?: string[]; url?: string } };
  assert.deepEqual(config.broker.urls, cluster.nodeUrls, 'the agent config lists the nodes the API was given');
  const urls = bFirst ? [...cluster.nodeUrls].reverse() : [...cluster.nodeUrls];
  writeFileSync(path, JSON.stringify({ ...config, broker: { ...config.broker, urls, url: urls[0] }, reconnectPeriodMs: 200, reconnectMaxMs: 2000 }, null, 2));
}

function startAgent(cluster: Cluster, id: string): AgentRun {
  const process = startCli(['agent', '--config', join(cluster.dir, `${id}.json`)], { WASMFLEET_LOG_LEVEL: 'info' });
  const run: AgentRun = {
    process,
    firstSeq: () => waitFor(`${id}'s start log`, () => logLines(process.output()).find((line) => line.msg === 'results sequence resumes')?.nextSeq as number | undefined, 15_000),
  };
  cluster.runs.set(id, [...(cluster.runs.get(id) ?? []), run]);
  return run;
}

/** The ports of the nodes a run reported being connected to, in order. */
const nodePortsOf = (run: AgentRun): number[] =>
  logLines(run.process.output())
    .filter((line) => line.msg === 'connected to broker node')
    .map((line) => Number(line.port));

function storedSeqs(cluster: Cluster, deviceId: string): number[] {
  const db = new Database(join(cluster.dataDir, 'fleet.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT seq FROM result_batches WHERE device_id = ? ORDER BY seq').pluck().all(deviceId) as number[];
  } finally {
    db.close();
  }
}

async function everyDeviceRunningEma(cluster: Cluster, devices: readonly string[] = DEVICES): Promise<true | undefined> {
  for (const id of devices) {
    const response = await fetch(`${cluster.apiUrl}/api/v1/devices/${id}`, { headers: { authorization: `Bearer ${cluster.env.WASMFLEET_TOKEN}` } });
    const device = (await response.json()) as { inSync?: boolean; reported?: { modules: { name: string; state: string }[] } };
    if (!device.inSync || device.reported?.modules.map((m) => `${m.name}:${m.state}`).join() !== 'ema:running') return undefined;
  }
  return true;
}

async function setUp(t: TestContext): Promise<{ cluster: Cluster; redisUrl: string; redis: TestRedis }> {
  const redis = await startRedis(t);
  const dir = mkdtempSync(join(tmpdir(), 'wf-cluster-proc-'));
  const cluster: Cluster = {
    dir,
    dataDir: join(dir, 'data'),
    nodeUrls: [`mqtt://127.0.0.1:${await freePort()}`, `mqtt://127.0.0.1:${await freePort()}`],
    nodes: [],
    api: undefined,
    apiUrl: `http://127.0.0.1:${await freePort()}`,
    env: {},
    runs: new Map(),
  };
  mkdirSync(cluster.dataDir, { recursive: true });
  // Registered after startRedis' own: t.after runs in reverse, so the processes stop before Redis.
  t.after(async () => {
    for (const runs of cluster.runs.values()) await Promise.all(runs.map((run) => run.process.stop()));
    if (cluster.api) {
      cluster.api.child.kill('SIGCONT');
      await cluster.api.stop();
    }
    await Promise.all(cluster.nodes.map((node) => node?.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  await startNode(cluster, 0, redis.url);
  await startNode(cluster, 1, redis.url);
  await startApi(cluster, redis.url);
  return { cluster, redisUrl: redis.url, redis };
}

/**
 * Waits for what restarts left unacked (resent at the agent's ack timeout, 15 s), stops every
 * agent and checks the exact accounting over all its runs: 0 gaps, 0 duplicates, nothing pending.
 */
async function assertEveryResultOnce(t: TestContext, cluster: Cluster, devices: readonly string[]): Promise<void> {
  // Not every wait can end (a dropped seq is never stored); the accounting names what is missing.
  for (const id of devices) {
    await waitFor(`${id}: backlog stored`, () => (storedGaps(storedSeqs(cluster, id), firstSeqsOf(cluster.runs.get(id)!)) === 0 ? true : undefined), 60_000, 250).catch(() => undefined);
  }
  for (const id of devices) {
    const runs = cluster.runs.get(id)!;
    const last = runs.at(-1)!;
    assert.equal(await last.process.stop(), 0, `${id} stops cleanly`);
    const stopped = stoppedLog(last)!;
    const spool = stopped.spool as { pending: number; droppedFull: number; droppedAge: number; lost: number; droppedRanges: [number, number][] };
    assert.equal(spool.pending, 0, `${id}: nothing left unacked in the spool at the stop`);
    const counts = assertExactAccounting(storedSeqs(cluster, id), spool.droppedRanges, firstSeqsOf(runs), stopped.nextSeq as number);
    assert.equal(counts.dropped, spool.droppedFull + spool.droppedAge + spool.lost, `${id}: every loss has a reason`);
    t.diagnostic(`${id}: ${runs.length} run(s), ${counts.stored} stored, ${counts.dropped} dropped`);
  }
}

test('two broker nodes + Redis + the API as processes: kill -9 of a node mid-rollout, then the API away for 30 s; every result stored once', { skip: redisSkipReason() }, async (t) => {
  const { cluster, redisUrl } = await setUp(t);
  const [portA, portB] = cluster.nodeUrls.map((url) => Number(new URL(url).port)) as [number, number];
  for (const [index, id] of DEVICES.entries()) await addDevice(cluster, id, index % 2 === 1);
  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], cluster.env);
  for (const id of DEVICES) startAgent(cluster, id);
  const first = (id: string) => cluster.runs.get(id)![0]!;
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
  await waitFor('every device in sync and running ema', () => everyDeviceRunningEma(cluster), 90_000, 500);
  const afterKill = new Map(DEVICES.map((id) => [id, storedSeqs(cluster, id).at(-1) ?? -1]));
  await waitFor('results through node B after the kill', () => (DEVICES.every((id) => (storedSeqs(cluster, id).at(-1) ?? -1) > afterKill.get(id)!) ? true : undefined), 60_000, 250);

  // The API goes away for 30 s. Node B alone must admit a device that reconnects meanwhile.
  await cluster.api!.stop();
  cluster.api = undefined;
  const beforeApiStop = new Map(DEVICES.map((id) => [id, storedSeqs(cluster, id).at(-1) ?? -1]));
  const apiDownSince = Date.now();
  const restarted = DEVICES[1]!;
  const killedRun = cluster.runs.get(restarted)!.at(-1)!;
  killedRun.process.child.kill('SIGKILL');
  await killedRun.process.exited;
  const rerun = startAgent(cluster, restarted);
  await untilLogged(rerun, 'connected to broker node', `${restarted} admitted again while the API is down`, 60_000, 250);
  assert.equal(nodePortsOf(rerun).at(-1), portB, 'admitted by the surviving node');
  assert.equal(cluster.api, undefined, 'the API was down when the device was admitted');
  const remaining = API_DOWN_MS - (Date.now() - apiDownSince);
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
  assert.deepEqual(
    DEVICES.map((id) => storedSeqs(cluster, id).at(-1) ?? -1),
    DEVICES.map((id) => beforeApiStop.get(id)!),
    'nothing is stored while the API is down',
  );
  await startApi(cluster, redisUrl);
  await waitFor('the results of the 30 s stored after the API returns', () => (DEVICES.every((id) => (storedSeqs(cluster, id).at(-1) ?? -1) > beforeApiStop.get(id)!) ? true : undefined), 90_000, 250);
  await assertEveryResultOnce(t, cluster, DEVICES);
});

test('Redis restarts empty under traffic: nodes, agents and the API recover without a restart of their own, and no result is lost', { skip: redisSkipReason() }, async (t) => {
  const { cluster, redis } = await setUp(t);
  const devices = DEVICES.slice(0, 3);
  for (const [index, id] of devices.entries()) await addDevice(cluster, id, index % 2 === 1);
  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], cluster.env);
  for (const id of devices) startAgent(cluster, id);
  await waitFor('every agent connected', () => (devices.every((id) => nodePortsOf(cluster.runs.get(id)![0]!).length > 0) ? true : undefined), 60_000, 250);
  try {
    await runCliJson(['deploy', 'ema@1.0.0', ...devices.flatMap((id) => ['--device', id]), '--config', 'every=1', '--input', 'temperature', '--immediate', '--wait', '--timeout', process.env.DEBUG_CLUSTER ? '20' : '90'], cluster.env);
  } catch (error) {
    if (process.env.DEBUG_CLUSTER) t.diagnostic(`api: ${cluster.api?.output().split('\n').filter((l) => !l.includes('job finished')).join('\n').slice(-8000)}`);
    throw error;
  }
  await waitFor('results flowing', () => (devices.every((id) => storedSeqs(cluster, id).length >= 5) ? true : undefined), 60_000, 250);

  // No append-only file: Redis comes back empty, the credential replica included.
  await redis.restart(3_000);
  const beforeRestart = new Map(devices.map((id) => [id, storedSeqs(cluster, id).at(-1) ?? -1]));
  await waitFor('results after the restart', () => (devices.every((id) => (storedSeqs(cluster, id).at(-1) ?? -1) > beforeRestart.get(id)! + 5) ? true : undefined), 90_000, 250);
  assert.ok([...cluster.nodes, cluster.api].every((run) => run !== undefined && run.child.exitCode === null && run.child.signalCode === null), 'no node and not the API restarted');

  // A device that reconnects now is admitted from the replica the API wrote again.
  const id = devices[0]!;
  const killed = cluster.runs.get(id)!.at(-1)!;
  killed.process.child.kill('SIGKILL');
  await killed.process.exited;
  await untilLogged(startAgent(cluster, id), 'connected to broker node', `${id} admitted after the Redis restart`, 60_000, 250);

  await assertEveryResultOnce(t, cluster, devices);
});
