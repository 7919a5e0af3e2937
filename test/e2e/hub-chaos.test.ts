/**
 * Chaos at a site (docs/federation.md) as real processes: `wasmfleet server` (API + broker +
 * SQLite), one `wasmfleet hub` below it, three `wasmfleet agent` processes behind the hub
 * (`device add --hub`) and one connected to the centre directly, all running the asc-compiled ema
 * module. For a bounded number of rounds, in the middle of the rollout and of the result streams,
 * one of the hub, the central server and the agents is stopped, with `kill -9` or SIGTERM, and
 * started again in place after a moment. Only one process is down at a time.
 *
 * Then the invariants: a process sent SIGTERM once started exits by itself, cleanly; no process
 * dies unasked; the rollout converges (every device in sync, the module running, as the centre
 * sees it); and per device every result seq of every run is stored exactly once or counted as
 * dropped under a reason (0 gaps, 0 duplicates), after the same wait for resent backlogs as
 * chaos.test.ts. A result held at the hub across its kill -9 or across the server's is in there.
 *
 * The random choices come from a seed printed as a diagnostic (CHAOS_SEED=S replays a run); 4
 * rounds in `npm test`, WF_CHAOS_ROUNDS=N runs N. Timings are loose on purpose: nothing is timed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliJson, type RunningCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { bringDown, everyDeviceRunningEma, Fleet, seededRandom, stillRunning, stopAndAccount, untilLastRunsStored, untilLogged, waitForBacklogs } from './fault-helpers.js';
import { TestHub } from './hub-helpers.js';

const ROUNDS = Math.max(1, Number(process.env.WF_CHAOS_ROUNDS ?? 4) || 4);
const HUB = 'yard';
const BEHIND_HUB = ['gw-h1', 'gw-h2', 'gw-h3'];
const DIRECT = 'gw-d1';
const DEVICES = [...BEHIND_HUB, DIRECT];

test(`hub chaos: ${ROUNDS} rounds of kill -9 or SIGTERM on the hub, the server or an agent mid-rollout and mid-stream; the rollout converges and every seq is accounted for`, async (t) => {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  t.diagnostic(`CHAOS_SEED=${seed}`);
  const pause = (maxMs: number, minMs = 0) => new Promise((resolve) => setTimeout(resolve, minMs + Math.floor(random() * (maxMs - minMs))));

  const fleet = await Fleet.start(t);
  const hub = await TestHub.provision(t, fleet, HUB);
  for (const id of BEHIND_HUB) {
    const path = join(fleet.dir, `${id}.json`);
    const added = await runCliJson<{ brokerUrls: string[] }>(['device', 'add', id, '--profile', 'sim-x86-64', '--hub', HUB, '--agent-config', path], fleet.env);
    assert.deepEqual(added.brokerUrls, [hub.url], `${id} goes behind the hub`);
    // Reconnecting fast: tests cannot wait a minute per retry.
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), reconnectPeriodMs: 200, reconnectMaxMs: 2000 }));
  }
  await fleet.addDevice(DIRECT);
  await Promise.all([hub.start(), fleet.publishEma()]);
  for (const id of DEVICES) fleet.startAgent(id);
  for (const id of DEVICES) await untilLogged(fleet.agents.get(id)!.at(-1)!, 'connected', `${id} to connect`, 60_000);
  await waitFor('the hub online at the centre', async () => ((await fleet.api<{ online: boolean }>('GET', `/hubs/${HUB}`)).online ? true : undefined), 30_000, 250);
  // The rollout starts and the chaos begins while it is under way.
  await fleet.deployEma(DEVICES, false);

  const victims = ['hub', 'server', ...DEVICES];
  const history: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await pause(2000, 500);
      const victim = victims[Math.floor(random() * victims.length)]!;
      const signal = random() < 0.5 ? 'SIGKILL' : 'SIGTERM';
      history.push(`${victim}:${signal}`);
      const down = async (run: RunningCli, what: string, startedMsg?: string) => {
        if ((await bringDown(run, signal, what, startedMsg)).beforeStart) history[history.length - 1] += ' (before its start)';
      };
      if (victim === 'hub') {
        await down(hub.current!, 'the hub');
        hub.current = undefined;
        await pause(1500);
        await hub.start();
      } else if (victim === 'server') {
        await down(fleet.server!, 'the server');
        fleet.server = undefined;
        await pause(1500);
        await fleet.startServer();
      } else {
        await down(fleet.agents.get(victim)!.at(-1)!.process, victim, 'agent started');
        await pause(1500);
        fleet.startAgent(victim);
      }
    }
  } finally {
    t.diagnostic(`rounds: ${history.join(', ')}`);
  }

  // Converged: every device in sync with the module running, and results flowing again.
  await waitFor('every device in sync and running ema', () => everyDeviceRunningEma(fleet, DEVICES), 90_000, 500);
  await untilLastRunsStored(fleet, DEVICES, 60_000);
  await waitForBacklogs(fleet, DEVICES, 60_000);
  assert.ok(stillRunning(fleet.server), 'the server did not die unasked');
  assert.ok(stillRunning(hub.current), 'the hub did not die unasked');
  assert.ok(DEVICES.every((id) => stillRunning(fleet.agents.get(id)!.at(-1)!.process)), 'no agent died unasked');
  await stopAndAccount(t, fleet, DEVICES);
  // The hub stops by itself on SIGTERM (after the agents, so nothing it still held is in question).
  await bringDown(hub.current!, 'SIGTERM', 'the hub');
  hub.current = undefined;
});
