/**
 * Chaos: for a bounded number of rounds, kill -9 a random one of the server and the agents in the
 * middle of a rollout and of their result streams, and start it again. Then the invariants: the
 * rollout converges (every device in sync, the module running), and per device every result seq
 * is stored exactly once or counted as dropped with a reason (0 gaps, 0 duplicates). The random
 * choices come from a seed printed on failure (CHAOS_SEED reruns one).
 *
 * Before the agents stop, the test waits for each one's backlog to be stored: after a server
 * restart the agent resends its unacked results at once, often before the new API process has
 * subscribed, so the fresh in-memory broker drops them and they go again a second or so later
 * (docs/operations.md §Restarts). Stopping earlier left them pending in the spool, which the
 * accounting below (stored ∪ dropped) read as gaps: CHAOS_SEED=737567 showed seqs 3-21 and 39-70
 * of gw-c2 pending.
 *
 * Runs in `npm test` with 4 rounds (about a minute); WF_CHAOS_ROUNDS=N runs N.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, firstSeqsOf, storedGaps, stoppedLog, untilLogged, type AgentRun } from './fault-helpers.js';

const ROUNDS = Math.max(1, Number(process.env.WF_CHAOS_ROUNDS ?? 4) || 4);
const DEVICES = ['gw-c1', 'gw-c2', 'gw-c3'];
/** Batches stored past the newest at the check: about 2 s of results at sim-x86-64's 250 ms batches. */
const LIVE_BATCHES = 8;

/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test(`chaos: ${ROUNDS} rounds of kill -9 on the server or an agent mid-rollout and mid-stream; the rollout converges and every seq is accounted for`, async (t) => {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  const random = seeded(seed);
  t.diagnostic(`CHAOS_SEED=${seed}`);
  const fleet = await Fleet.start(t);
  for (const id of DEVICES) await fleet.addDevice(id);
  await fleet.publishEma();
  const runs = new Map<string, AgentRun[]>(DEVICES.map((id) => [id, [fleet.startAgent(id)]]));
  for (const id of DEVICES) await untilLogged(runs.get(id)!.at(-1)!, 'connected', `${id} to connect`, 60_000);
  // The rollout starts and the chaos begins while it is under way.
  await fleet.deployEma(DEVICES, false);

  const victims: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await new Promise((resolve) => setTimeout(resolve, 500 + Math.floor(random() * 1500)));
    const pick = Math.floor(random() * (DEVICES.length + 1));
    if (pick === DEVICES.length) {
      victims.push('server');
      await fleet.killServer();
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 1000)));
      await fleet.startServer();
    } else {
      const id = DEVICES[pick]!;
      victims.push(id);
      const run = runs.get(id)!.at(-1)!;
      run.process.child.kill('SIGKILL');
      await run.process.exited;
      runs.get(id)!.push(fleet.startAgent(id));
    }
  }
  t.diagnostic(`victims: ${victims.join(', ')}`);

  // Converged: every device in sync with the module running, and results flowing again.
  await waitFor('every device in sync and running', async () => {
    for (const id of DEVICES) {
      const response = await fetch(`${fleet.apiUrl}/api/v1/devices/${id}`, { headers: { authorization: `Bearer ${fleet.env.WASMFLEET_TOKEN}` } });
      const device = (await response.json()) as { inSync?: boolean; reported?: { modules: { name: string; state: string }[] } };
      if (!device.inSync || device.reported?.modules.map((m) => `${m.name}:${m.state}`).join() !== 'ema:running') return undefined;
    }
    return true;
  }, 60_000, 250);
  for (const id of DEVICES) {
    const last = await runs.get(id)!.at(-1)!.firstSeq();
    await waitFor(`${id}: results of its last run stored`, () => (fleet.storedSeqs(id).some((seq) => seq >= last) ? true : undefined), 30_000);
  }
  // What a restart left unacked is resent soon after the agent's connect: wait for it, so the
  // accounting sees the backlog stored rather than pending. Not every wait can end (a dropped seq
  // is never stored); the accounting after the stop is the check and names what is missing.
  // No gap is not enough: batches still waiting for their resend at the tail leave none (CHAOS_SEED=
  // 278552: 11 pending on gw-c1 after a server restart). So results published from now on must be
  // stored too, past the newest stored now; anything older still unacked is then a gap.
  for (const id of DEVICES) {
    const newestNow = Math.max(-1, ...fleet.storedSeqs(id));
    const caughtUp = () => {
      const stored = fleet.storedSeqs(id);
      return storedGaps(stored, firstSeqsOf(runs.get(id)!)) === 0 && Math.max(-1, ...stored) >= newestNow + LIVE_BATCHES ? true : undefined;
    };
    await waitFor(`${id}: backlog stored`, caughtUp, 45_000, 250).catch(() => undefined);
  }

  for (const id of DEVICES) {
    const deviceRuns = runs.get(id)!;
    const last = deviceRuns.at(-1)!;
    assert.equal(await last.process.stop(), 0, `${id} stops cleanly`);
    const stopped = stoppedLog(last)!;
    const spool = stopped.spool as { pending: number; droppedFull: number; droppedAge: number; lost: number; droppedRanges: [number, number][] };
    assert.equal(spool.pending, 0, `${id}: nothing left unacked in the spool at the stop`);
    const firstSeqs = firstSeqsOf(deviceRuns);
    const counts = assertExactAccounting(fleet.storedSeqs(id), spool.droppedRanges, firstSeqs, stopped.nextSeq as number);
    // Every seq counted as dropped is counted under a reason.
    assert.equal(counts.dropped, spool.droppedFull + spool.droppedAge + spool.lost, `${id}: every loss has a reason`);
    t.diagnostic(`${id}: ${deviceRuns.length} runs, ${counts.stored} stored, ${counts.dropped} dropped, ${spool.pending} left in the spool`);
  }
});
