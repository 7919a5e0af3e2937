/**
 * `wasmfleet flash` against a real platform (broker + REST on free ports, SQLite in a temp dir),
 * then the FLASHED bundle run as its own process from a folder outside the repository, a module
 * deployed to it, and its results read back over REST.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../platform/start-platform.js';
import { fromRoot } from '../../common/paths.js';
import { silentLogger } from '../../common/logger.js';
import { buildAgentBundle } from '../../bundle/build-agent.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

interface FlashResult {
  device: { id: string; tags: Record<string, string> };
  out: string;
  files: { name: string; mode: string; bytes: number }[];
  bundleBytes: number;
  tar?: string;
}

const FILES = ['wasmfleet-agent.mjs', 'worker.mjs', 'profile.json', 'agent.json', 'wasmfleet-agent.service', 'install.sh', 'uninstall.sh', 'README.md'];

test('flash writes an installable folder whose bundled agent runs a deployed module', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-flash-'));
  // Today's code, built into this test's own folder: other tests build theirs at the same time.
  const bundle = await buildAgentBundle({ outDir: join(dir, 'bundle') });
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  let agentOutput = '';
  let stopAgent: () => Promise<void> = async () => undefined;
  t.after(async () => {
    await stopAgent();
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.ok(platform.newAdminToken);
  // `module publish` signs with the development publisher key the platform made in its data dir.
  const env = { WASMFLEET_API: platform.apiUrl, WASMFLEET_TOKEN: platform.newAdminToken, WASMFLEET_AGENT_BUNDLE_DIR: bundle.dir, WASMFLEET_PUBLISHER_KEY: join(platform.dataDir.path, 'keys', 'publisher.key') };
  const out = join(dir, 'gw-flash');

  const flashed = await runCli(['flash', '--profile', 'sim-x86-64', '--device', 'gw-flash', '--tag', 'site=bundle', '--tag', 'line=2', '--out', out, '--tar', '--json'], env);
  assert.equal(flashed.code, 0, flashed.stderr);
  assert.match(flashed.stderr, /\[1\/4\] provisioning gw-flash/, 'progress goes to stderr');
  const result = JSON.parse(flashed.stdout) as FlashResult;
  assert.deepEqual(result.device.tags, { site: 'bundle', line: '2' });
  assert.deepEqual(result.files.map((f) => f.name).sort(), [...FILES].sort());
  assert.ok(result.bundleBytes > 0 && result.bundleBytes < 1024 * 1024);
  assert.ok(!flashed.stdout.includes('wfd_'), 'the password is not printed');

  const mode = (file: string) => statSync(join(out, file)).mode & 0o777;
  assert.equal(mode('agent.json'), 0o600, 'the config holds the password');
  assert.equal(mode('install.sh'), 0o755);
  assert.equal(mode('wasmfleet-agent.mjs'), 0o644);
  const config = JSON.parse(readFileSync(join(out, 'agent.json'), 'utf8')) as Record<string, unknown> & { broker: { url: string; password: string } };
  assert.equal(config.deviceId, 'gw-flash');
  assert.equal(config.stateDir, '/var/lib/wasmfleet');
  assert.equal(config.profile, 'profile.json');
  assert.equal(config.broker.url, platform.mqttUrl);
  assert.match(config.broker.password, /^wfd_/);
  // What the gateway verifies every module and desired state with: the root key and the list it signed.
  const trust = config.trust as { root: string; keys: { version: number } };
  assert.equal(trust.root, platform.api.signing.rootPublicKey);
  assert.equal(trust.keys.version, platform.api.signing.trustedKeys().version);
  const unit = readFileSync(join(out, 'wasmfleet-agent.service'), 'utf8');
  for (const line of ['Restart=always', 'ProtectSystem=strict', 'ProtectHome=yes', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'StateDirectory=wasmfleet']) {
    assert.ok(unit.includes(`\n${line}\n`), `unit has ${line}`);
  }
  for (const script of ['install.sh', 'uninstall.sh']) assert.equal(spawnSync('sh', ['-n', join(out, script)]).status, 0, `sh -n ${script}`);
  assert.match(readFileSync(join(out, 'install.sh'), 'utf8'), /MIN_NODE=20\.19\.0/);

  assert.equal(result.tar, `${out}.tar.gz`);
  const listing = spawnSync('tar', ['-tvzf', result.tar!], { encoding: 'utf8' });
  assert.equal(listing.status, 0);
  for (const file of FILES) assert.match(listing.stdout, new RegExp(`gw-flash/${file.replace('.', '\\.')}\\n`));
  assert.match(listing.stdout, /-rw------- .*gw-flash\/agent\.json/, 'the archive keeps the 0600 mode');

  // The gateway's /var/lib is not ours to write: point the state at a temp folder instead. The
  // profile is named, not a file: the bundle carries every built-in one, so profile.json can go.
  const stateDir = join(dir, 'state');
  writeFileSync(join(out, 'agent.json'), JSON.stringify({ ...config, stateDir, profile: 'sim-x86-64' }), { mode: 0o600 });
  rmSync(join(out, 'profile.json'));
  const agent = spawn(process.execPath, [join(out, 'wasmfleet-agent.mjs'), '--config', join(out, 'agent.json')], {
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

  const headers = { authorization: `Bearer ${platform.newAdminToken}` };
  await waitFor('the flashed agent online', async () => {
    const device = (await (await fetch(`${platform.apiUrl}/api/v1/devices/gw-flash`, { headers })).json()) as { online: boolean };
    return device.online ? true : undefined;
  }).catch((error: Error) => assert.fail(`${error.message}\nagent output:\n${agentOutput}`));

  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], env);
  await runCliJson(['deploy', 'ema@1.0.0', '--device', 'gw-flash', '--config', 'every=1', '--input', 'temperature', '--immediate', '--wait', '--timeout', '30'], env);
  const rows = await waitFor('results from the flashed agent', async () => {
    const response = await fetch(`${platform.apiUrl}/api/v1/devices/gw-flash/results?module=ema&metric=ema&limit=100`, { headers });
    const found = ((await response.json()) as { results: { value: number }[] }).results;
    return found.length >= 5 ? found : undefined;
  }).catch((error: Error) => assert.fail(`${error.message}\nagent output:\n${agentOutput}`));
  assert.ok(rows.every((row) => Number.isFinite(row.value)));
  assert.match(agentOutput, /"agent started"/);
  // The bundle carries no package.json: its version is built in, and reported like any agent's.
  const shown = (await (await fetch(`${platform.apiUrl}/api/v1/devices/gw-flash`, { headers })).json()) as { reported?: { agent: { version: string } } };
  const packageVersion = (JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version;
  assert.equal(shown.reported?.agent.version, packageVersion);
  assert.ok(existsSync(stateDir), 'the agent keeps its state where the config says');

  await stopAgent();
  assert.equal(agent.exitCode, 0, `the agent stops cleanly on SIGTERM:\n${agentOutput}`);
});

test('flash refuses an existing device and a used folder, and documents itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-flash-refuse-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(async () => {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = { WASMFLEET_API: platform.apiUrl, WASMFLEET_TOKEN: platform.newAdminToken! };
  await runCliJson(['device', 'add', 'gw-old', '--profile', 'sim-x86-64'], env);

  const existing = await runCli(['flash', '--profile', 'sim-x86-64', '--device', 'gw-old', '--out', join(dir, 'old')], env);
  assert.equal(existing.code, 2);
  assert.match(existing.stderr, /WF_CLI_BAD_ARGUMENT: --device: device 'gw-old' already exists .*flash a new id/);

  const used = join(dir, 'used');
  mkdirSync(used);
  writeFileSync(join(used, 'keep.txt'), 'x');
  const refused = await runCli(['flash', '--profile', 'sim-x86-64', '--device', 'gw-new', '--out', used, '--json'], env);
  assert.equal(refused.code, 2);
  assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'WF_CLI_FILE');
  const lookup = await fetch(`${platform.apiUrl}/api/v1/devices/gw-new`, { headers: { authorization: `Bearer ${platform.newAdminToken}` } });
  assert.equal(lookup.status, 404, 'nothing is provisioned when the folder is refused');

  const oldNode = await runCli(['flash', '--profile', 'rpi4-arm64', '--device', 'gw-old-node', '--out', join(dir, 'old-node'), '--with-node', '--node-version', '18.20.4'], env);
  assert.equal(oldNode.code, 2);
  assert.match(oldNode.stderr, /--node-version: Node 18\.20\.4 is older than 20\.19\.0, the minimum for profile rpi4-arm64/);
  const stray = await runCli(['flash', '--profile', 'rpi4-arm64', '--device', 'gw-stray', '--out', join(dir, 'stray'), '--node-version', '20.20.2'], env);
  assert.match(stray.stderr, /--node-version: only means something with --with-node/);
  for (const id of ['gw-old-node', 'gw-stray']) {
    const found = await fetch(`${platform.apiUrl}/api/v1/devices/${id}`, { headers: { authorization: `Bearer ${platform.newAdminToken}` } });
    assert.equal(found.status, 404, `${id}: nothing is provisioned when the runtime is refused`);
  }

  const unknown = await runCli(['flash', '--profile', 'nope', '--device', 'gw-x', '--out', join(dir, 'x')], env);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--profile/);

  const help = await runCli(['flash', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:/);
  assert.match(help.stdout, /--json/);
  assert.match(help.stdout, /--tar/);
});
