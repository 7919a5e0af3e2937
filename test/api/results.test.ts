import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePayload, topics, type ResultBatch } from '../../protocol/index.js';
import { connectClient, startApi, waitFor } from './helpers/harness.js';
import { provision } from './helpers/fleet.js';

const batch = (deviceId: string, seq: number, t0: number, values: number[]): ResultBatch => ({
  v: 1,
  deviceId,
  seq,
  module: 'ema',
  version: '1.0.0',
  deploymentId: 'dep-x',
  input: { source: 'temperature', firstSeq: seq * 10, count: values.length, from: t0, to: t0 + values.length },
  metrics: [{ name: 'ema', points: values.map((v, i) => [t0 + i, v] as [number, number]) }],
  events: values.length > 2 ? [{ name: 'spike', t: t0 + 1, value: 99 }] : [],
  dropped: 0,
});

test('a results batch published twice over MQTT is stored once', async (t) => {
  const h = await startApi(t, { live: true });
  const password = await provision(h, 'gw-01');
  const device = await connectClient(t, h.broker!.url, 'gw-01', password);
  const payload = encodePayload('results', batch('gw-01', 7, 1_000, [1, 2, 3]));
  await device.publishAsync(topics.device('gw-01', 'results'), payload, { qos: 1 });
  await device.publishAsync(topics.device('gw-01', 'results'), payload, { qos: 1 });
  await waitFor(() => h.api.ingestion.counters().batchesDuplicate === 1, 3000, 'duplicate counted');
  const page = await h.call('GET', '/api/v1/devices/gw-01/results');
  assert.equal(page.status, 200);
  assert.deepEqual(
    page.body.results.map((r: { kind: string; t: number; value: number }) => [r.kind, r.t, r.value]),
    [['metric', 1000, 1], ['metric', 1001, 2], ['event', 1001, 99], ['metric', 1002, 3]],
  );
  assert.equal(page.body.nextCursor, null);
  assert.equal(h.api.ingestion.counters().batchesStored, 1);
  assert.equal(h.api.store.resultCount(), 4);
  const seen = (await h.call('GET', '/api/v1/devices/gw-01')).body;
  assert.ok(seen.lastSeen, 'results count as a sign of life');
});

test('malformed payloads and payloads naming another device are counted and dropped', async (t) => {
  const h = await startApi(t, { live: true });
  const password = await provision(h, 'gw-01');
  await provision(h, 'gw-02');
  const device = await connectClient(t, h.broker!.url, 'gw-01', password);
  await device.publishAsync(topics.device('gw-01', 'results'), Buffer.from('{not json'), { qos: 1 });
  await device.publishAsync(topics.device('gw-01', 'results'), Buffer.from(JSON.stringify({ v: 1, deviceId: 'gw-01' })), { qos: 1 });
  await device.publishAsync(topics.device('gw-01', 'results'), encodePayload('results', batch('gw-02', 1, 5, [1])), { qos: 1 });
  await waitFor(() => h.api.link.counters().malformed === 2 && h.api.link.counters().topicMismatch === 1, 3000, 'counters');
  h.api.ingestion.flush();
  assert.equal(h.api.store.resultCount(), 0);
});

test('results are paginated by an opaque cursor in (t, seq) order and filterable', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-01');
  // Out of order on purpose: seq 2 carries earlier timestamps than seq 1.
  h.api.store.ingestResultBatches([batch('gw-01', 1, 100, [1, 2, 3, 4, 5]), batch('gw-01', 2, 50, [6, 7]), batch('gw-01', 3, 100, [8])]);
  const all: Array<{ t: number; seq: number; kind: string }> = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await h.call('GET', `/api/v1/devices/gw-01/results${query}`);
    assert.equal(page.status, 200);
    assert.ok(page.body.results.length <= 3);
    all.push(...page.body.results);
    cursor = page.body.nextCursor;
    pages += 1;
  } while (cursor);
  assert.equal(all.length, 9);
  assert.equal(pages, 3);
  const keys = all.map((r) => [r.t, r.seq]);
  const sorted = [...keys].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  assert.deepEqual(keys, sorted);

  const events = await h.call('GET', '/api/v1/devices/gw-01/results?kind=event');
  assert.deepEqual(events.body.results.map((r: { metric: string; seq: number }) => [r.metric, r.seq]), [['spike', 1]]);
  const window = await h.call('GET', '/api/v1/devices/gw-01/results?from=100&to=102&metric=ema');
  assert.deepEqual(window.body.results.map((r: { t: number; value: number }) => [r.t, r.value]), [[100, 1], [100, 8], [101, 2]]);
  const bad = await h.call('GET', '/api/v1/devices/gw-01/results?cursor=nonsense');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, 'querystring/cursor');
  assert.equal((await h.call('GET', '/api/v1/devices/ghost/results')).status, 404);
});

test('results of unknown devices are counted, not stored', async (t) => {
  const h = await startApi(t);
  const outcome = h.api.store.ingestResultBatches([batch('ghost', 1, 1, [1])]);
  assert.deepEqual(outcome, { stored: 0, duplicates: 0, unknownDevice: 1, rows: 0, inDatabase: new Map(), fresh: [] }, 'and nothing to ack');
});
