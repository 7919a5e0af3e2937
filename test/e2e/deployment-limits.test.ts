/**
 * A deployment's runtime limit reaches the running module: `deploy --max-outputs 3` on a real
 * server and agent, and every result batch then carries at most 3 points, the rest counted as
 * dropped (the profile alone would allow 2048 and the ema manifest asks for no limit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { runCliJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { dbFile, Fleet, untilLogged } from './fault-helpers.js';

const CAP = 3;

test('deploy --max-outputs caps the outputs the agent keeps per batch', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-cap');
  await fleet.publishEma();
  const agent = fleet.startAgent('gw-cap');
  await untilLogged(agent, 'connected', 'the agent to connect');
  // ema emits one point per sample with every=1; a 250 ms batch of the 100 Hz source holds ~25.
  await runCliJson(
    ['deploy', 'ema@1.0.0', '--device', 'gw-cap', '--config', 'every=1', '--input', 'temperature', '--max-outputs', String(CAP), '--immediate', '--wait', '--timeout', '60'],
    fleet.env,
  );

  const db = new Database(dbFile(fleet), { readonly: true, fileMustExist: true });
  t.after(() => db.close());
  const batches = () =>
    db
      .prepare(
        `SELECT b.seq, b.dropped, (SELECT count(*) FROM results r WHERE r.device_id = b.device_id AND r.seq = b.seq) AS points
         FROM result_batches b WHERE b.device_id = ? ORDER BY b.seq`,
      )
      .all('gw-cap') as Array<{ seq: number; dropped: number; points: number }>;
  const seen = await waitFor('batches with dropped outputs', () => {
    const rows = batches();
    return rows.filter((row) => row.dropped > 0).length >= 3 ? rows : undefined;
  }, 30_000);
  for (const row of seen) assert.ok(row.points <= CAP, `batch ${row.seq} kept ${row.points} points, above the cap of ${CAP}`);
  assert.ok(seen.some((row) => row.points === CAP && row.dropped > 0), JSON.stringify(seen.slice(0, 5)));
});
