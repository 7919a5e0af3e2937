/**
 * Two levels of hubs as real processes (issue 14 §7): `wasmfleet server` (API + broker + SQLite),
 * hub `area` with its uplink to the central broker, hub `line` (a child of `area`) with its uplink
 * to `area`'s broker, and a `wasmfleet agent` behind `line`, provisioned with `device add --hub
 * line`. A deployment reaches the agent through both hubs, `line` is seen online at the centre
 * through `area`, and every result the agent produced is stored in SQLite once, with no gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliJson, startCli, type RunningCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, freePort, stoppedLog } from './fault-helpers.js';

const DEVICE = 'cell-1';

test('a device behind hub line behind hub area gets a deployment, and its results reach SQLite with no gap', async (t) => {
  const fleet = await Fleet.start(t);
  const hubDir = mkdtempSync(join(tmpdir(), 'wf-hub-nested-'));
  const hubs: RunningCli[] = [];
  t.after(async () => {
    for (const hub of [...hubs].reverse()) await hub.stop();
    const keep = process.env.WF_TEST_LOG_DIR;
    if (keep) hubs.forEach((run, i) => writeFileSync(join(keep, `nested-hub-${i}.log`), run.output()));
    rmSync(hubDir, { recursive: true, force: true });
  });
  const api = <T>(method: string, path: string, body?: unknown) => fleet.api<T>(method, path, body);

  // area below the centre, line below area; each one's upstream is what the API answers.
  const areaPort = await freePort();
  const linePort = await freePort();
  type Provisioned = { upstream: { urls: string[]; password: string } };
  const area = await api<Provisioned>('POST', '/hubs', { id: 'area', urls: [`mqtt://127.0.0.1:${areaPort}`] });
  const line = await api<Provisioned>('POST', '/hubs', { id: 'line', parent: 'area', urls: [`mqtt://127.0.0.1:${linePort}`] });
  assert.deepEqual(line.upstream.urls, [`mqtt://127.0.0.1:${areaPort}`], "line's upstream is area's broker");
  const startHub = async (hubId: string, provisioned: Provisioned, port: number): Promise<void> => {
    const config = join(hubDir, `${hubId}.hub.json`);
    const upstream = { urls: provisioned.upstream.urls, reconnectPeriodMs: 200 };
    writeFileSync(config, JSON.stringify({ hubId, secret: provisioned.upstream.password, upstream, listen: { host: '127.0.0.1', port }, dataDir: `${hubId}-data`, statusIntervalMs: 1000 }));
    const run = startCli(['hub', '--config', config, '--json']);
    hubs.push(run);
    await waitFor(`hub ${hubId} to start`, () => (run.output().includes('"siteRevision"') ? true : undefined), 60_000);
  };

  // The agent's config points at line (device add --hub), reconnecting fast.
  const agentConfig = join(fleet.dir, `${DEVICE}.json`);
  const added = await runCliJson<{ brokerUrls: string[] }>(['device', 'add', DEVICE, '--profile', 'sim-x86-64', '--hub', 'line', '--agent-config', agentConfig], fleet.env);
  assert.deepEqual(added.brokerUrls, [`mqtt://127.0.0.1:${linePort}`]);
  writeFileSync(agentConfig, JSON.stringify({ ...JSON.parse(readFileSync(agentConfig, 'utf8')), reconnectPeriodMs: 200, reconnectMaxMs: 2000 }));

  await Promise.all([startHub('area', area, areaPort), startHub('line', line, linePort), fleet.publishEma()]);
  const agent = fleet.startAgent(DEVICE);
  await waitFor('both hubs online at the centre (line through area)', async () => {
    const { hubs: views } = await api<{ hubs: Array<{ id: string; online: boolean }> }>('GET', '/hubs');
    return views.length === 2 && views.every((view) => view.online) ? true : undefined;
  }, 30_000, 250);

  // The deployment reaches the agent through both hubs (--wait: applied as reported back up).
  await fleet.deployEma([DEVICE]);
  await waitFor('results stored through both hubs', () => (fleet.storedSeqs(DEVICE).length >= 8 ? true : undefined), 30_000, 250);

  assert.equal(await agent.process.stop(), 0);
  const stopped = stoppedLog(agent)!;
  const nextSeq = stopped.nextSeq as number;
  await waitFor('every result in SQLite', () => (fleet.storedSeqs(DEVICE).at(-1) === nextSeq - 1 ? true : undefined), 30_000, 250);
  const dropped = (stopped.spool as { droppedRanges: [number, number][] }).droppedRanges;
  const counts = assertExactAccounting(fleet.storedSeqs(DEVICE), dropped, [await agent.firstSeq()], nextSeq);
  assert.equal(counts.dropped, 0, 'nothing dropped');
  t.diagnostic(`${counts.stored} result batches stored through two hubs, 0 gaps`);
});
