/**
 * A real fleet under attack, for the hostile-broker tests: the platform (real broker with its
 * ACL, real API, SQLite, signing keys in the data directory) on free ports, a real agent
 * provisioned through the API (so it holds the root key and the trusted-keys list the API gave
 * it), modules published signed with the platform's development publisher key, and an attacker
 * connected with the fleet API's own service credentials: it may publish every module and every
 * desired state the API may. Everything it holds is what a broker-side attacker can read.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { createLogger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import { startAgent, type RunningAgent } from '../../device-agent/agent.js';
import { KEY_FILES } from '../../fleet-api/index.js';
import { startPlatform, type RunningPlatform } from '../../platform/start-platform.js';
import {
  SERVICE_USERNAME,
  completeManifest,
  sha256Hex,
  signModule,
  signingKeyFromPem,
  topics,
  type AgentTrust,
  type Manifest,
  type ModuleEnvelope,
  type SignedDesiredState,
  type SigningKey,
} from '../../protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import type { ExampleModule } from './helpers.js';

export interface HostileFleet {
  readonly platform: RunningPlatform;
  readonly dataDir: string;
  /** REST with the admin token; throws on a non-2xx answer. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  readonly attacker: MqttClient;
  /** The platform's keys, read from its data directory, for tests that must forge or sign. */
  key(file: string): SigningKey;
  /** Agents to stop before the platform closes (an agent stopping after its broker vanished can wait on its shutdown status). */
  readonly agents: RunningAgent[];
}

export async function startHostileFleet(t: TestContext): Promise<HostileFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-hostile-'));
  const dataDir = join(dir, 'data');
  const platform = await startPlatform({ dataDir, mqttPort: 0, httpPort: 0 }, silentLogger);
  const agents: RunningAgent[] = [];
  t.after(async () => {
    await Promise.all(agents.map((agent) => agent.stop()));
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = platform.newAdminToken!;
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(platform.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const servicePassword = readFileSync(platform.dataDir.serviceSecretPath, 'utf8').trim();
  const attacker = await mqtt.connectAsync(platform.mqttUrl, {
    protocolVersion: 4,
    clientId: `attacker-${Math.random().toString(16).slice(2)}`,
    username: SERVICE_USERNAME,
    password: servicePassword,
    reconnectPeriod: 0,
  });
  t.after(() => attacker.endAsync(true));
  const key = (file: string) => signingKeyFromPem(readFileSync(join(dataDir, 'keys', file), 'utf8'));
  return { platform, dataDir, api, attacker, key, agents };
}

/** Uploads a module signed with the platform's development publisher key, as the CLI does. */
export async function publishSigned(fleet: HostileFleet, module: { manifest: Manifest; wasm: Uint8Array }): Promise<{ sha256: string }> {
  const manifest = completeManifest(module.manifest);
  const publisher = fleet.key(KEY_FILES.publisher);
  const signature = signModule({ manifest, sha256: sha256Hex(module.wasm), size: module.wasm.byteLength }, publisher);
  return fleet.api('POST', '/api/v1/modules', { manifest, wasm: Buffer.from(module.wasm).toString('base64'), signatures: [signature] });
}

/** The retained envelope the API published for `module`, as the attacker reads it. */
export async function genuineEnvelope(fleet: HostileFleet, module: ExampleModule): Promise<ModuleEnvelope> {
  const topic = topics.module(module.sha256);
  const payload = await new Promise<Buffer>((resolve) => {
    const onMessage = (received: string, bytes: Buffer) => {
      if (received !== topic) return;
      fleet.attacker.off('message', onMessage);
      resolve(bytes);
    };
    fleet.attacker.on('message', onMessage);
    void fleet.attacker.subscribeAsync(topic, { qos: 1 });
  });
  await fleet.attacker.unsubscribeAsync(topic);
  return JSON.parse(payload.toString('utf8')) as ModuleEnvelope;
}

export interface WatchedAgent {
  readonly agent: RunningAgent;
  readonly logs: Record<string, unknown>[];
  readonly stateDir: string;
}

/** Provisions `id` through the API and starts its agent; its config holds what the API returned. */
export async function provisionAgent(t: TestContext, fleet: HostileFleet, id: string, stateDir = join(fleet.dataDir, 'agents', id)): Promise<{ start(): Promise<WatchedAgent> }> {
  const provisioned = await fleet.api<{ mqtt: { url: string; username: string; password: string }; trust: AgentTrust }>('POST', '/api/v1/devices', { id, profile: 'sim-x86-64', tags: { fleet: 'hostile' } });
  return {
    async start() {
      const logs: Record<string, unknown>[] = [];
      const logger = createLogger({ level: 'debug', component: 'agent', write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) });
      const agent = await startAgent(
        { deviceId: id, broker: provisioned.mqtt, profile: 'sim-x86-64', stateDir, moduleFetchTimeoutMs: 3000, reconnectPeriodMs: 0, trust: provisioned.trust },
        { logger },
      );
      fleet.agents.push(agent);
      return { agent, logs, stateDir };
    },
  };
}

/** Deploys name@version to one device and waits until its agent applied the revision. */
/**
 * These tests read the agent's refusals; a rollout that rolled the refused module back at its
 * failure threshold would race them, so their deployments go out at once and never abort.
 */
export const NO_ROLLBACK = { canary: 0, soakSeconds: 0, ratePerMinute: 0, failureThreshold: 1_000_000 };

export async function deployTo(fleet: HostileFleet, watched: WatchedAgent, module: ExampleModule, config: Record<string, number | boolean> = {}): Promise<number> {
  await fleet.api('POST', '/api/v1/deployments', { module: module.manifest.name, version: module.manifest.version, target: { devices: [watched.agent.deviceId] }, config, strategy: NO_ROLLBACK });
  const device = await fleet.api<{ desiredRevision: number }>('GET', `/api/v1/devices/${watched.agent.deviceId}`);
  await watched.agent.whenApplied(device.desiredRevision, 10_000);
  return device.desiredRevision;
}

/**
 * The genuine desired state the device last applied, exactly as it came over the wire: what an
 * attacker on the network records. (The service account may not subscribe to desired topics, so
 * it is read from the copy the agent saved after verifying it.)
 */
export async function recordedDesired(watched: WatchedAgent): Promise<SignedDesiredState> {
  const revision = watched.agent.reportedState().revision;
  return waitFor(`desired.json at revision ${revision}`, () => {
    try {
      const saved = JSON.parse(readFileSync(join(watched.stateDir, 'desired.json'), 'utf8')) as { revision: number; desired: SignedDesiredState };
      return saved.revision === revision ? saved.desired : undefined;
    } catch {
      return undefined;
    }
  });
}

/** The error codes the device reports, as the API shows them. */
export async function reportedErrors(fleet: HostileFleet, deviceId: string): Promise<Array<{ code: string; message: string }>> {
  const device = await fleet.api<{ reported?: { errors: Array<{ code: string; message: string }> } }>('GET', `/api/v1/devices/${deviceId}`);
  return device.reported?.errors ?? [];
}

export const loggedRefusals = (logs: Record<string, unknown>[]) => logs.filter((line) => line.msg === 'desired state refused' || line.msg === 'module refused');
