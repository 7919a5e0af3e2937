/**
 * [WF-P-R-1] [WF-P-NACK-1] [WF-P-NACK-2] Result payloads are judged batch by batch; a refusal's
 * reason comes from the failing field and the value found there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeResults, MAX_SEQ, PROTOCOL_VERSION, type ResultBatch } from '../../protocol/index.js';

const batch = (seq: number, value: number): ResultBatch => ({
  v: PROTOCOL_VERSION, deviceId: 'gw-01', seq, module: 'm', version: '1.0.0', deploymentId: 'd',
  input: { source: 's', firstSeq: 0, count: 1, from: 0, to: 1 },
  metrics: [{ name: 'x', points: [[1, value]] }],
  events: [{ name: 'e', t: 1, value }], dropped: 0,
});
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));

test('a bundle keeps its good batches and refuses each bad one with its reason and field', () => {
  const bundle = {
    v: PROTOCOL_VERSION,
    deviceId: 'gw-01',
    batches: [batch(1, 1), batch(2, Number.NaN), { ...batch(3, 1), module: 'Not A Name!' }, { ...batch(4, 1), seq: MAX_SEQ + 1 }, batch(5, -0), { ...batch(6, 1), events: [{ name: 'e', t: Number.POSITIVE_INFINITY, value: 1 }] }],
  };
  const decoded = decodeResults('spooled', bytes(bundle));
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value.batches.map((b) => b.seq), [1, 5]);
  assert.ok(Object.is(decoded.value.batches[1]!.metrics[0]!.points[0]![1], 0), '-0 arrives as 0');
  assert.deepEqual(
    decoded.value.refused.map((r) => [r.seq, r.reason, r.field]),
    [[2, 'non-finite', 'metrics/0/points/0/1'], [3, 'schema', 'module'], [null, 'seq-range', 'seq'], [6, 'non-finite', 'events/0/t']],
  );
});

test('seq: integers in [0, 2^53 − 1] pass; anything else, or none, is seq-range', () => {
  for (const seq of [0, MAX_SEQ]) {
    const decoded = decodeResults('results', bytes(batch(seq, 1)));
    assert.ok(decoded.ok && decoded.value.batches.length === 1, `seq ${seq}`);
  }
  for (const seq of [-1, 1.5, MAX_SEQ + 1, '7', null, undefined]) {
    const decoded = decodeResults('results', bytes({ ...batch(0, 1), seq }));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value.refused.map((r) => r.reason), ['seq-range'], `seq ${String(seq)}`);
  }
});

test('what cannot be split into batches fails whole, as any payload does', () => {
  assert.equal(decodeResults('results', Buffer.from('{nope')).ok, false);
  assert.equal(decodeResults('results', bytes([batch(1, 1)])).ok, false);
  assert.equal(decodeResults('spooled', bytes({ v: PROTOCOL_VERSION, deviceId: 'gw-01', batches: [] })).ok, false);
  assert.equal(decodeResults('spooled', Buffer.alloc(2 * 1024 * 1024, 32)).ok, false);
});
