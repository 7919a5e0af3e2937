/**
 * Shared parts of the rollout end-to-end tests: the probe module versions (1.0.0 and 2.0.0
 * healthy, 3.0.0 traps on every batch), a fleet of real agents split over child processes
 * (bench/rollout-agents.ts), and polling of the REST API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { KEY_FILES } from '../../fleet-api/index.js';
import { completeManifest, sha256Hex, signingKeyFromPem, signModule, type AgentTrust } from '../../protocol/index.js';

export interface Api {
  call<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export function apiClient(url: string, token: string): Api {
  return {
    async call(method, path, body) {
      const response = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

/**
 * Uploads probe@1.0.0, 2.0.0 and 3.0.0 (the trapping one), signed with the publisher key the
 * platform created in `dataDir`, as `wasmfleet module publish` would.
 */
export async function publishProbes(api: Api, dataDir: string): Promise<void> {
  const publisher = signingKeyFromPem(readFileSync(join(dataDir, 'keys', KEY_FILES.publisher), 'utf8'));
  for (const version of [1, 2, 3]) {
    const built = await ensureBuilt(fromRoot('test', 'fixtures', 'rollout', `probe-v${version}`));
    const signature = signModule({ manifest: completeManifest(built.manifest), sha256: sha256Hex(built.bytes), size: built.bytes.byteLength }, publisher);
    const res = await api.call('POST', '/api/v1/modules', { manifest: built.manifest, wasm: Buffer.from(built.bytes).toString('base64'), signatures: [signature] });
    if (res.status !== 201 && res.status !== 409) throw new Error(`upload probe v${version}: ${JSON.stringify(res.body)}`);
  }
}

export interface FleetDevice {
  deviceId: string;
  broker: { url: string; username: string; password: string };
  stateDir: string;
  trust: AgentTrust;
}

export async function provisionDevice(api: Api, dir: string, id: string, tags: Record<string, string>): Promise<FleetDevice> {
  const res = await api.call('POST', '/api/v1/devices', { id, profile: 'sim-x86-64', tags });
  if (res.status !== 201) throw new Error(`provision ${id}: ${JSON.stringify(res.body)}`);
  return { deviceId: id, broker: res.body.mqtt, stateDir: join(dir, 'agents', id), trust: res.body.trust };
}

export interface AgentProcess {
  child: ChildProcess;
  send(command: object): Promise<void>;
  stop(): Promise<void>;
}

/** Starts one child process running `devices` as real agents; resolves once they all started. */
/**
 * Agents run modules in the default metered sandbox (on their own thread): 50 worker threads on
 * a shared 2-core machine push module starts past their 5 s budget, which a rollout rightly
 * counts as failures. The worker sandbox has its own tests (test/agent/).
 */
export async function startAgentProcess(t: TestContext, dir: string, name: string, devices: FleetDevice[]): Promise<AgentProcess> {
  const specPath = join(dir, `${name}.json`);
  // Two processes at 4 devices/s stay under the broker's default 10 connections/s per address.
  writeFileSync(specPath, JSON.stringify({ profile: 'sim-x86-64', devices, startRate: 4 }));
  const child = spawn(process.execPath, [fromRoot('dist', 'bench', 'rollout-agents.js'), specPath], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, WASMFLEET_LOG_LEVEL: 'error' },
  });
  const lines = createInterface({ input: child.stdout! });
  const waiters: Array<(line: Record<string, unknown>) => boolean> = [];
  lines.on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const index = waiters.findIndex((w) => w(parsed));
    if (index >= 0) waiters.splice(index, 1);
  });
  const next = (match: (line: Record<string, unknown>) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent process ${name}: no ${what} within 60 s`)), 60_000);
      waiters.push((line) => {
        if (!match(line)) return false;
        clearTimeout(timer);
        resolve();
        return true;
      });
    });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  t.after(stop);
  await next((line) => typeof line.ready === 'number', 'ready line');
  return {
    child,
    async send(command) {
      const done = next((line) => line.ok === (command as { cmd: string }).cmd, `${JSON.stringify(command)} acknowledgement`);
      child.stdin!.write(JSON.stringify(command) + '\n');
      await done;
    },
    stop,
  };
}

export async function poll<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface DeviceRow {
  id: string;
  wave: number;
  late: boolean;
  state: string;
  reason: string | null;
  revision: number;
  publishedAt: string | null;
  appliedAt: string | null;
  updatedAt: string;
}

export interface DeploymentBody {
  id: string;
  status: string;
  statusReason: string | null;
  counts: Record<string, number>;
  waves: Array<{ index: number; name: string; size: number; state: string }>;
  devices: DeviceRow[];
}

export const FINISHED = ['completed', 'aborted', 'cancelled', 'rolled-back', 'superseded'];

export async function deploymentOf(api: Api, id: string): Promise<DeploymentBody> {
  const res = await api.call<DeploymentBody>('GET', `/api/v1/deployments/${id}`);
  if (res.status !== 200) throw new Error(`GET deployment ${id}: ${res.status}`);
  return res.body;
}

export async function untilFinished(api: Api, id: string, timeoutMs = 90_000): Promise<DeploymentBody> {
  return poll(`deployment ${id} to finish`, async () => {
    const body = await deploymentOf(api, id);
    return FINISHED.includes(body.status) && body.devices.every((d) => !['waiting', 'pending', 'applied'].includes(d.state)) && body;
  }, timeoutMs);
}

/** What the device reports running for module `probe` (version), or undefined. */
export async function runningProbe(api: Api, deviceId: string): Promise<{ version: string; revision: number } | undefined> {
  const res = await api.call('GET', `/api/v1/devices/${deviceId}`);
  const module = res.body.reported?.modules?.find((m: { name: string; state: string }) => m.name === 'probe' && m.state === 'running');
  return module ? { version: module.version, revision: res.body.reported.revision } : undefined;
}
