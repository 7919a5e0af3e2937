/**
 * kill -9 of a real agent process, mid-stream and mid-apply. The spool is written before each
 * publish and kept until the API acks it, so whatever a killed run produced reaches SQLite
 * through the next run; the accounting must be exact across runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, stoppedLog, untilLogged, type AgentRun } from './fault-helpers.js';

test('kill -9 mid-stream: after a restart every result seq is stored once or counted as dropped', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-k1');
  const [first] = (await fleet.streaming(['gw-k1'], 12)) as [AgentRun];

  first.process.child.kill('SIGKILL');
  await first.process.exited;
  const storedAtKill = fleet.storedSeqs('gw-k1').length;

  const second = fleet.startAgent('gw-k1');
  await waitFor('results after the restart', () => (fleet.storedSeqs('gw-k1').length >= storedAtKill + 12 ? true : undefined), 30_000);
  assert.equal(await second.process.stop(), 0);

  const stopped = stoppedLog(second);
  assert.ok(stopped, 'the clean stop is logged with its counters');
  const spool = stopped.spool as { pending: number; droppedRanges: [number, number][] };
  assert.equal(spool.pending, 0, 'everything acked before the clean stop');
  const runs = [await first.firstSeq(), await second.firstSeq()];
  assert.ok(runs[1]! > runs[0]!, 'the restarted run continues with a higher seq block');
  const counts = assertExactAccounting(fleet.storedSeqs('gw-k1'), spool.droppedRanges, runs, stopped.nextSeq as number);
  assert.equal(counts.dropped, 0, 'nothing dropped: the spool was never full');
  assert.ok(counts.stored >= storedAtKill + 12);
});

test('kill -9 mid-apply: the restarted agent converges to the desired state and its results are all accounted for', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-k2');
  await fleet.publishEma();
  const first = fleet.startAgent('gw-k2');
  await untilLogged(first, 'connected', 'the agent to connect');
  await fleet.deployEma(['gw-k2'], false);
  // Killed the moment the desired state arrives: fetching, verifying or starting its module.
  await untilLogged(first, 'desired state received', 'the desired state to arrive', 15_000, 2);
  first.process.child.kill('SIGKILL');
  await first.process.exited;

  const second = fleet.startAgent('gw-k2');
  await waitFor('results from the restarted agent', () => (fleet.storedSeqs('gw-k2').length >= 8 ? true : undefined), 30_000);
  const devices = await fetch(`${fleet.apiUrl}/api/v1/devices/gw-k2`, { headers: { authorization: `Bearer ${fleet.env.WASMFLEET_TOKEN}` } });
  const device = (await devices.json()) as { inSync: boolean; reported?: { modules: { name: string; state: string }[] } };
  assert.equal(device.inSync, true);
  assert.deepEqual(device.reported?.modules.map((m) => [m.name, m.state]), [['ema', 'running']]);
  assert.equal(await second.process.stop(), 0);

  const stopped = stoppedLog(second)!;
  const spool = stopped.spool as { pending: number; droppedRanges: [number, number][] };
  assert.equal(spool.pending, 0);
  assertExactAccounting(fleet.storedSeqs('gw-k2'), spool.droppedRanges, [await first.firstSeq(), await second.firstSeq()], stopped.nextSeq as number);
});
