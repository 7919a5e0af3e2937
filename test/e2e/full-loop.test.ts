/**
 * The whole fleet loop on real parts: the platform (Aedes over TCP + REST over HTTP + a SQLite
 * file) on free ports, the real CLI to provision, publish and deploy, three agent processes, and
 * results read back over REST that must equal the JS reference on the replayed sensor samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../platform/start-platform.js';
import { loadProfile, type SimulatedSource } from '../../firmware-profiles/index.js';
import { createSignal } from '../../device-agent/sources/simulated.js';
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';
import { SERVICE_USERNAME, decodePayload, topics, type ResultBatch } from '../../protocol/index.js';
import { referenceFor } from '../../modules-as/reference/index.js';
import { fromRoot } from '../../common/paths.js';
import { silentLogger } from '../../common/logger.js';
import { runCliJson, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

interface ResultRow {
  seq: number;
  module: string;
  kind: string;
  metric: string;
  t: number;
  value: number;
}

test('provision, publish, deploy to a tag, run on 3 agents, results equal the JS reference', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-e2e-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  const agents: { stop: () => Promise<number | null>; output: () => string }[] = [];
  t.after(async () => {
    await Promise.all(agents.map((agent) => agent.stop()));
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Watch the raw result batches on the wire, as the service account, to replay their inputs.
  const observer = await mqtt.connectAsync(platform.mqttUrl, {
    protocolVersion: 4,
    clientId: 'wf-e2e-observer',
    username: SERVICE_USERNAME,
    password: readFileSync(platform.dataDir.serviceSecretPath, 'utf8').trim(),
    reconnectPeriod: 0,
  });
  t.after(() => observer.endAsync());
  const firstBatch = new Map<string, ResultBatch>();
  observer.on('message', (_topic, payload) => {
    const decoded = decodePayload('results', payload);
    if (decoded.ok && decoded.value.module === 'ema' && !firstBatch.has(decoded.value.deviceId)) firstBatch.set(decoded.value.deviceId, decoded.value);
  });
  await observer.subscribeAsync(topics.allDevices('results'), { qos: 1 });

  assert.ok(platform.newAdminToken, 'first start creates an admin token');
  assert.equal(statSync(platform.dataDir.adminTokenPath).mode & 0o777, 0o600);
  // The first start also made the signing keys, private ones readable by their owner only.
  const publisherKey = join(platform.dataDir.path, 'keys', 'publisher.key');
  for (const key of ['root.key', 'fleet.key', 'publisher.key']) assert.equal(statSync(join(platform.dataDir.path, 'keys', key)).mode & 0o777, 0o600, key);
  const env = { WASMFLEET_API: platform.apiUrl, WASMFLEET_TOKEN: platform.newAdminToken, WASMFLEET_PUBLISHER_KEY: publisherKey };

  const devices = ['gw-a', 'gw-b', 'gw-c'];
  for (const id of devices) {
    await runCliJson(['device', 'add', id, '--profile', 'sim-x86-64', '--tag', 'site=e2e', '--agent-config', join(dir, `${id}.json`)], env);
  }
  // A device outside the tag must not receive the deployment.
  await runCliJson(['device', 'add', 'gw-other', '--profile', 'sim-x86-64', '--tag', 'site=elsewhere'], env);

  const published = await runCliJson<{ modules: { name: string; version: string; sha256: string }[] }>(
    ['module', 'publish', fromRoot('modules-as', 'examples', 'ema')],
    env,
  );
  assert.equal(published.modules[0]?.name, 'ema');

  for (const id of devices) agents.push(startCli(['agent', '--config', join(dir, `${id}.json`)], env));

  // every=1: a batch with no output is not published, and the replay must start at the module's first batch.
  const config = { alpha: 0.3, every: 1 };
  const deployment = await runCliJson<{ id: string; devices: { id: string }[] }>(
    ['deploy', 'ema@1.0.0', '--tag', 'site=e2e', '--config', 'alpha=0.3', '--config', 'every=1', '--input', 'temperature', '--immediate', '--wait', '--timeout', '30'],
    env,
  );
  assert.deepEqual(deployment.devices.map((d) => d.id).sort(), devices);

  const headers = { authorization: `Bearer ${platform.newAdminToken}` };
  const resultsOf = async (id: string) => {
    const response = await fetch(`${platform.apiUrl}/api/v1/devices/${id}/results?module=ema&metric=ema&limit=1000`, { headers });
    assert.equal(response.status, 200);
    return ((await response.json()) as { results: ResultRow[] }).results;
  };

  const profile = loadProfile('sim-x86-64');
  const source = profile.sources.find((s) => s.id === 'temperature') as SimulatedSource;
  for (const id of devices) {
    const rows = await waitFor(`results from ${id}`, async () => {
      const found = await resultsOf(id);
      return found.length >= 10 ? found : undefined;
    });
    // Replay the device's first batch from its source sequence numbers through the JS reference,
    // which starts fresh exactly as the module did.
    const batch = await waitFor(`first ema batch of ${id} on the wire`, () => firstBatch.get(id));
    const values = createSignal(source, id).valuesFrom(batch.input.firstSeq, batch.input.count);
    const period = 1000 / source.rateHz;
    const timestamps = Float64Array.from(values, (_v, i) => batch.input.from + i * period);
    const expected = referenceFor('ema', config).process(timestamps, values).metrics.find((m) => m.name === 'ema')?.points ?? [];
    const sent = batch.metrics.find((m) => m.name === 'ema')?.points ?? [];
    assert.ok(expected.length > 0, `${id}: the first batch holds at least one EMA point`);
    assert.equal(sent.length, expected.length, `${id}: same number of points as the reference`);
    sent.forEach(([time, value], i) => {
      assert.ok(Math.abs(value - expected[i]![1]) < 1e-9, `${id} point ${i}: ${value} vs reference ${expected[i]![1]}`);
      assert.ok(Math.abs(time - expected[i]![0]) < 1e-6, `${id} point ${i} time`);
    });
    // What the API stored for that batch is exactly what the agent sent.
    const stored = rows.filter((row) => row.seq === batch.seq).map((row) => [row.t, row.value]);
    assert.deepEqual(stored, sent, `${id}: REST rows of batch ${batch.seq} equal the batch on the wire`);
  }

  const other = await resultsOf('gw-other');
  assert.equal(other.length, 0, 'a device outside the tag runs nothing');
  const view = await runCliJson<{ counts: { healthy: number } }>(['deployment', 'show', deployment.id], env);
  assert.equal(view.counts.healthy, 3, 'applied with no soak: healthy');
});
