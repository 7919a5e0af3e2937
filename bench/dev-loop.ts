/**
 * `wasmfleet module dev`: from saving a source file to the first result of the new version on
 * the device, over the whole real path (debug build, sign, publish, roll the previous dev
 * deployment back, deploy, agent fetch/verify/instantiate, first batch, ingest, live event,
 * the loop's output). Baseline, measured in the same run on the same platform and agent: the
 * same cycle done by hand with separate CLI commands (`module build`, `module publish`,
 * `deploy --immediate`, then `results` repeated until the new deployment's first row).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startPlatform } from '../platform/start-platform.js';
import { createApiClient } from '../cli/api-client.js';
import { writeAgentConfig } from '../cli/commands/device.js';
import { KEY_FILES } from '../fleet-api/index.js';
import { fromRoot } from '../common/paths.js';
import { silentLogger } from '../common/logger.js';
import { runCli, startCli } from '../test/helpers/cli.js';
import { figure, median, type BenchFigure } from './figure.js';

const MANIFEST = (version: string) => ({
  name: 'devbench',
  version,
  abi: 2,
  description: 'Bench module for module dev.',
  inputs: [{ name: 'x' }],
  metrics: [{ name: 'scaled' }],
});

const source = (factor: number): string =>
  [
    'import { Batch, metric, onBatch } from "../../../modules-as/sdk/assembly";',
    'export * from "../../../modules-as/sdk/assembly/exports";',
    'const scaled = metric("scaled");',
    'function process(batch: Batch): void {',
    '  if (batch.length == 0) return;',
    `  scaled.emit(batch.lastTime(), <f64>batch.length * ${factor}.0);`,
    '}',
    'onBatch(process);',
    '',
  ].join('\n');

function writeModule(dir: string, version: string, factor: number): void {
  mkdirSync(join(dir, 'assembly'), { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(MANIFEST(version), null, 2));
  writeFileSync(
    join(dir, 'asconfig.json'),
    JSON.stringify({
      entries: ['assembly/index.ts'],
      targets: { debug: { outFile: 'build/debug.wasm', sourceMap: true, debug: true }, release: { outFile: 'build/release.wasm', optimizeLevel: 3, noAssert: true } },
      options: { runtime: 'stub', importMemory: true, noExportMemory: true, initialMemory: 1, bindings: false },
    }),
  );
  writeFileSync(join(dir, 'assembly', 'index.ts'), source(factor));
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('benchmark timed out');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export async function benchDevLoop(options: { rounds?: number } = {}): Promise<BenchFigure[]> {
  const rounds = options.rounds ?? 5;
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-dev-'));
  mkdirSync(fromRoot('.tmp'), { recursive: true });
  // Inside the checkout, so the source's relative SDK import resolves.
  const moduleDir = mkdtempSync(join(fromRoot('.tmp'), 'devbench-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  const token = platform.newAdminToken!;
  const api = createApiClient(platform.apiUrl, token);
  const env = { WASMFLEET_API: platform.apiUrl, WASMFLEET_TOKEN: token, WASMFLEET_PUBLISHER_KEY: join(platform.api.signing.keysDir, KEY_FILES.publisher), WASMFLEET_LOG_LEVEL: 'warn' };
  const provisioned = await api.post<Parameters<typeof writeAgentConfig>[1]>('/api/v1/devices', { id: 'bench-dev', profile: 'sim-x86-64' });
  const agent = startCli(['agent', '--config', writeAgentConfig(join(dir, 'bench-dev.json'), provisioned)], { WASMFLEET_LOG_LEVEL: 'warn' });
  const devTimes: number[] = [];
  const manualTimes: number[] = [];
  let dev: ReturnType<typeof startCli> | undefined;
  try {
    await until(async () => ((await api.get<{ devices: unknown[] }>('/api/v1/devices', { online: true })).devices.length === 1 ? true : undefined));

    // Baseline: the cycle by hand, each step its own CLI process, as an author would type them.
    for (let round = 0; round < rounds; round += 1) {
      const version = `1.0.${round}`;
      const start = performance.now();
      const startedAt = Date.now();
      writeModule(moduleDir, version, round + 1);
      for (const args of [['module', 'build', moduleDir, '--debug'], ['module', 'publish', moduleDir]]) {
        const run = await runCli(args, env);
        if (run.code !== 0) throw new Error(`${args.join(' ')}: ${run.stderr}`);
      }
      const deployed = await runCli(['deploy', `devbench@${version}`, '--device', 'bench-dev', '--input', 'temperature', '--immediate', '--json'], env);
      if (deployed.code !== 0) throw new Error(`deploy: ${deployed.stderr}`);
      const deploymentId = (JSON.parse(deployed.stdout) as { id: string }).id;
      await until(async () => {
        const listed = await runCli(['results', 'bench-dev', '--module', 'devbench', '--from', String(startedAt), '--limit', '1000', '--json'], env);
        const rows = (JSON.parse(listed.stdout) as { results: { deploymentId: string }[] }).results;
        return rows.some((row) => row.deploymentId === deploymentId) ? true : undefined;
      });
      manualTimes.push(performance.now() - start);
    }

    // Subject: one `module dev` running; each save is timed to its first result line.
    writeModule(moduleDir, '2.0.0', 1);
    dev = startCli(['module', 'dev', moduleDir, '--device', 'bench-dev', '--force', '--json'], env);
    const running = dev;
    const resultOf = (version: string) => running.output().split('\n').some((line) => line.startsWith('{"type":"result"') && line.includes(`"version":"${version}"`));
    await until(() => (resultOf('2.0.0-dev.1') ? true : undefined));
    for (let round = 0; round < rounds; round += 1) {
      const version = `2.0.0-dev.${round + 2}`;
      const start = performance.now();
      writeFileSync(join(moduleDir, 'assembly', 'index.ts'), source(round + 10));
      await until(() => (resultOf(version) ? true : undefined));
      devTimes.push(performance.now() - start);
    }
  } finally {
    if (dev) {
      dev.child.kill('SIGINT');
      await Promise.race([dev.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      await dev.stop();
    }
    await agent.stop();
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(moduleDir, { recursive: true, force: true });
  }
  return [
    figure({
      bench: 'dev-loop',
      subject: `module dev: save → first result of the new version on the device (median of ${rounds})`,
      baseline: `the same cycle by hand: module build, module publish, deploy --immediate, results until a row (median of ${rounds})`,
      unit: 'ms',
      subjectValue: median(devTimes),
      baselineValue: median(manualTimes),
      note: `lower is better; goal < 3000 ms; worst save ${Math.round(Math.max(...devTimes))} ms; includes one batch interval (250 ms on sim-x86-64) and the 100 ms save debounce`,
    }),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchDevLoop(), null, 2));
}
