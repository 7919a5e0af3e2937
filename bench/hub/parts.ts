/**
 * What the hub benchmarks (fanout.ts, backlog.ts) share: a cleanup stack that stops every
 * process they start even when a run fails, the centre as a real `wasmfleet server` process
 * (test/e2e/fault-helpers.ts Fleet), hubs provisioned through the API and run as processes of their
 * own (hub-child.ts), agents many to a process (bench/rollout-agents.ts), and SQLite read beside
 * the running server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { createApiClient, type ApiClient } from '../../cli/api-client.js';
import { fromRoot } from '../../common/paths.js';
import type { AgentTrust } from '../../protocol/index.js';
import { Fleet, freePort } from '../../test/e2e/fault-helpers.js';
import { startFleet } from '../rollout-scale.js';
import { stopChild } from '../stop-child.js';

/** Cleanups run last-registered first; shaped like node:test's `t.after`, so test helpers register here too. */
export class Cleanups {
  readonly #steps: (() => unknown)[] = [];

  after = (step: () => unknown): void => void this.#steps.push(step);

  get context(): TestContext {
    return this as unknown as TestContext;
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`bench cleanup step failed: ${String(error)}\n`);
      }
    }
  }
}

export interface Central {
  readonly fleet: Fleet;
  readonly api: ApiClient;
  readonly dbPath: string;
}

/** `wasmfleet server` (broker + API + SQLite) in its own process, stopped by `cleanups`. */
export async function startCentral(cleanups: Cleanups): Promise<Central> {
  const fleet = await Fleet.start(cleanups.context);
  return { fleet, api: createApiClient(fleet.apiUrl, fleet.env.WASMFLEET_TOKEN!), dbPath: join(fleet.dataDir, 'fleet.db') };
}

export interface ProvisionedDevice {
  deviceId: string;
  broker: { url: string; username: string; password: string };
  stateDir: string;
  trust: AgentTrust;
}

/** Devices through POST /devices/batch (each behind the hub its tags select, if any); `brokerUrl` is what their agents connect to. */
export async function provisionDevices(central: Central, ids: string[], tags: Record<string, string>, brokerUrl: string, stateRoot: string): Promise<ProvisionedDevice[]> {
  const created = await central.api.post<{ devices: { mqtt: { username: string; password: string } }[]; trust: AgentTrust }>('/api/v1/devices/batch', {
    devices: ids.map((id) => ({ id, profile: 'sim-x86-64', tags })),
  });
  return ids.map((deviceId, i) => ({
    deviceId,
    broker: { url: brokerUrl, username: created.devices[i]!.mqtt.username, password: created.devices[i]!.mqtt.password },
    stateDir: join(stateRoot, deviceId),
    trust: created.trust,
  }));
}

export interface HubState {
  siteRevision: number;
  uplink: boolean;
  backlog: { batches: number; bytes: number; oldestAt: string | null };
}

/** A hub in its own process (hub-child.ts: what `wasmfleet hub --config` runs). */
export class HubProcess {
  readonly #lines: Interface;
  readonly #waiting: ((state: HubState) => void)[] = [];
  readonly #profiled: ((top: string[]) => void)[] = [];
  readonly #exited: Promise<void>;

