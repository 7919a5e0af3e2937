/**
 * Chaos: for a bounded number of rounds, kill -9 a random one of the server and the agents in the
 * middle of a rollout and of their result streams, and start it again. Then the invariants: the
 * rollout converges (every device in sync, the module running), and per device every result seq
 * is stored exactly once or counted as dropped with a reason (0 gaps, 0 duplicates). The random
 * choices come from a seed printed on failure (CHAOS_SEED reruns one).
 *
 * Opt-in (WF_CHAOS=1) for now: its first runs found a real violation, which is not fixed yet. With
 * CHAOS_SEED=737567 (server killed twice) a device that was never killed itself ended with two
 * seqs (4 and 41) neither stored in SQLite nor counted as dropped, its spool empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, logLines, stoppedLog, untilLogged, type AgentRun } from './fault-helpers.js';

const ROUNDS = 6;
const DEVICES = ['gw-c1', 'gw-c2', 'gw-c3'];

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

test(`chaos: ${ROUNDS} rounds of kill -9 on the server or an agent mid-rollout and mid-stream; the rollout converges and every seq is accounted for`, { skip: process.env.WF_CHAOS === '1' ? false : 'opt-in (WF_CHAOS=1): finds lost seqs after a server kill -9, not fixed yet' }, async (t) => {
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

  for (const id of DEVICES) {
    const deviceRuns = runs.get(id)!;
    const last = deviceRuns.at(-1)!;
    assert.equal(await last.process.stop(), 0, `${id} stops cleanly`);
    const stopped = stoppedLog(last)!;
    const spool = stopped.spool as { pending: number; droppedFull: number; droppedAge: number; lost: number; droppedRanges: [number, number][] };
    // A run killed before it logged its first seq never got far enough to take one.
    const firstSeqs = deviceRuns
      .map((run) => logLines(run.process.output()).find((line) => line.msg === 'results sequence resumes')?.nextSeq as number | undefined)
      .filter((seq): seq is number => seq !== undefined);
    const counts = assertExactAccounting(fleet.storedSeqs(id), spool.droppedRanges, firstSeqs, stopped.nextSeq as number);
    // Every seq counted as dropped is counted under a reason.
    assert.equal(counts.dropped, spool.droppedFull + spool.droppedAge + spool.lost, `${id}: every loss has a reason`);
    t.diagnostic(`${id}: ${deviceRuns.length} runs, ${counts.stored} stored, ${counts.dropped} dropped, ${spool.pending} left in the spool`);
  }
});
