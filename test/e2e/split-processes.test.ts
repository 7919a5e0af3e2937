/**
 * The broker and the API as two processes on one data directory (`wasmfleet broker` +
 * `wasmfleet api`), the rest as in full-loop: the real CLI provisions a device, publishes and
 * deploys a module, an agent process runs it, and its results come back over REST. The broker
 * starts first, before the API has created the SQLite file it reads devices from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { fromRoot } from '../../common/paths.js';
import { runCliJson, startCli, type RunningCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from './fault-helpers.js';

/** The one JSON document a server command prints on stdout once it runs (logs are JSON lines with a msg). */
function summaryOf<T>(run: RunningCli, key: string): T | undefined {
  const output = run.output();
  const start = output.indexOf('{\n');
  if (start < 0) return undefined;
  const end = output.indexOf('\n}', start);
  if (end < 0) return undefined;
  const summary = JSON.parse(output.slice(start, end + 2)) as Record<string, unknown>;
  return key in summary ? (summary as T) : undefined;
}

test('wasmfleet broker + wasmfleet api as two processes: provision, deploy, results', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-split-'));
  const dataDir = join(dir, 'data');
  const processes: RunningCli[] = [];
  t.after(async () => {
    // The agent first, then the API, then the broker it talks to.
    for (const run of processes.reverse()) await run.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const broker = startCli(['broker', '--data', dataDir, '--mqtt-port', String(await freePort()), '--json'], { WASMFLEET_LOG_LEVEL: 'warn' });
  processes.push(broker);
  const brokerUp = await waitFor('the broker to start', () => summaryOf<{ mqtt: string }>(broker, 'mqtt'), 30_000);

  const api = startCli(['api', '--data', dataDir, '--http-port', String(await freePort()), '--mqtt-url', brokerUp.mqtt, '--json'], { WASMFLEET_LOG_LEVEL: 'warn' });
  processes.push(api);
  const apiUp = await waitFor('the api to start', () => summaryOf<{ api: string; adminToken: string; mqttConnected: boolean }>(api, 'adminTokenFile'), 30_000);
  assert.equal(apiUp.mqttConnected, true, 'the API reached the standalone broker as the service account');
  assert.ok(apiUp.adminToken, 'the API process makes the first admin token');

  const env = { WASMFLEET_API: apiUp.api, WASMFLEET_TOKEN: apiUp.adminToken, WASMFLEET_PUBLISHER_KEY: join(dataDir, 'keys', 'publisher.key') };
  const configPath = join(dir, 'gw-split.json');
  await runCliJson(['device', 'add', 'gw-split', '--profile', 'sim-x86-64', '--agent-config', configPath], env);
  const agentConfig = JSON.parse(readFileSync(configPath, 'utf8')) as { broker: { url: string; username: string; password: string } };

  // The broker reads the device from the API's SQLite file: its real secret is admitted, a wrong one is not.
  const credentials = agentConfig.broker;
  await assert.rejects(
    mqtt.connectAsync(credentials.url, { protocolVersion: 4, clientId: 'gw-split', username: credentials.username, password: 'not-the-secret', reconnectPeriod: 0 }),
    'a wrong secret is refused',
  );

  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], env);
  processes.push(startCli(['agent', '--config', configPath], env));
  const deployment = await runCliJson<{ devices: { id: string }[] }>(
    ['deploy', 'ema@1.0.0', '--device', 'gw-split', '--config', 'every=1', '--input', 'temperature', '--immediate', '--wait', '--timeout', '60'],
    env,
  );
  assert.deepEqual(deployment.devices.map((d) => d.id), ['gw-split']);

  const headers = { authorization: `Bearer ${apiUp.adminToken}` };
  const rows = await waitFor(
    'results from gw-split over REST',
    async () => {
      const response = await fetch(`${apiUp.api}/api/v1/devices/gw-split/results?module=ema&metric=ema&limit=100`, { headers });
      assert.equal(response.status, 200);
      const { results } = (await response.json()) as { results: { module: string; metric: string; value: number }[] };
      return results.length >= 5 ? results : undefined;
    },
    60_000,
  );
  assert.ok(rows.every((row) => row.module === 'ema' && row.metric === 'ema' && Number.isFinite(row.value)));
});
