/**
 * `wasmfleet demo`: the whole loop on one machine in under a minute: platform, 5 simulated
 * devices under two tags, the example modules published and deployed, live results printed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { startPlatform } from '../../platform/start-platform.js';
import { startAgent, type RunningAgent } from '../../device-agent/agent.js';
import { exampleModuleDirs } from '../../modules-as/tools/build-examples.js';
import { createLogger } from '../../common/logger.js';
import { createApiClient } from '../api-client.js';
import type { GlobalArgs } from '../global-options.js';
import { progress } from '../output.js';
import { untilShutdownSignal } from '../../common/signals.js';
import { publishModuleDir } from './module.js';
import { loadSigningKey } from './keys.js';
import { KEY_FILES } from '../../fleet-api/index.js';
import type { AgentTrust } from '../../protocol/index.js';
import { waitForDeployment } from './deploy.js';

interface DemoArgs extends GlobalArgs {
  devices: number;
  duration: number;
  data?: string;
}

const DEMO_DEPLOYMENTS = [
  { module: 'ema', target: { tags: { site: 'north' } }, input: 'temperature', config: { alpha: 0.2, every: 25 } },
  { module: 'threshold', target: { profile: 'sim-x86-64' }, input: 'temperature', config: {} },
  { module: 'zscore', target: { tags: { site: 'south' } }, input: 'vibration', config: { threshold: 3 } },
];

interface ResultRow {
  seq: number;
  module: string;
  kind?: string;
  metric: string;
  t: number;
  value: number;
}

export const demoCommand: CommandModule<GlobalArgs, DemoArgs> = {
  command: 'demo',
  describe: 'Start the platform with simulated devices, publish and deploy the example modules, print live results',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .option('devices', { type: 'number', default: 5, describe: 'simulated devices (split between site=north and site=south)' })
      .option('duration', { type: 'number', default: 0, describe: 'stop after this many seconds (0: until Ctrl-C)' })
      .option('data', { type: 'string', describe: 'data directory to keep (default: a temp dir removed on exit)' })
      .example('$0 demo', 'the whole loop live; Ctrl-C stops everything')
      .example('$0 demo --duration 20 --json', '20 seconds of results as JSON lines') as Argv<DemoArgs>,
  handler: async (args) => {
    const tempDir = args.data ? undefined : mkdtempSync(join(tmpdir(), 'wasmfleet-demo-'));
    const dataDir = args.data ?? join(tempDir!, 'data');
    const logger = createLogger({ component: 'demo', level: process.env.WASMFLEET_LOG_LEVEL ? undefined : 'warn' });
    const step = progress(5);
    const agents: RunningAgent[] = [];

    step('starting broker and REST API');
    const platform = await startPlatform({ dataDir, mqttPort: 0, httpPort: 0 }, logger);
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        await Promise.allSettled(agents.map((agent) => agent.stop()));
        await platform.close();
        if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      })());

    try {
      const token = platform.newAdminToken ?? readFileSync(platform.dataDir.adminTokenPath, 'utf8').trim();
      const api = createApiClient(platform.apiUrl, token);

      step(`provisioning ${args.devices} devices and starting their agents`);
      for (let i = 1; i <= args.devices; i += 1) {
        const id = `demo-${String(i).padStart(2, '0')}`;
        const site = i <= Math.ceil(args.devices / 2) ? 'north' : 'south';
        const provisioned = await api.post<{ mqtt: { url: string; username: string; password: string }; trust: AgentTrust }>('/api/v1/devices', {
          id,
          profile: 'sim-x86-64',
          tags: { site },
        });
        agents.push(
          await startAgent(
            { deviceId: id, broker: provisioned.mqtt, profile: 'sim-x86-64', stateDir: join(dataDir, 'agents', id), trust: provisioned.trust },
            { logger: logger.child({ component: 'agent', deviceId: id }) },
          ),
        );
      }

      step('building and publishing the example modules');
      // Signed with the development publisher key the platform created in its data directory.
      const publisher = loadSigningKey(join(platform.api.signing.keysDir, KEY_FILES.publisher), 'publisher key');
      for (const dir of exampleModuleDirs()) await publishModuleDir(api, dir, publisher);

      step('deploying: ema to site=north, zscore to site=south, threshold to every sim-x86-64 device');
      for (const deployment of DEMO_DEPLOYMENTS) {
        // Every demo device at once: a staged rollout (docs/rollouts.md) would soak a minute per wave.
        const created = await api.post<{ id: string }>('/api/v1/deployments', { ...deployment, version: '1.0.0', strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 } });
        const view = await waitForDeployment(api, created.id, 30_000);
        process.stderr.write(`    ${deployment.module}@1.0.0 applied on ${view.counts.applied} device(s), failed ${view.counts.failed}\n`);
      }

      step(`live results from ${platform.apiUrl}/api/v1 (token in ${platform.dataDir.adminTokenPath}); Ctrl-C stops`);
      const since = new Map<string, number>();
      // Every event, and the latest value of each metric, in time order across devices.
      const poll = async () => {
        const lines: (ResultRow & { device: string })[] = [];
        for (const agent of agents) {
          const page = await api.get<{ results: ResultRow[] }>(`/api/v1/devices/${agent.deviceId}/results`, {
            from: (since.get(agent.deviceId) ?? Date.now() - 2000) + 1,
            limit: 1000,
          });
          const latest = new Map<string, ResultRow>();
          for (const row of page.results) {
            if (row.kind === 'event') lines.push({ device: agent.deviceId, ...row });
            else latest.set(`${row.module}/${row.metric}`, row);
            since.set(agent.deviceId, Math.max(since.get(agent.deviceId) ?? 0, row.t));
          }
          for (const row of latest.values()) lines.push({ device: agent.deviceId, ...row });
        }
        lines.sort((a, b) => a.t - b.t || a.device.localeCompare(b.device));
        for (const row of lines) {
          if (args.json) process.stdout.write(JSON.stringify(row) + '\n');
          else {
            const name = (row.kind === 'event' ? 'event ' : '') + row.metric;
            process.stdout.write(`${new Date(row.t).toISOString().slice(11, 23)}  ${row.device}  ${row.module.padEnd(9)} ${name.padEnd(20)} ${row.value.toFixed(3)}\n`);
          }
        }
      };
      const timer = setInterval(() => void poll().catch((error) => logger.warn('poll failed', { error })), 1000);
      await (args.duration > 0 ? new Promise((r) => setTimeout(r, args.duration * 1000)) : untilShutdownSignal());
      clearInterval(timer);
    } finally {
      await stop();
    }
  },
};
