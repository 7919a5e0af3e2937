/**
 * `wasmfleet deploy --memory-pages/--cpu-ms/--max-outputs` against a real platform: the flags
 * travel as the deployment's `limits`, `deployment show` prints them, the device's desired entry
 * carries them, and a bad value is refused naming the flag before anything is sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { startTestPlatform } from '../helpers/platform.js';

test('deploy sends --cpu-ms and --max-outputs as limits; deployment show prints them', async (t) => {
  const { env } = await startTestPlatform(t, 'limits');
  await runCliJson(['device', 'add', 'gw-01', '--profile', 'sim-x86-64'], env);
  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], env);

  const zero = await runCli(['deploy', 'ema@1.0.0', '--device', 'gw-01', '--cpu-ms', '0'], env);
  assert.notEqual(zero.code, 0);
  assert.match(zero.stderr, /--cpu-ms/);
  assert.equal((await runCliJson<{ deployments: unknown[] }>(['deployment', 'list'], env)).deployments.length, 0, 'nothing sent');

  const created = await runCliJson<{ id: string; limits: unknown }>(['deploy', 'ema@1.0.0', '--device', 'gw-01', '--cpu-ms', '20', '--max-outputs', '64', '--immediate'], env);
  assert.deepEqual(created.limits, { cpuMsPerBatch: 20, maxOutputsPerBatch: 64 });

  const shown = await runCli(['deployment', 'show', created.id], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^limits requested: cpuMsPerBatch=20 maxOutputsPerBatch=64$/m);

  const device = await runCliJson<{ desired: { modules: Array<{ name: string; limits?: unknown }> } }>(['device', 'show', 'gw-01'], env);
  assert.deepEqual(device.desired.modules.find((m) => m.name === 'ema')?.limits, { cpuMsPerBatch: 20, maxOutputsPerBatch: 64 });

  // Without the flags the view shows no limits line.
  const plain = await runCliJson<{ id: string; limits: unknown }>(['deploy', 'ema@1.0.0', '--device', 'gw-01', '--immediate'], env);
  assert.equal(plain.limits, null);
  const plainShown = await runCli(['deployment', 'show', plain.id], env);
  assert.doesNotMatch(plainShown.stdout, /limits requested/);
});
