/**
 * A rollout survives its server: `wasmfleet server` is killed with SIGKILL in the middle of a
 * rollout to 50 real agents and started again on the same data directory and ports; the rollout
 * resumes where it was (state in SQLite): waves already sent are not sent again, no device gets
 * an extra revision, and it completes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { apiClient, deploymentOf, poll, provisionDevice, publishProbes, startAgentProcess, untilFinished, type AgentProcess, type FleetDevice } from './rollout-fleet.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('kill -9 the server mid-rollout and restart it: the rollout resumes where it was', { timeout: 480_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-e2e-restart-'));
  const agentProcesses: AgentProcess[] = [];
  // Hooks run in the order they were added: stop everything that writes under `dir` before removing it.
  t.after(async () => {
    await server?.stop();
    await Promise.all(agentProcesses.map((agents) => agents.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${httpPort}`;
  let server: RunningCli | undefined;
  const startServer = async () => {
    server = startCli(['server', '--data', join(dir, 'data'), '--mqtt-port', String(mqttPort), '--http-port', String(httpPort)], { WASMFLEET_LOG_LEVEL: 'warn' });
    await poll('server health', async () => (await fetch(`${apiUrl}/api/v1/health`)).ok, 60_000);
  };
  await startServer();
  // The token file is written just after the API starts listening.
  const tokenPath = join(dir, 'data', 'admin.token');
  await poll('admin token file', async () => existsSync(tokenPath), 30_000);
  const api = apiClient(apiUrl, readFileSync(tokenPath, 'utf8').trim());
  await publishProbes(api, join(dir, 'data'));
  const devices: FleetDevice[] = [];
  for (let i = 0; i < 50; i += 1) devices.push(await provisionDevice(api, dir, `rs-${String(i).padStart(2, '0')}`, { fleet: 'restart' }));
  agentProcesses.push(await startAgentProcess(t, dir, 'restart-a', devices.slice(0, 25)));
  agentProcesses.push(await startAgentProcess(t, dir, 'restart-b', devices.slice(25)));
  await poll('50 devices online', async () => (await api.call('GET', '/api/v1/devices?online=true')).body.devices.length === 50, 120_000);

  const res = await api.call('POST', '/api/v1/deployments', {
    module: 'probe',
    version: '1.0.0',
    target: { tags: { fleet: 'restart' } },
    strategy: { canary: 5, waveGrowth: 2, soakSeconds: 8, ratePerMinute: 0, applyTimeoutSeconds: 120, failureThreshold: '20%' },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body.waves, [5, 10, 20, 15]);

  // Mid-rollout: the canary passed and wave 1 is applied, soaking. (A device still fetching its
  // module when the server dies reports the module starting, not failed, and retries the fetch
  // [WF-P-T-3c]; waiting for wave 1 to be applied keeps this test about the rollout's own state.)
  const before = await poll('wave 1 applied and soaking', async () => {
    const body = await deploymentOf(api, res.body.id);
    return body.devices.filter((d) => d.wave === 1).every((d) => d.state === 'applied') && body;
  }, 120_000, 100);
  assert.equal(before.status, 'running');
  assert.ok(before.devices.filter((d) => d.wave === 0).every((d) => d.state === 'healthy'));
  server!.child.kill('SIGKILL');
  await server!.exited;
  await startServer();

  const done = await untilFinished(api, res.body.id, 240_000);
  assert.equal(done.status, 'completed', done.statusReason ?? '');
  assert.equal(done.counts.healthy, 50, JSON.stringify(done.devices.filter((d) => d.state !== 'healthy')));
  const sentBefore = new Map(before.devices.filter((d) => d.publishedAt !== null).map((d) => [d.id, d.publishedAt]));
  for (const row of done.devices) {
    if (sentBefore.has(row.id)) assert.equal(row.publishedAt, sentBefore.get(row.id), `${row.id} was not sent again after the restart`);
    assert.equal(row.revision, 1, `${row.id}: one revision for one deployment`);
  }
  for (let wave = 1; wave < 4; wave += 1) {
    const firstSent = Math.min(...done.devices.filter((d) => d.wave === wave).map((d) => Date.parse(d.publishedAt!)));
    const lastApplied = Math.max(...done.devices.filter((d) => d.wave === wave - 1).map((d) => Date.parse(d.appliedAt!)));
    assert.ok(firstSent >= lastApplied + 8000, `wave ${wave} kept behind the soak of wave ${wave - 1} across the restart`);
  }
  const jobs = (await api.call('GET', '/api/v1/jobs')).body.jobs as Array<{ name: string; lastRun: { ok: boolean } | null }>;
  assert.equal(jobs.find((j) => j.name === 'rollout-progression')?.lastRun?.ok, true);
});
