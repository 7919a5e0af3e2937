/**
 * [WF-P-T-7] [WF-P-T-8] Results alone or spooled in bundles are stored once, and acknowledged to
 * their device only after the SQLite commit, duplicates included (a resend needs its ack too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, encodePayload, PROTOCOL_VERSION, topics, type ResultBatch } from '../../protocol/index.js';
import { collect, connectClient, startApi, waitFor } from './helpers/harness.js';
import { provision } from './helpers/fleet.js';

const batch = (deviceId: string, seq: number): ResultBatch => ({
  v: PROTOCOL_VERSION,
  deviceId,
  seq,
  module: 'ema',
  version: '1.0.0',
  deploymentId: 'dep-x',
  input: { source: 'temperature', firstSeq: seq * 10, count: 1, from: seq, to: seq + 1 },
  metrics: [{ name: 'ema', points: [[1_000 + seq, seq]] }],
  events: [],
  dropped: 0,
});

const ackedSeqs = (messages: { payload: Buffer }[]): number[] => {
  const seqs = new Set<number>();
  for (const message of messages) {
    const decoded = decodePayload('ack', message.payload);
    assert.ok(decoded.ok, 'every ack is schema-valid');
    for (const [first, last] of decoded.value.stored) for (let seq = first; seq <= last; seq++) seqs.add(seq);
  }
  return [...seqs].sort((a, b) => a - b);
};

test('live and spooled results are stored once and acked after the commit, resends included', async (t) => {
  const h = await startApi(t, { live: true });
  const password = await provision(h, 'gw-01');
  const device = await connectClient(t, h.broker!.url, 'gw-01', password);
  const acks = await collect(device, topics.device('gw-01', 'ack'));

  await device.publishAsync(topics.device('gw-01', 'results'), encodePayload('results', batch('gw-01', 1)), { qos: 1 });
  await device.publishAsync(topics.device('gw-01', 'results'), encodePayload('results', batch('gw-01', 2)), { qos: 1 });
  const bundle = { v: PROTOCOL_VERSION, deviceId: 'gw-01', batches: [2, 3, 4, 5].map((seq) => batch('gw-01', seq)) };
  await device.publishAsync(topics.device('gw-01', 'spooled'), encodePayload('spooled', bundle), { qos: 1 });

  await waitFor(() => ackedSeqs(acks).length === 5 || undefined, 5000, 'acks for seqs 1..5');
  assert.deepEqual(ackedSeqs(acks), [1, 2, 3, 4, 5]);
  const page = await h.call('GET', '/api/v1/devices/gw-01/results');
  assert.deepEqual(page.body.results.map((row: { seq: number }) => row.seq), [1, 2, 3, 4, 5], 'seq 2, sent twice, is stored once');
  assert.ok(h.api.ingestion.counters().batchesDuplicate >= 1);
});

test('a spooled bundle with a batch of another device is refused whole: nothing stored, nothing acked', async (t) => {
  const h = await startApi(t, { live: true });
  const password = await provision(h, 'gw-01');
  await provision(h, 'gw-02');
  const device = await connectClient(t, h.broker!.url, 'gw-01', password);
  const acks = await collect(device, topics.device('gw-01', 'ack'));
  const bundle = { v: PROTOCOL_VERSION, deviceId: 'gw-01', batches: [batch('gw-01', 1), batch('gw-02', 2)] };
  await device.publishAsync(topics.device('gw-01', 'spooled'), encodePayload('spooled', bundle), { qos: 1 });
  await waitFor(() => h.api.link.counters().topicMismatch >= 1 || undefined, 3000, 'the refusal');
  // A valid batch after it proves the link is alive and that the refused one left no trace.
  await device.publishAsync(topics.device('gw-01', 'results'), encodePayload('results', batch('gw-01', 9)), { qos: 1 });
  await waitFor(() => ackedSeqs(acks).length > 0 || undefined, 5000, 'the ack of seq 9');
  assert.deepEqual(ackedSeqs(acks), [9]);
  const page = await h.call('GET', '/api/v1/devices/gw-01/results');
  assert.deepEqual(page.body.results.map((row: { seq: number }) => row.seq), [9]);
});
