/**
 * Proof on ARM, shared by arm64-qemu.test.ts and armv7l-qemu.test.ts: `wasmfleet flash --profile
 * P --with-node` against a real platform (broker and REST on loopback, SQLite in a temp dir),
 * then the flashed folder's own Node runtime runs the flashed bundle under user-mode emulation
 * (`qemu-<cpu>-static -L SYSROOT`, no binfmt), reading its temperature from a sysfs-shaped
 * folder. A module is deployed, applied and its results come back through the API; the reported
 * state names the emulated architecture.
 *
 * Needs what scripts/setup-arm64-emulation.sh installs. Without it the tests are skipped, except
 * under CI=true, where they fail: CI must prove the ARM path on every run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startPlatform } from '../../platform/start-platform.js';
import { fromRoot } from '../../common/paths.js';
import { silentLogger } from '../../common/logger.js';
import { buildAgentBundle } from '../../bundle/build-agent.js';
import { elfProblem, RUNTIME_PACKAGES, type RuntimeArch } from '../../bundle/node-runtime.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

export interface Emulation {
  readonly arch: Exclude<RuntimeArch, 'x64'>;
  /** What `process.arch` says on that CPU. */
  readonly nodeArch: string;
  readonly qemu: string;
  readonly sysroot: string;
  /** Why the tools are missing, or undefined when they are there. */
  readonly missing: string | undefined;
  /** The node:test skip option: skipped when missing, except under CI=true. */
  readonly skip: string | false;
}

export function emulation(arch: Emulation['arch']): Emulation {
  const [qemuName, sysrootEnv, sysrootName, nodeArch] =
    arch === 'arm64' ? ['qemu-aarch64-static', 'WASMFLEET_ARM64_SYSROOT', 'arm64-sysroot', 'arm64'] : ['qemu-arm-static', 'WASMFLEET_ARMHF_SYSROOT', 'armhf-sysroot', 'arm'];
  const sysroot = process.env[sysrootEnv] || join(homedir(), '.cache', 'wasmfleet', sysrootName);
  const qemu = spawnSync('sh', ['-c', `command -v ${qemuName}`], { encoding: 'utf8' }).stdout.trim();
  const missing = !qemu ? `${qemuName} is not installed` : !existsSync(join(sysroot, '.complete')) ? `no ${arch} sysroot at ${sysroot}` : undefined;
  const skip = missing && process.env.CI !== 'true' ? `${missing}: run scripts/setup-arm64-emulation.sh` : false;
  return { arch, nodeArch, qemu, sysroot, missing, skip };
}

/** Everything runs emulated (JIT included): minutes, not seconds, on a busy 2-core machine. */
const EMULATED_MS = 240_000;

