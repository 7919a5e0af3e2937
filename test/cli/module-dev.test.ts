/**
 * `wasmfleet module dev` against real parts (the platform's broker, API and SQLite file, a real
 * agent on the default metered sandbox, the CLI as a child process): the first build and each
 * save put a new dev version on the device (that device only, not another with its tag) and its
 * results come back; a build error is shown at
 * its line and deploys nothing; a module that traps reports its file:line through the API; and
 * SIGINT puts the release the device ran before back, with its deployment id, and deletes the
 * dev versions the loop published (gone from the inventory and their deployments with them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent } from '../../device-agent/agent.js';
import { loadAgentConfig } from '../../device-agent/config.js';
import { fromRoot } from '../../common/paths.js';
import { silentLogger } from '../../common/logger.js';
import type { DesiredModule, ReportedModule } from '../../protocol/index.js';
import type { DevEvent } from '../../cli/dev-loop.js';
import { runCli, runCliJson, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { startTestPlatform } from '../helpers/platform.js';

const MANIFEST = {
  name: 'devloop',
  version: '1.0.0',
  abi: 2,
  description: 'Test module for module dev: emits the batch length times a factor.',
  inputs: [{ name: 'x' }],
  metrics: [{ name: 'scaled' }],
};

/** The source with `factor`; line 8 is where `trap` puts an unreachable(). */
function source(factor: number, trap = false): string {
  return [
    'import { Batch, metric, onBatch } from "@wasmfleet/sdk";',
    'export * from "@wasmfleet/sdk/exports";',
    '',
    'const scaled = metric("scaled");',
    '',
    'function process(batch: Batch): void {',
    '  if (batch.length == 0) return;',
    trap ? '  unreachable();' : '  // no trap',
    `  scaled.emit(batch.lastTime(), <f64>batch.length * ${factor}.0);`,
    '}',
    '',
    'onBatch(process);',
    '',
  ].join('\n');
}
const TRAP_LINE = 8;

