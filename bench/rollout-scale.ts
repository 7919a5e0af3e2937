/**
 * Rollout at fleet scale: from `POST /api/v1/deployments` (unthrottled: no canary, no soak, no
 * rate limit) to every one of 1,000 simulated devices applied, and the devices/minute it implies.
 * The devices are real agents, 250 per process in 4 processes (bench/rollout-agents.ts): each
 * receives its desired state over MQTT, fetches the module from its retained topic, verifies it
 * (topic hash, length, sha256, manifest, ABI) and instantiates and runs it in the agents'
 * default metered sandbox (on their thread, CPU budget compiled in) with a light profile (one
 * 2 Hz source). The broker's connection-rate limits are off.
 * Baseline, same run: a bare Aedes delivering 1,000 retained messages of the same size to 1,000
 * subscribers, one topic each (the transport floor).
 */
import { fetchAllPages } from '../cli/paging.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { startBroker } from '../broker/index.js';
import { createApiClient } from '../cli/api-client.js';
import { publishModuleDir } from '../cli/commands/module.js';
import { fromRoot } from '../common/paths.js';
import { silentLogger } from '../common/logger.js';
import { createFleetApi, KEY_FILES, openStore, storeCredentialVerifier } from '../fleet-api/index.js';
import { SERVICE_USERNAME, type AgentTrust } from '../protocol/index.js';
import { loadSigningKey } from '../cli/commands/keys.js';
import { figure, type BenchFigure } from './figure.js';

interface Options {
  devices?: number;
  processes?: number;
}

const TARGET_MS = 10_000;

/** sim-x86-64 with one slow source: the agents' sensor load stays small next to the rollout. */
export function lightProfile(dir: string): string {
  const profile = JSON.parse(readFileSync(fromRoot('firmware-profiles', 'sim-x86-64.json'), 'utf8')) as { name: string; sources: Array<Record<string, unknown>>; batch: Record<string, number> };
  profile.sources = [{ ...profile.sources[0]!, rateHz: 2 }];
  profile.batch = { ...profile.batch, intervalMs: 1000 };
  const path = join(dir, 'bench-light.json');
  writeFileSync(path, JSON.stringify(profile));
  return path;
}

/** Starts one bench/rollout-agents.js process on its spec file; resolves once all its agents started; `onSpawn` gets the child at once. */
export function startFleet(specPath: string, onSpawn?: (child: ChildProcess) => void, readyTimeoutMs = 120_000): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--max-old-space-size=2048', fromRoot('dist', 'bench', 'rollout-agents.js'), specPath], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, WASMFLEET_LOG_LEVEL: process.env.WF_BENCH_AGENT_LOG ?? 'error' },
  });
  // The caller can stop it even when it never gets ready.
  onSpawn?.(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent process not ready within ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"ready"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`agent process exited with ${code}`)));
  });
}

