/**
 * Two levels of hubs as real processes (issue 14 §7): `wasmfleet server` (API + broker + SQLite),
 * hub `area` with its uplink to the central broker, hub `line` (a child of `area`) with its uplink
 * to `area`'s broker, and a `wasmfleet agent` behind `line`, provisioned with `device add --hub
 * line`. A deployment reaches the agent through both hubs, `line` is seen online at the centre
 * through `area`, and every result the agent produced is stored in SQLite once, with no gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, stoppedLog } from './fault-helpers.js';
import { TestHub } from './hub-helpers.js';

const DEVICE = 'cell-1';

test('a device behind hub line behind hub area gets a deployment, and its results reach SQLite with no gap', async (t) => {
  const fleet = await Fleet.start(t);

  // area below the centre, line below area; each one's upstream is what the API answers.
  const area = await TestHub.provision(t, fleet, 'area');
  const line = await TestHub.provision(t, fleet, 'line', { parent: 'area' });
  assert.deepEqual(line.provisionedUpstream, [area.url], "line's upstream is area's broker");
  const api = <T>(method: string, path: string, body?: unknown) => fleet.api<T>(method, path, body);

  // The agent's config points at line (device add --hub), reconnecting fast.
  const agentConfig = join(fleet.dir, `${DEVICE}.json`);
  const added = await runCliJson<{ brokerUrls: string[] }>(['device', 'add', DEVICE, '--profile', 'sim-x86-64', '--hub', 'line', '--agent-config', agentConfig], fleet.env);
  assert.deepEqual(added.brokerUrls, [line.url]);
  writeFileSync(agentConfig, JSON.stringify({ ...JSON.parse(readFileSync(agentConfig, 'utf8')), reconnectPeriodMs: 200, reconnectMaxMs: 2000 }));

  await Promise.all([area.start(), line.start(), fleet.publishEma()]);
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
