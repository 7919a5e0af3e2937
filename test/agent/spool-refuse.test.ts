/**
 * [WF-P-NACK-1] The spool forgets a refused result at once, never hands it out again, counts it by
 * reason (cumulative across restarts), and hands back its payload (so the module can be named).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Spool } from '../../device-agent/spool/spool.js';
import { tempDir } from './helpers.js';

const payloadOf = (seq: number, module = 'ema') => Buffer.from(JSON.stringify({ seq, module, deploymentId: `dep-${module}` }));
const limits = { maxBytes: 16 * 1024 * 1024, maxAgeS: 3600 };

test('refused seqs are forgotten, never resent, counted by reason and attributed to their module', async (t) => {
  const dir = tempDir(t);
  const spool = new Spool(dir, limits);
  for (let seq = 0; seq < 6; seq++) spool.append(seq, payloadOf(seq, seq === 2 || seq === 4 ? 'bad' : 'ema'));
  assert.equal(spool.takeUnsent(100, 1 << 20).length, 6);
  spool.ack([[0, 1], [3, 3], [5, 5]]);
  const refused = spool.refuse([
    { seq: 2, reason: 'non-finite', field: 'metrics/0/points/0/1', message: 'm' },
    { seq: 4, reason: 'schema', message: 'm' },
    { seq: null, reason: 'seq-range', message: 'no seq of ours' },
    { seq: 99, reason: 'schema', message: 'not in the spool' },
  ]);
  assert.deepEqual(refused.map((r) => [r.seq, r.reason, JSON.parse(r.payload!.toString()).module]), [[2, 'non-finite', 'bad'], [4, 'schema', 'bad']]);
  assert.equal(spool.pending, 0);
  spool.rewind();
  assert.deepEqual(spool.takeUnsent(100, 1 << 20), [], 'nothing is sent again');
  assert.deepEqual(spool.refuse([{ seq: 2, reason: 'non-finite', message: 'again' }]), [], 'a repeated refusal counts once');
  const report = spool.report();
  assert.equal(report.refused, 2);
  assert.deepEqual(report.refusedBy, { 'non-finite': 1, schema: 1 });
  assert.deepEqual(report.droppedRanges, [[2, 2], [4, 4]]);
  await spool.close();

  const again = new Spool(dir, limits);
  t.after(() => again.close());
  assert.equal(again.pending, 0, 'a restart does not bring them back');
  assert.equal(again.report().refused, 2);
  assert.deepEqual(again.report().refusedBy, { 'non-finite': 1, schema: 1 });
});
