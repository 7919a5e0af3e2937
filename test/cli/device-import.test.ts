/** `wasmfleet device import`, run as the real CLI against a real platform. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, runCliJson } from '../helpers/cli.js';
import { startTestPlatform } from '../helpers/platform.js';

test('device import provisions a CSV in batches, writes one 0600 agent config per device, and refuses bad rows by line', async (t) => {
  const { dir, env } = await startTestPlatform(t, 'cli-import');
  const csv = join(dir, 'fleet.csv');
  writeFileSync(csv, ['id,profile,tags', ...Array.from({ length: 7 }, (_, i) => `gw-${i},sim-x86-64,site=north;line=${i}`)].join('\n'));
  const configs = join(dir, 'configs');
  const run = await runCli(['device', 'import', csv, '--agent-config-dir', configs, '--batch-size', '3', '--json'], env);
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as { devices: Array<{ id: string; mqtt: { password: string }; agentConfig: string }> };
  assert.deepEqual(out.devices.map((d) => d.id), ['gw-0', 'gw-1', 'gw-2', 'gw-3', 'gw-4', 'gw-5', 'gw-6']);
  assert.match(run.stderr, /provisioning .* 7\/7/, 'progress on stderr');
  assert.deepEqual(readdirSync(configs).sort(), out.devices.map((d) => `${d.id}.json`).sort());
  for (const device of out.devices) {
    assert.equal(statSync(device.agentConfig).mode & 0o777, 0o600);
    const config = JSON.parse(readFileSync(device.agentConfig, 'utf8'));
    assert.equal(config.deviceId, device.id);
    assert.equal(config.broker.password, device.mqtt.password);
    assert.ok(config.trust.root);
  }
  const listed = await runCliJson<{ devices: Array<{ id: string }> }>(['device', 'list', '--tag', 'site=north', '--prefix', 'gw-'], env);
  assert.equal(listed.devices.length, 7);

  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, 'id,profile,tags\nok-1,sim-x86-64,\nBAD,sim-x86-64,\nok-2,,\n');
  const refused = await runCli(['device', 'import', bad], env);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /line 3: id/);
  assert.match(refused.stderr, /line 4: profile/);
  const after = await runCliJson<{ devices: Array<{ id: string }> }>(['device', 'list', '--prefix', 'ok-'], env);
  assert.deepEqual(after.devices, [], 'nothing of a bad file is provisioned');

  const jsonl = join(dir, 'more.jsonl');
  writeFileSync(jsonl, '{"id":"hub-1","profile":"sim-x86-64"}\n{"id":"gw-3","profile":"sim-x86-64"}\n');
  const conflict = await runCli(['device', 'import', jsonl], env);
  assert.notEqual(conflict.code, 0);
  assert.match(conflict.stderr, /line 2 \(gw-3\)/, 'the server refusal names the file line');
});