  private constructor(
    readonly hubId: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    this.#lines = createInterface({ input: child.stdout! });
    this.#lines.on('line', (line) => {
      if (line.startsWith('{"profiled"')) this.#profiled.shift()?.((JSON.parse(line) as { profiled: string[] }).profiled);
      if (!line.startsWith('{"state"')) return;
      this.#waiting.shift()?.((JSON.parse(line) as { state: HubState }).state);
    });
    this.#exited = new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  }

  /**
   * Provisions hub `hubId` (POST /hubs: `selector` puts devices behind it), writes its config
   * (upstream `upstreamUrl`, site broker on a free loopback port, data in `dir`) and starts it.
   */
  static async start(
    cleanups: Cleanups,
    central: Central,
    hubId: string,
    selector: Record<string, string>,
    upstreamUrl: string,
    dir: string,
    /** Given: the hub logs at debug and every log line comes here instead of stderr. */
    onLogLine?: (line: string) => void,
  ): Promise<HubProcess> {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const provisioned = await central.api.post<{ upstream: { password: string } }>('/api/v1/hubs', { id: hubId, urls: [url], selector });
    const config = join(dir, `${hubId}.hub.json`);
    writeFileSync(
      config,
      JSON.stringify({
        hubId,
        secret: provisioned.upstream.password,
        upstream: { urls: [upstreamUrl], reconnectPeriodMs: 200 },
        listen: { host: '127.0.0.1', port },
        dataDir: join(dir, hubId),
        statusIntervalMs: 1000,
        logLevel: 'warn',
      }),
    );
    const child = spawn(process.execPath, [fromRoot('dist', 'bench', 'hub', 'hub-child.js'), config], {
      stdio: ['pipe', 'pipe', onLogLine ? 'pipe' : 'inherit'],
      env: { ...process.env, WASMFLEET_LOG_LEVEL: onLogLine ? 'debug' : (process.env.WF_BENCH_HUB_LOG ?? 'warn') },
    });
    if (onLogLine) createInterface({ input: child.stderr! }).on('line', onLogLine);
    const hub = new HubProcess(hubId, url, child);
    cleanups.after(() => hub.stop());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hub ${hubId} not ready within 60 s`)), 60_000);
      hub.#lines.on('line', (line) => {
        if (line.startsWith('{"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`hub ${hubId} exited with ${code}`)));
    });
    return hub;
  }

  state(): Promise<HubState> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hub ${this.hubId} did not answer within 10 s`)), 10_000);
      this.#waiting.push((state) => {
        clearTimeout(timer);
        resolve(state);
      });
      this.child.stdin!.write('{"cmd":"state"}\n');
    });
  }

  /** Starts a CPU profile of the hub process (hub-child.ts). */
  profileStart(): void {
    this.child.stdin!.write('{"cmd":"profile-start"}\n');
  }

  /** Stops it: DIR/<name>.cpuprofile, resolves with its top functions by self time. */
  profileStop(dir: string, name: string): Promise<string[]> {
    return new Promise((resolve) => {
      this.#profiled.push(resolve);
      this.child.stdin!.write(JSON.stringify({ cmd: 'profile-stop', dir, name }) + '\n');
    });
  }

  /** SIGTERM (the hub stops within 5 s), SIGKILL past 8 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 8000);
    await this.#exited;
    clearTimeout(timer);
  }
}

export interface AgentFleetSpec {
  readonly profile: string;
  readonly startRate?: number;
  readonly reconnectPeriodMs?: number;
  readonly devices: ProvisionedDevice[];
}

/** One bench/rollout-agents.js process (real agents, many to a process), stopped by `cleanups`. */
export async function startAgents(cleanups: Cleanups, dir: string, name: string, spec: AgentFleetSpec): Promise<ChildProcess> {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(spec));
  return startFleet(path, (child) => {
    cleanups.after(() => stopChild(child, 15_000));
  });
}

export interface StoredCounts {
  /** Rows of result_batches: one per (deviceId, seq), the primary key. */
  batches: number;
  /** Metric point rows: a batch ingested twice would show here as extra rows. */
  points: number;
  /** Devices whose stored seqs are not one gap-free run. */
  devicesWithGaps: number;
}

/** Counts for the devices whose ids start with `prefix`, read from SQLite beside the running server (WAL). */
export function storedCounts(dbPath: string, prefix: string, withPoints = false): StoredCounts {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const range = { from: prefix, to: prefix + '\uffff' };
    const batches = db.prepare('SELECT count(*) FROM result_batches WHERE device_id >= @from AND device_id < @to').pluck().get(range) as number;
    if (!withPoints) return { batches, points: 0, devicesWithGaps: 0 };
    const points = db.prepare('SELECT count(*) FROM results WHERE device_id >= @from AND device_id < @to').pluck().get(range) as number;
    const devicesWithGaps = db
      .prepare('SELECT count(*) FROM (SELECT device_id FROM result_batches WHERE device_id >= @from AND device_id < @to GROUP BY device_id HAVING max(seq) - min(seq) + 1 != count(*))')
      .pluck()
      .get(range) as number;
    return { batches, points, devicesWithGaps };
  } finally {
    db.close();
  }
}

/** Devices `0…n-1` named `prefix` + a zero-padded number. */
export function deviceIds(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
}
