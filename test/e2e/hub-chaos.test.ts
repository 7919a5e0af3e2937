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
import { waitFor } from '../helpers/wait.js';
import { agentVictims, bringDown, CHAOS_ROUNDS, chaosRounds, Fleet, untilLogged } from './fault-helpers.js';
import { TestHub } from './hub-helpers.js';

const HUB = 'yard';
const BEHIND_HUB = ['gw-h1', 'gw-h2', 'gw-h3'];
const DIRECT = 'gw-d1';
const DEVICES = [...BEHIND_HUB, DIRECT];

test(`hub chaos: ${CHAOS_ROUNDS} rounds of kill -9 or SIGTERM on the hub, the server or an agent mid-rollout and mid-stream; the rollout converges and every seq is accounted for`, async (t) => {
  const fleet = await Fleet.start(t);
  const hub = await TestHub.provision(t, fleet, HUB);
  for (const id of BEHIND_HUB) {
    const added = await fleet.addDevice<{ brokerUrls: string[] }>(id, {}, ['--hub', HUB]);
    assert.deepEqual(added.brokerUrls, [hub.url], `${id} goes behind the hub`);
  }
  await fleet.addDevice(DIRECT);
  await Promise.all([hub.start(), fleet.publishEma()]);
  for (const id of DEVICES) fleet.startAgent(id);
  for (const id of DEVICES) await untilLogged(fleet.agents.get(id)!.at(-1)!, 'connected', `${id} to connect`, 60_000);
  await waitFor('the hub online at the centre', async () => ((await fleet.api<{ online: boolean }>('GET', `/hubs/${HUB}`)).online ? true : undefined), 30_000, 250);
  // The rollout starts and the chaos begins while it is under way.
  await fleet.deployEma(DEVICES, false);

  await chaosRounds(t, fleet, DEVICES, [
    { id: 'hub', what: 'the hub', running: () => hub.current, forget: () => (hub.current = undefined), restart: () => hub.start() },
    { id: 'server', what: 'the server', running: () => fleet.server, forget: () => (fleet.server = undefined), restart: () => fleet.startServer() },
    ...agentVictims(fleet, DEVICES, (id) => fleet.startAgent(id)),
  ]);
  // The hub stops by itself on SIGTERM (after the agents, so nothing it still held is in question).
  await bringDown(hub.current!, 'SIGTERM', 'the hub');
  hub.current = undefined;
});
