/**
 * The cluster of docs/scale-out.md as real processes, for the tests that break it: a real
 * redis-server on a free port in its own temp dir, two `wasmfleet broker --redis` nodes, one
 * `wasmfleet api --redis` listing both, and `wasmfleet agent` processes whose configs list both
 * nodes. Every process keeps its port and data directory, so any of them can be killed and started
 * again in place. `Cluster.start` registers the cleanup (agents, API, nodes, then Redis and every
 * temp dir), which runs whether the test passed or not.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { fromRoot } from '../../common/paths.js';
import { runCliJson, startCli, type RunningCli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { freePort, logLines, type AgentRun } from './fault-helpers.js';

export type NodeIndex = 0 | 1;

export interface ClusterOptions {
  /** Passed to every node as `--heartbeat-ms` (cluster mode's default is 60 s: wills of a dead node come minutes later). */
  readonly heartbeatMs?: number;
}

export class Cluster {
  readonly dataDir: string;
  readonly nodes: (RunningCli | undefined)[] = [];
  api: RunningCli | undefined;
  /** Every run of every device's agent, oldest first (the accounting reads them all). */
  readonly agents = new Map<string, AgentRun[]>();
  env: Record<string, string> = {};

  private constructor(
    readonly redis: TestRedis,
    readonly dir: string,
    readonly nodeUrls: readonly [string, string],
    readonly apiUrl: string,
    private readonly options: ClusterOptions,
  ) {
    this.dataDir = join(dir, 'data');
    mkdirSync(this.dataDir, { recursive: true });
  }

  /** Redis, both nodes and the API, started; stopped and removed after the test whatever its outcome. */
  static async start(t: TestContext, options: ClusterOptions = {}): Promise<Cluster> {
    // No TestContext for Redis: its own t.after would run before this one (hooks run in the order
    // they were added), and the processes should stop before Redis goes.
    const redis = await startRedis(undefined);
    const dir = mkdtempSync(join(tmpdir(), 'wf-cluster-proc-'));
    const nodeUrls = [`mqtt://127.0.0.1:${await freePort()}`, `mqtt://127.0.0.1:${await freePort()}`] as const;
    const cluster = new Cluster(redis, dir, nodeUrls, `http://127.0.0.1:${await freePort()}`, options);
    t.after(() => cluster.dispose());
    await cluster.startNode(0);
    await cluster.startNode(1);
    await cluster.startApi();
    return cluster;
  }

  /** Every process still running gets SIGTERM (SIGKILL after 5 s); then Redis and the temp dirs go. */
  private async dispose(): Promise<void> {
    try {
      for (const runs of this.agents.values()) await Promise.all(runs.map((run) => run.process.stop()));
      if (this.api) {
        this.api.child.kill('SIGCONT');
        await this.api.stop();
      }
      await Promise.all(this.nodes.map((node) => node?.stop()));
    } finally {
      await this.redis.dispose();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  get redisUrl(): string {
    return this.redis.url;
  }

  nodePort(index: NodeIndex): number {
    return Number(new URL(this.nodeUrls[index]).port);
  }

  async startNode(index: NodeIndex): Promise<void> {
    const heartbeat = this.options.heartbeatMs === undefined ? [] : ['--heartbeat-ms', String(this.options.heartbeatMs)];
    const args = ['broker', '--data', join(this.dir, `node-${index}`), '--mqtt-port', String(this.nodePort(index)), '--redis', this.redisUrl, ...heartbeat, '--json'];
    const node = startCli(args, { WASMFLEET_LOG_LEVEL: 'warn' });
    this.nodes[index] = node;
    await waitFor(`broker node ${index} to start`, () => (node.output().includes('"mqtt"') ? true : undefined), 30_000);
  }

  async startApi(): Promise<void> {
    const nodeArgs = this.nodeUrls.flatMap((url) => ['--mqtt-url', url, '--public-mqtt-url', url]);
    const args = ['api', '--data', this.dataDir, '--http-port', new URL(this.apiUrl).port, '--redis', this.redisUrl, ...nodeArgs, '--json'];
    const api = startCli(args, { WASMFLEET_LOG_LEVEL: process.env.DEBUG_CLUSTER ? 'debug' : 'warn' });
    this.api = api;
    await waitFor('the api to start', () => (api.output().includes('"adminTokenFile"') ? true : undefined), 30_000);
    const token = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
    this.env = { WASMFLEET_API: this.apiUrl, WASMFLEET_TOKEN: token, WASMFLEET_PUBLISHER_KEY: join(this.dataDir, 'keys', 'publisher.key') };
  }

  /** Provisions a device whose agent lists both nodes, node B first if `bFirst`, and reconnects fast. */
  async addDevice(id: string, bFirst: boolean): Promise<void> {
    const path = join(this.dir, `${id}.json`);
    await runCliJson(['device', 'add', id, '--profile', 'sim-x86-64', '--agent-config', path], this.env);
    const config = JSON.parse(readFileSync(path, 'utf8')) as { broker: { urls?: string[]; url?: string } };
    assert.deepEqual(config.broker.urls, this.nodeUrls, 'the agent config lists the nodes the API was given');
    const urls = bFirst ? [...this.nodeUrls].reverse() : [...this.nodeUrls];
    writeFileSync(path, JSON.stringify({ ...config, broker: { ...config.broker, urls, url: urls[0] }, reconnectPeriodMs: 200, reconnectMaxMs: 2000 }, null, 2));
  }

  startAgent(id: string): AgentRun {
    const process = startCli(['agent', '--config', join(this.dir, `${id}.json`)], { WASMFLEET_LOG_LEVEL: 'info' });
    const run: AgentRun = {
      process,
      firstSeq: () => waitFor(`${id}'s start log`, () => logLines(process.output()).find((line) => line.msg === 'results sequence resumes')?.nextSeq as number | undefined, 15_000),
    };
    this.agents.set(id, [...(this.agents.get(id) ?? []), run]);
    return run;
  }

  /** The newest run of a device's agent. */
  lastRun(id: string): AgentRun {
    return this.agents.get(id)!.at(-1)!;
  }

  async publishEma(): Promise<void> {
    await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], this.env);
  }

  storedSeqs(deviceId: string): number[] {
    const db = new Database(join(this.dataDir, 'fleet.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT seq FROM result_batches WHERE device_id = ? ORDER BY seq').pluck().all(deviceId) as number[];
    } finally {
      db.close();
    }
  }
}

/** The ports of the nodes a run reported being connected to, in order. */
export const nodePortsOf = (run: AgentRun): number[] =>
  logLines(run.process.output())
    .filter((line) => line.msg === 'connected to broker node')
    .map((line) => Number(line.port));