export async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`benchmark timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

async function bareFanOutMs(subscribers: number, bytes: number): Promise<number> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const readers: mqtt.MqttClient[] = [];
  for (let i = 0; i < subscribers; i += 50) {
    readers.push(...(await Promise.all(Array.from({ length: Math.min(50, subscribers - i) }, () => mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })))));
  }
  const publisher = await mqtt.connectAsync(url, { protocolVersion: 4 });
  try {
    await Promise.all(readers.map((reader, i) => reader.subscribeAsync(`bench/${i}/desired`, { qos: 1 })));
    const received = Promise.all(readers.map((reader) => new Promise<void>((resolve) => reader.once('message', () => resolve()))));
    const start = performance.now();
    await Promise.all(readers.map((_, i) => publisher.publishAsync(`bench/${i}/desired`, Buffer.alloc(bytes, 0x20), { qos: 1, retain: true })));
    await received;
    return performance.now() - start;
  } finally {
    await Promise.all([publisher, ...readers].map((client) => client.endAsync(true)));
    await broker.close();
    server.close();
  }
}

export async function benchRolloutScale(options: Options = {}): Promise<BenchFigure[]> {
  const deviceCount = options.devices ?? 1000;
  const processCount = options.processes ?? 4;
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-rollout-'));
  const store = openStore(join(dir, 'fleet.db'));
  const service = { username: SERVICE_USERNAME, password: 'bench-service-password' };
  const broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    verifier: storeCredentialVerifier(store, service),
    logger: silentLogger,
    // A bench config: a thousand devices connect from one address within seconds.
    connectRatePerAddress: 0,
    connectRateGlobal: 0,
  });
  const fleet = await createFleetApi(
    { dbPath: join(dir, 'fleet.db'), http: { host: '127.0.0.1', port: 0 }, mqtt: { url: broker.url, password: service.password, publishTimeoutMs: 30_000 } },
    { logger: silentLogger, store },
  );
  const children: ChildProcess[] = [];
  let elapsedMs: number;
  let desiredBytes = 400;
  try {
    const { url } = await fleet.listen();
    const api = createApiClient(url, fleet.createAdminToken('bench'));
    const profile = lightProfile(dir);
    const devices: Array<{ deviceId: string; broker: { url: string; username: string; password: string }; stateDir: string; trust: AgentTrust }> = [];
    for (let i = 0; i < deviceCount; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, deviceCount - i) }, async (_, j) => {
          const id = `bench-${String(i + j).padStart(4, '0')}`;
          const provisioned = await api.post<{ mqtt: { url: string; username: string; password: string }; trust: AgentTrust }>('/api/v1/devices', { id, profile: 'sim-x86-64', tags: { bench: 'rollout' } });
          return { deviceId: id, broker: provisioned.mqtt, stateDir: join(dir, 'agents', id), trust: provisioned.trust };
        }),
      );
      devices.push(...batch);
    }
    await publishModuleDir(api, fromRoot('modules-as', 'examples', 'ema'), loadSigningKey(join(fleet.signing.keysDir, KEY_FILES.publisher), 'publisher key'));
    const per = Math.ceil(deviceCount / processCount);
    const specs = Array.from({ length: processCount }, (_, p) => {
      const path = join(dir, `fleet-${p}.json`);
      // Paced: every connect costs the broker a scrypt verification (~30/s on a loaded 2-core
      // machine); past that rate connects time out, retry, and the queue only grows.
      writeFileSync(path, JSON.stringify({ profile, startRate: 6, devices: devices.slice(p * per, (p + 1) * per) }));
      return path;
    });
    children.push(...(await Promise.all(specs.map((spec) => startFleet(spec)))));
    await until('every device online', async () => (await fetchAllPages(api, '/api/v1/devices', 'devices', { online: true })).length === deviceCount, 600_000, 1000);

    const start = performance.now();
    const created = await api.post<{ id: string }>('/api/v1/deployments', {
      module: 'ema',
      version: '1.0.0',
      target: { tags: { bench: 'rollout' } },
      config: { alpha: 0.2 },
      strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 },
    });
    await until(
      'every device applied',
      async () => (await api.get<{ counts: Record<string, number> }>(`/api/v1/deployments/${created.id}`)).counts.healthy === deviceCount,
      120_000,
      100,
    );
    elapsedMs = performance.now() - start;
    desiredBytes = JSON.stringify(store.getDevice(devices[0]!.deviceId)!.desired).length;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
    await fleet.close();
    await broker.close();
    store.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
  const baseline = await bareFanOutMs(deviceCount, desiredBytes);
  const perMinute = Math.round((deviceCount / elapsedMs) * 60_000);
  return [
    figure({
      bench: 'rollout-scale',
      subject: `POST /deployments → all ${deviceCount} simulated devices applied (unthrottled, ${processCount} agent processes, metered sandbox)`,
      baseline: `bare Aedes: ${deviceCount} retained ${desiredBytes}-byte messages to ${deviceCount} subscribers`,
      unit: 'ms',
      subjectValue: elapsedMs,
      baselineValue: baseline,
      note: `lower is better; target < ${TARGET_MS} ms; ${perMinute.toLocaleString('en-US')} devices/minute (AWS IoT Jobs caps at 1,000)`,
    }),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchRolloutScale({ devices: Number(process.env.DEVICES ?? 1000) }), null, 2));
  process.exit(0);
}
