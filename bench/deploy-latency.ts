/**
 * From `POST /api/v1/deployments` to results of that deployment from every targeted device, over
 * the whole real path: REST → SQLite → retained desired state → agent processes fetch, verify,
 * instantiate → first batch → results → ingestion → REST. Baseline: the bare transport floor, a
 * retained publish fanned out to as many subscribers by a bare Aedes, measured in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { startPlatform } from '../platform/start-platform.js';
import { createApiClient } from '../cli/api-client.js';
import { writeAgentConfig } from '../cli/commands/device.js';
import { publishModuleDir } from '../cli/commands/module.js';
import { loadSigningKey } from '../cli/commands/keys.js';
import { KEY_FILES } from '../fleet-api/index.js';
import { fromRoot } from '../common/paths.js';
import { silentLogger } from '../common/logger.js';
import { startCli } from '../test/helpers/cli.js';
import { figure, median, type BenchFigure } from './figure.js';

async function bareFanOutMs(subscribers: number, rounds: number): Promise<number> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients = await Promise.all(Array.from({ length: subscribers + 1 }, () => mqtt.connectAsync(url, { protocolVersion: 4 })));
  const [publisher, ...readers] = clients as [mqtt.MqttClient, ...mqtt.MqttClient[]];
  const times: number[] = [];
  try {
    // Subscribed once, like agents on their desired topic; each round times publish → delivered to all.
    await Promise.all(readers.map((reader) => reader.subscribeAsync('bench/#', { qos: 1 })));
    for (let round = 0; round < rounds; round += 1) {
      const received = Promise.all(readers.map((reader) => new Promise<void>((resolve) => reader.once('message', () => resolve()))));
      const start = performance.now();
      await publisher.publishAsync(`bench/${round}`, Buffer.alloc(512), { qos: 1, retain: true });
      await received;
      times.push(performance.now() - start);
    }
  } finally {
    await Promise.all(clients.map((client) => client.endAsync()));
    await broker.close();
    server.close();
  }
  return median(times);
}

export async function benchDeployLatency(options: { devices?: number; rounds?: number } = {}): Promise<BenchFigure[]> {
  const deviceCount = options.devices ?? 3;
  const rounds = options.rounds ?? 5;
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-deploy-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  const api = createApiClient(platform.apiUrl, platform.newAdminToken!);
  const agents: ReturnType<typeof startCli>[] = [];
  const latencies: number[] = [];
  try {
    const ids = Array.from({ length: deviceCount }, (_, i) => `bench-${i}`);
    for (const id of ids) {
      const provisioned = await api.post<Parameters<typeof writeAgentConfig>[1]>('/api/v1/devices', { id, profile: 'sim-x86-64', tags: { bench: 'deploy' } });
      agents.push(startCli(['agent', '--config', writeAgentConfig(join(dir, `${id}.json`), provisioned)], { WASMFLEET_LOG_LEVEL: 'warn' }));
    }
    await publishModuleDir(api, fromRoot('modules-as', 'examples', 'ema'), loadSigningKey(join(platform.api.signing.keysDir, KEY_FILES.publisher), 'publisher key'));
    await waitUntil(async () => (await api.get<{ devices: unknown[] }>('/api/v1/devices', { online: true })).devices.length === deviceCount);

    for (let round = 0; round < rounds; round += 1) {
      const start = performance.now();
      const startedAt = Date.now();
      // A new config each round: every device must restart the module with it.
      const created = await api.post<{ id: string }>('/api/v1/deployments', {
        module: 'ema',
        version: '1.0.0',
        target: { tags: { bench: 'deploy' } },
        config: { alpha: 0.1 + round * 0.01, every: 1 },
        // Every device at once: this measures the path, not a staged rollout (bench/rollout-scale.ts).
        strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 },
      });
      const pending = new Set(ids);
      await waitUntil(async () => {
        for (const id of [...pending]) {
          const page = await api.get<{ results: { deploymentId: string }[] }>(`/api/v1/devices/${id}/results`, { from: startedAt - 1000, limit: 1000 });
          if (page.results.some((row) => row.deploymentId === created.id)) pending.delete(id);
        }
        return pending.size === 0;
      });
      latencies.push(performance.now() - start);
    }
  } finally {
    await Promise.all(agents.map((agent) => agent.stop()));
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const baseline = await bareFanOutMs(deviceCount, 20);
  return [
    figure({
      bench: 'deploy-latency',
      subject: `POST /deployments → results from all ${deviceCount} agents (median of ${rounds})`,
      baseline: `bare Aedes retained fan-out to ${deviceCount} subscribers (median of 20)`,
      unit: 'ms',
      subjectValue: median(latencies),
      baselineValue: baseline,
      note: `lower is better; target < 3000 ms; worst round ${Math.round(Math.max(...latencies))} ms; includes one batch interval (250 ms on sim-x86-64)`,
    }),
  ];
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('benchmark timed out waiting for the fleet');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchDeployLatency(), null, 2));
}