test('module dev: saves deploy new dev versions with results, a build error deploys nothing, a trap names its line, SIGINT restores the release and deletes the dev versions', async (t) => {
  const { platform, dir, env } = await startTestPlatform(t, 'module-dev');
  mkdirSync(fromRoot('.tmp'), { recursive: true });
  const moduleDir = mkdtempSync(join(fromRoot('.tmp'), 'devloop-'));
  t.after(() => rmSync(moduleDir, { recursive: true, force: true }));
  mkdirSync(join(moduleDir, 'assembly'));
  writeFileSync(join(moduleDir, 'manifest.json'), JSON.stringify(MANIFEST, null, 2));
  writeFileSync(join(moduleDir, 'asconfig.json'), JSON.stringify({
    entries: ['assembly/index.ts'],
    targets: { debug: { outFile: 'build/debug.wasm', sourceMap: true, debug: true }, release: { outFile: 'build/release.wasm', optimizeLevel: 3, noAssert: true } },
    options: { runtime: 'stub', importMemory: true, noExportMemory: true, initialMemory: 1, bindings: false },
  }));
  const indexPath = join(moduleDir, 'assembly', 'index.ts');
  writeFileSync(indexPath, source(1));

  const agentConfig = join(dir, 'gw-d.json');
  await runCliJson(['device', 'add', 'gw-d', '--profile', 'sim-x86-64', '--tag', 'site=lab', '--agent-config', agentConfig], env);
  // A second device with the same tag: the loop deploys to the one device named, never to a tag.
  await runCliJson(['device', 'add', 'gw-t', '--profile', 'sim-x86-64', '--tag', 'site=lab'], env);
  await runCliJson(['module', 'publish', moduleDir], env);
  const release = await runCliJson<{ id: string }>(['deploy', 'devloop@1.0.0', '--device', 'gw-d', '--input', 'temperature', '--immediate'], env);
  const agent = await startAgent({ ...loadAgentConfig(agentConfig), stateDir: join(dir, 'agent-state') }, { logger: silentLogger });
  t.after(() => agent.stop());

  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${platform.apiUrl}${path}`, { headers: { authorization: `Bearer ${env.WASMFLEET_TOKEN}` } });
    assert.equal(response.status, 200, path);
    return (await response.json()) as T;
  };
  const device = () => get<{ desired: { modules: DesiredModule[] }; reported?: { modules: ReportedModule[] } }>('/api/v1/devices/gw-d');
  await waitFor('the release running', async () => ((await device()).reported?.modules.find((m) => m.version === '1.0.0')?.state === 'running' ? true : undefined), 30_000, 100);

  // Without --force the loop refuses a device that runs a release of the module.
  const refused = startCli(['module', 'dev', moduleDir, '--device', 'gw-d', '--json'], env);
  t.after(() => refused.stop());
  assert.notEqual(await refused.exited, 0);
  assert.match(refused.output(), /WF_CLI_DEV_REFUSED/);

  const dev = startCli(['module', 'dev', moduleDir, '--device', 'gw-d', '--force', '--json'], env);
  t.after(() => dev.stop());
  const events = (): DevEvent[] =>
    dev
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{"type"'))
      .map((line) => JSON.parse(line) as DevEvent);
  const seen = (what: string, match: (e: DevEvent) => boolean, timeoutMs = 30_000) =>
    waitFor(what, () => events().find(match), timeoutMs, 50).catch((error: Error) => {
      throw new Error(`${error.message}\n--- module dev output ---\n${dev.output()}`);
    });

  await seen('watching', (e) => e.type === 'watching');
  const first = await seen('dev.1 deployed', (e) => e.type === 'deployed' && e.version === '1.0.0-dev.1');
  assert.ok(first.type === 'deployed');
  const devDeployment = await get<{ target: unknown }>(`/api/v1/deployments/${first.deploymentId}`);
  assert.deepEqual(devDeployment.target, { devices: ['gw-d'] }, 'targets the one device, not its tag');
  const sibling = await get<{ desired: { modules: DesiredModule[] } }>('/api/v1/devices/gw-t');
  assert.deepEqual(sibling.desired.modules, [], 'the device sharing its tag is untouched');
  await seen('a result of dev.1', (e) => e.type === 'result' && e.version === '1.0.0-dev.1');

  writeFileSync(indexPath, source(2));
  await seen('dev.2 deployed after a save', (e) => e.type === 'deployed' && e.version === '1.0.0-dev.2');
  const result = await seen('a result of dev.2', (e) => e.type === 'result' && e.version === '1.0.0-dev.2');
  assert.ok(result.type === 'result' && result.points.every(([, v]) => v % 2 === 0), 'the new code runs: every value is even');

  writeFileSync(indexPath, source(3).replace('scaled.emit', 'scaled.emitt'));
  const failed = await seen('the build error', (e) => e.type === 'build-failed');
  assert.ok(failed.type === 'build-failed');
  assert.deepEqual([failed.problems[0]?.file, failed.problems[0]?.line], ['assembly/index.ts', 9]);
  // Nothing was published or deployed for it: the next version is still free, dev.2 still desired.
  const { modules } = await get<{ modules: { name: string; version: string }[] }>('/api/v1/modules');
  assert.deepEqual(modules.filter((m) => m.name === 'devloop').map((m) => m.version).sort(), ['1.0.0', '1.0.0-dev.1', '1.0.0-dev.2']);
  assert.equal((await device()).desired.modules.find((m) => m.name === 'devloop')?.version, '1.0.0-dev.2');

  writeFileSync(indexPath, source(3, true));
  await seen('dev.3 deployed', (e) => e.type === 'deployed' && e.version === '1.0.0-dev.3');
  const fault = await seen('the trap, streamed', (e) => e.type === 'fault' && e.version === '1.0.0-dev.3');
  assert.ok(fault.type === 'fault');
  assert.deepEqual(fault.at && [fault.at.file, fault.at.line, fault.at.function], ['assembly/index.ts', TRAP_LINE, 'process']);
  const reported = (await device()).reported?.modules.find((m) => m.version === '1.0.0-dev.3');
  assert.deepEqual(reported?.faultAt && [reported.faultAt.file, reported.faultAt.line, reported.faultAt.function], ['assembly/index.ts', TRAP_LINE, 'process'], 'the API serves the location');
  assert.match(reported!.lastFault!, new RegExp(`at assembly/index\\.ts:${TRAP_LINE} process$`));

  dev.child.kill('SIGINT');
  assert.equal(await dev.exited, 0, dev.output());
  assert.ok(events().some((e) => e.type === 'restored' && e.to === 'devloop@1.0.0'));
  const cleaned = events().find((e) => e.type === 'cleaned');
  assert.deepEqual(cleaned, { type: 'cleaned', removed: ['1.0.0-dev.1', '1.0.0-dev.2', '1.0.0-dev.3'], kept: [] }, dev.output());
  const after = await get<{ modules: { name: string; version: string }[] }>('/api/v1/modules');
  assert.deepEqual(after.modules.filter((m) => m.name === 'devloop').map((m) => m.version), ['1.0.0'], 'only the release is left');
  const deployments = await get<{ deployments: { id: string; version: string }[] }>('/api/v1/deployments');
  assert.deepEqual(deployments.deployments.filter((d) => d.version !== '1.0.0'), [], 'the dev deployments went with their versions');
  const entry = (await device()).desired.modules.find((m) => m.name === 'devloop');
  assert.deepEqual([entry?.version, entry?.deploymentId, entry?.input], ['1.0.0', release.id, 'temperature']);
  await waitFor('the release running again on the device', async () => ((await device()).reported?.modules.find((m) => m.name === 'devloop' && m.version === '1.0.0')?.state === 'running' ? true : undefined), 30_000, 100);

  // `module delete`: the release the device desires is refused with the reason; an unused version goes.
  const refusedDelete = await runCli(['module', 'delete', 'devloop@1.0.0', '--json'], env);
  assert.notEqual(refusedDelete.code, 0);
  assert.match(refusedDelete.stderr + refusedDelete.stdout, /WF_API_MODULE_IN_USE|still desired: device gw-d desires it/);
  writeFileSync(join(moduleDir, 'manifest.json'), JSON.stringify({ ...MANIFEST, version: '1.0.1' }, null, 2));
  await runCliJson(['module', 'publish', moduleDir], env);
  const deleted = await runCliJson<{ name: string; version: string; deploymentsRemoved: number }>(['module', 'delete', 'devloop@1.0.1'], env);
  assert.deepEqual([deleted.name, deleted.version, deleted.deploymentsRemoved], ['devloop', '1.0.1', 0]);
  const left = await get<{ modules: { name: string; version: string }[] }>('/api/v1/modules');
  assert.deepEqual(left.modules.filter((m) => m.name === 'devloop').map((m) => m.version), ['1.0.0']);
});
