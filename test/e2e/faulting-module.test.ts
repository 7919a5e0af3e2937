/**
 * A module that runs away, seen from where an operator looks: through the REST API. On real
 * parts (the platform's broker, API and SQLite file; the CLI to provision, publish and deploy;
 * a real agent on the default metered sandbox), a runaway module deployed beside EMA on one
 * device is stopped at its CPU budget, restarted with backoff and quarantined. The device's
 * record in the API carries each module's fault count and reason, and EMA's results keep
 * arriving in SQLite after the quarantine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startAgent } from '../../device-agent/agent.js';
import { loadAgentConfig } from '../../device-agent/config.js';
import { fromRoot } from '../../common/paths.js';
import { silentLogger } from '../../common/logger.js';
import type { ReportedModule } from '../../protocol/index.js';
import { runCliJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { startTestPlatform } from '../helpers/platform.js';

test('a runaway module is stopped, quarantined and reported through the API while EMA beside it keeps publishing', async (t) => {
  const { platform, dir, env } = await startTestPlatform(t, 'e2e-fault');
  const token = env.WASMFLEET_TOKEN!;

  const agentConfig = join(dir, 'gw-f.json');
  await runCliJson(['device', 'add', 'gw-f', '--profile', 'sim-x86-64', '--agent-config', agentConfig], env);
  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema'), fromRoot('test', 'fixtures', 'hostile', 'spin')], env);
  await runCliJson(['deploy', 'ema@1.0.0', '--device', 'gw-f', '--input', 'temperature', '--config', 'every=1', '--immediate'], env);
  // The simulated pressure sits near 101 kPa, and spin loops without end on any sample above 100.
  await runCliJson(['deploy', 'spin@1.0.0', '--device', 'gw-f', '--input', 'pressure', '--immediate'], env);

  const agent = await startAgent(
    { ...loadAgentConfig(agentConfig), stateDir: join(dir, 'agent-state') },
    { logger: silentLogger, backoff: { baseMs: 50, maxMs: 200, maxConsecutiveFaults: 3 } },
  );
  t.after(() => agent.stop());

  const headers = { authorization: `Bearer ${token}` };
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${platform.apiUrl}${path}`, { headers });
    assert.equal(response.status, 200, path);
    return (await response.json()) as T;
  };
  const reportedModules = async () => (await get<{ reported: { modules: ReportedModule[] } | null }>('/api/v1/devices/gw-f')).reported?.modules ?? [];
  const emaResults = async () => (await get<{ results: unknown[] }>('/api/v1/devices/gw-f/results?module=ema&limit=1000')).results.length;

  const modules = await waitFor(
    'spin quarantined in the device record the API serves',
    async () => {
      const found = await reportedModules();
      const spin = found.find((m) => m.name === 'spin');
      return spin?.state === 'failed' && /quarantined/.test(spin.reason ?? '') ? found : undefined;
    },
    30_000,
    100,
  );
  const spin = modules.find((m) => m.name === 'spin')!;
  assert.equal(spin.faults, 3, 'three faults in a row, then quarantine');
  assert.match(spin.reason!, /quarantined after 3 faults in a row; last: timeout: batch exceeded its CPU budget of 200 ms/);
  const ema = modules.find((m) => m.name === 'ema')!;
  assert.equal(ema.state, 'running');
  assert.equal(ema.faults, 0);

  const storedAtQuarantine = await emaResults();
  await waitFor('EMA results still stored after the quarantine', async () => ((await emaResults()) >= storedAtQuarantine + 5 ? true : undefined), 15_000, 100);
  // Before the platform closes (after-hooks run in the order they were added): a clean stop.
  await agent.stop();
});