export async function flashAndRunEmulated(t: TestContext, emu: Emulation, profileName: string): Promise<void> {
  assert.equal(emu.missing, undefined, `CI=true: ${emu.missing}; .ci/run must run scripts/setup-arm64-emulation.sh`);
  const device = `gw-${emu.arch}`;
  const dir = mkdtempSync(join(tmpdir(), `wf-${emu.arch}-`));
  const bundle = await buildAgentBundle({ outDir: join(dir, 'bundle') });
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  let agentOutput = '';
  let stopAgent: () => Promise<void> = async () => undefined;
  t.after(async () => {
    await stopAgent();
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = { WASMFLEET_API: platform.apiUrl, WASMFLEET_TOKEN: platform.newAdminToken!, WASMFLEET_AGENT_BUNDLE_DIR: bundle.dir, WASMFLEET_PUBLISHER_KEY: join(platform.dataDir.path, 'keys', 'publisher.key') };
  const out = join(dir, device);

  const flashed = await runCli(['flash', '--profile', profileName, '--device', device, '--out', out, '--with-node', '--json'], env);
  assert.equal(flashed.code, 0, flashed.stderr);
  const result = JSON.parse(flashed.stdout) as { runtime: { package: string; version: string; integrity: string }; files: { name: string; mode: string }[] };
  assert.equal(result.runtime.package, RUNTIME_PACKAGES[emu.arch]);
  assert.match(result.runtime.integrity, /^sha512-/);
  assert.deepEqual(result.files.filter((f) => f.name.startsWith('runtime/')).map((f) => [f.name, f.mode]), [['runtime/node', '0755'], ['runtime/LICENSE', '0644']]);
  const node = join(out, 'runtime', 'node');
  assert.equal(elfProblem(node, emu.arch), undefined, `an ${emu.arch} ELF binary`);
  assert.match(elfProblem(node, 'x64') ?? '', /not x64/, 'which this x86-64 machine cannot run natively');
  assert.match(readFileSync(join(out, 'wasmfleet-agent.service'), 'utf8'), /travels with the agent in \/opt\/wasmfleet\/runtime/);
  assert.match(readFileSync(join(out, 'install.sh'), 'utf8'), /NODE=\$PREFIX\/runtime\/node/);

  // The board's SoC thermal zone, in a folder laid out like /sys; 45.5 °C in millidegrees.
  const sys = join(dir, 'sys');
  mkdirSync(join(sys, 'class', 'thermal', 'thermal_zone0'), { recursive: true });
  writeFileSync(join(sys, 'class', 'thermal', 'thermal_zone0', 'type'), 'cpu-thermal\n');
  writeFileSync(join(sys, 'class', 'thermal', 'thermal_zone0', 'temp'), '45500\n');
  const profile = JSON.parse(readFileSync(join(out, 'profile.json'), 'utf8')) as { sources: Array<Record<string, unknown>> };
  const thermal = profile.sources.find((s) => s.id === 'temperature')!;
  assert.equal(thermal.kind, 'sysfs-thermal');
  Object.assign(thermal, { root: sys, rateHz: 5 });
  writeFileSync(join(out, 'profile.json'), JSON.stringify(profile));
  const config = JSON.parse(readFileSync(join(out, 'agent.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, 'agent.json'), JSON.stringify({ ...config, stateDir: join(dir, 'state') }), { mode: 0o600 });

  // Niced: emulation (JIT included) is CPU-hungry, and the test files running beside this one
  // must not starve; this one waits minutes if it has to.
  const agent = spawn('nice', ['-n', '10', emu.qemu, '-L', emu.sysroot, node, join(out, 'wasmfleet-agent.mjs'), '--config', join(out, 'agent.json')], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', WASMFLEET_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent.stdout.on('data', (chunk) => (agentOutput += chunk));
  agent.stderr.on('data', (chunk) => (agentOutput += chunk));
  const exited = new Promise<void>((resolve) => agent.on('exit', () => resolve()));
  stopAgent = async () => {
    if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM');
    await exited;
  };
  const fail = (error: Error) => assert.fail(`${error.message}\nagent output:\n${agentOutput.slice(-4000)}`);

  const headers = { authorization: `Bearer ${platform.newAdminToken}` };
  type Shown = { online: boolean; reported?: { agent: { arch: string; profile: string }; modules: { name: string; state: string }[] } };
  const deviceNow = async () => (await (await fetch(`${platform.apiUrl}/api/v1/devices/${device}`, { headers })).json()) as Shown;
  await waitFor('the emulated agent online', async () => ((await deviceNow()).online ? true : undefined), EMULATED_MS, 200).catch(fail);

  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], env);
  // No --wait: under emulation on a loaded machine the first start can overrun the sandbox's start
  // budget, and the agent's restart with backoff is then what brings the module up.
  await runCliJson(['deploy', 'ema@1.0.0', '--device', device, '--config', 'every=1', '--input', 'temperature'], env).catch(fail);
  const rows = await waitFor('results from the emulated agent', async () => {
    const response = await fetch(`${platform.apiUrl}/api/v1/devices/${device}/results?module=ema&metric=ema&limit=100`, { headers });
    const found = ((await response.json()) as { results: { value: number }[] }).results;
    return found.length >= 3 ? found : undefined;
  }, EMULATED_MS, 200).catch(fail);
  // The EMA of a constant 45.5 °C reading is 45.5.
  for (const row of rows) assert.ok(Math.abs(row.value - 45.5) < 1e-9, `ema ${row.value}`);

  const shown = await waitFor('ema reported running', async () => {
    const now = await deviceNow();
    return now.reported?.modules.some((m) => m.name === 'ema' && m.state === 'running') ? now : undefined;
  }, EMULATED_MS, 200).catch(fail);
  assert.equal(shown.reported?.agent.arch, emu.nodeArch, `the agent ran as an ${emu.arch} process`);
  assert.equal(shown.reported?.agent.profile, profileName);
  assert.deepEqual(shown.reported?.modules.map((m) => m.name), ['ema']);
  // The board's other sources are absent here: logged and retried, never fatal.
  assert.match(agentOutput, /"source unreadable"/);

  await stopAgent();
  assert.equal(agent.exitCode, 0, `the agent stops cleanly on SIGTERM:\n${agentOutput.slice(-4000)}`);
}
