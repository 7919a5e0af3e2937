/**
 * `deploy --watch` against a real platform: a device that never comes online times out, the
 * failure threshold aborts the rollout, and the watch ends on its own, with a bar per wave on
 * stderr and the final state as JSON on stdout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { startTestPlatform } from '../helpers/platform.js';

test('deploy --watch draws the waves until the rollout ends and prints the final state', async (t) => {
  const { env } = await startTestPlatform(t, 'watch');
  await runCliJson(['device', 'add', 'gw-away', '--profile', 'sim-x86-64'], env);
  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], env);

  const watched = await runCli(['deploy', 'ema@1.0.0', '--device', 'gw-away', '--apply-timeout', '1', '--failure-threshold', '1', '--watch', '--timeout', '60', '--json'], env);
  assert.equal(watched.code, 1, `a rollout that aborted exits 1\n${watched.stderr}`);
  const final = JSON.parse(watched.stdout) as { id: string; status: string; devices: { id: string; state: string; reason: string | null }[] };
  assert.equal(final.status, 'aborted');
  const device = final.devices.find((d) => d.id === 'gw-away');
  assert.ok(device && device.state !== 'pending' && device.state !== 'waiting', JSON.stringify(device));
  assert.match(watched.stderr, /timed out/);
  assert.match(watched.stderr, /^ {2}wave 1 +\[>{30}\] 0\/1 healthy, 1 in flight \(in progress\)$/m, 'the bar while the device is in flight');
  assert.match(watched.stderr, /^ {2}wave 1 +\[x{30}\] 0\/1 healthy, 1 rolled-back \(done\)$/m, 'the bar once the rollout aborted');

  const shown = await runCli(['deployment', 'show', final.id, '--watch', '--json'], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal((JSON.parse(shown.stdout) as { status: string }).status, 'aborted', 'show --watch of an ended rollout returns at once');
});
