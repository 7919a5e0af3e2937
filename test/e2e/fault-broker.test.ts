/**
 * The broker (the whole server process) stopped for 30 seconds while two agents produce results:
 * they keep computing into their spools, reconnect with widening, jittered delays, flush in order
 * once it is back, and every result seq is stored once in SQLite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { backoffCeiling } from '../../device-agent/reconnect-backoff.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, logLines, stoppedLog, type AgentRun } from './fault-helpers.js';

const OUTAGE_MS = 30_000;

test('broker down for 30 s: agents spool, back off, flush in order; every seq stored once', async (t) => {
  const fleet = await Fleet.start(t);
  const devices = ['gw-b1', 'gw-b2'];
  for (const id of devices) await fleet.addDevice(id);
  const runs = await fleet.streaming(devices, 4);

  await fleet.stopServer();
  const storedBefore = devices.map((id) => fleet.storedSeqs(id).length);
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
  await fleet.startServer();

  // ema runs every 250 ms: an outage of 30 s leaves ~120 results per agent in its spool.
  await waitFor('the spooled results to be stored', () => (devices.every((id, i) => fleet.storedSeqs(id).length >= storedBefore[i]! + 100) ? true : undefined), 60_000, 250);
  for (const [index, id] of devices.entries()) {
    const run = runs[index]!;
    assert.equal(await run.process.stop(), 0);
    const stopped = stoppedLog(run)!;
    const spool = stopped.spool as { pending: number; droppedRanges: [number, number][] };
    assert.equal(spool.pending, 0, `${id}: everything acked`);
    const counts = assertExactAccounting(fleet.storedSeqs(id), spool.droppedRanges, [await run.firstSeq()], stopped.nextSeq as number);
    assert.equal(counts.dropped, 0);
    assert.equal(counts.stored, (stopped.nextSeq as number) - (await run.firstSeq()), `${id}: one gap-free range`);
    assert.ok((stopped.publishes as number) < counts.stored, 'the backlog went out many results per publish');

    // The reconnect schedule the real process followed: attempts numbered 1, 2, 3… and each
    // delay inside its own window (200 ms doubling up to the 2 s cap of the test config).
    const attempts = logLines(run.process.output()).filter((line) => line.msg === 'reconnecting');
    assert.ok(attempts.length >= 5, `${id} retried during the outage (${attempts.length} attempts)`);
    attempts.forEach((line, i) => {
      assert.equal(line.attempt, i + 1);
      assert.ok((line.nextDelayMs as number) >= 1 && (line.nextDelayMs as number) <= backoffCeiling(i + 1, { minMs: 200, maxMs: 2000 }));
    });
    // Over a 30 s outage a fixed 200 ms period would try ~150 times; the capped backoff far fewer.
    assert.ok(attempts.length < 100, `backoff bounded the attempts (${attempts.length})`);
  }
});

test('spool full during an outage: the oldest are dropped, counted and visible through the API; the rest stored once', async (t) => {
  const fleet = await Fleet.start(t);
  // A gateway that produces 50 result batches a second into the smallest spool a profile allows.
  const profile = JSON.parse(readFileSync(fromRoot('firmware-profiles', 'sim-x86-64.json'), 'utf8')) as Record<string, unknown>;
  const profilePath = join(fleet.dir, 'sim-fast.json');
  writeFileSync(profilePath, JSON.stringify({ ...profile, name: 'sim-fast', batch: { intervalMs: 20, maxSamples: 1024 }, spool: { maxBytes: 65536, maxAgeS: 3600 } }));
  await fleet.addDevice('gw-f1', { profile: profilePath });
  const [run] = (await fleet.streaming(['gw-f1'], 20)) as [AgentRun];

  await fleet.stopServer();
  // ~400 results of ~300 bytes: well past 64 KiB.
  await new Promise((resolve) => setTimeout(resolve, 8000));
  await fleet.startServer();

  const reported = await waitFor('the loss in the reported state, nothing pending', async () => {
    const response = await fetch(`${fleet.apiUrl}/api/v1/devices/gw-f1`, { headers: { authorization: `Bearer ${fleet.env.WASMFLEET_TOKEN}` } });
    const device = (await response.json()) as { reported?: { spool?: { droppedFull: number; pending: number } } };
    const spool = device.reported?.spool;
    return spool && spool.droppedFull > 0 && spool.pending < 100 ? spool : undefined;
  }, 60_000, 250);
  assert.ok(reported.droppedFull > 0);

  assert.equal(await run.process.stop(), 0);
  const stopped = stoppedLog(run)!;
  const spool = stopped.spool as { pending: number; droppedFull: number; droppedAge: number; lost: number; droppedRanges: [number, number][] };
  assert.equal(spool.pending, 0);
  const counts = assertExactAccounting(fleet.storedSeqs('gw-f1'), spool.droppedRanges, [await run.firstSeq()], stopped.nextSeq as number);
  assert.equal(counts.dropped, spool.droppedFull + spool.droppedAge + spool.lost, 'the ranges and the counters agree');
  assert.ok(counts.dropped > 0);
  assert.equal(counts.stored + counts.dropped, (stopped.nextSeq as number) - (await run.firstSeq()), 'every seq stored once or counted as dropped');
});
