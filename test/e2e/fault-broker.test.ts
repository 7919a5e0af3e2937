/**
 * The broker (the whole server process) stopped for 30 seconds while two agents produce results:
 * they keep computing into their spools, reconnect with widening, jittered delays, flush in order
 * once it is back, and every result seq is stored once in SQLite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffCeiling } from '../../device-agent/reconnect-backoff.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, logLines, stoppedLog } from './fault-helpers.js';

const OUTAGE_MS = 30_000;

test('broker down for 30 s: agents spool, back off, flush in order; every seq stored once', async (t) => {
  const fleet = await Fleet.start(t);
  const devices = ['gw-b1', 'gw-b2'];
  for (const id of devices) await fleet.addDevice(id);
  await fleet.publishEma();
  const runs = devices.map((id) => fleet.startAgent(id));
  await fleet.deployEma(devices);
  await waitFor('results stored', () => (devices.every((id) => fleet.storedSeqs(id).length >= 4) ? true : undefined), 30_000);

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
