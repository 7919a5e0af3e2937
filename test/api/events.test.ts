/**
 * GET /api/v1/events over real HTTP: order, filters, sampling, Last-Event-ID resume within the
 * buffer and a reset beyond it, rollout progress, and a client that stops reading is ended
 * without the server holding more than its queue cap for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { encodePayload, topics, type ResultBatch } from '../../protocol/index.js';
import { connectClient, startApi, waitFor, type Harness } from './helpers/harness.js';
import { provision, upload } from './helpers/fleet.js';
import { openSse } from './helpers/sse.js';

const batch = (deviceId: string, seq: number, t0: number, points = 3, module = 'ema'): ResultBatch => ({
  v: 1,
  deviceId,
  seq,
  module,
  version: '1.0.0',
  deploymentId: 'dep-x',
  input: { source: 'temperature', firstSeq: seq * 10, count: points, from: t0, to: t0 + points },
  metrics: [{ name: 'ema', points: Array.from({ length: points }, (_, i) => [t0 + i, seq + i / 10] as [number, number]) }],
  events: [],
  dropped: 0,
});

/** Through the ingest path the MQTT link feeds, without the broker in between. */
function ingest(h: Harness, ...batches: ResultBatch[]): void {
  for (const b of batches) h.api.ingestion.handlers.results(b.deviceId, [b], []);
  h.api.ingestion.flush();
}

test('presence, reported state and results arrive in order, after the commit, each once', async (t) => {
  const h = await startApi(t, { live: true });
  const password = await provision(h, 'gw-01');
  const sse = await openSse(h.url!, h.token);
  assert.equal(sse.status, 200);
  t.after(() => sse.close());
  const device = await connectClient(t, h.broker!.url, 'gw-01', password);
  await device.publishAsync(topics.device('gw-01', 'status'), encodePayload('status', { v: 1, deviceId: 'gw-01', online: true, at: new Date().toISOString(), reason: 'connected' }), { qos: 1 });
  const reported = {
    v: 1 as const, deviceId: 'gw-01', revision: 0, at: new Date().toISOString(),
    agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
    modules: [{ name: 'ema', version: '1.0.0', sha256: 'a'.repeat(64), deploymentId: 'dep-x', state: 'running' as const, faults: 0, batches: 1 }],
    errors: [],
  };
  await device.publishAsync(topics.device('gw-01', 'reported'), encodePayload('reported', reported), { qos: 1 });
  // Only a counter moved: no event.
  await device.publishAsync(topics.device('gw-01', 'reported'), encodePayload('reported', { ...reported, modules: [{ ...reported.modules[0]!, batches: 2 }] }), { qos: 1 });
  const payload = encodePayload('results', batch('gw-01', 1, 1000));
  await device.publishAsync(topics.device('gw-01', 'results'), payload, { qos: 1 });
  await device.publishAsync(topics.device('gw-01', 'results'), payload, { qos: 1 });
  // Results are committed per flush (ingest.flushMs), reported states at once: events follow the commits.
  await sse.until(3);
  const faulted = { ...reported, modules: [{ ...reported.modules[0]!, state: 'failed' as const, reason: 'trap: unreachable', faults: 1, batches: 2 }] };
  await device.publishAsync(topics.device('gw-01', 'reported'), encodePayload('reported', faulted), { qos: 1 });

  const events = await sse.until(4);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(sse.events.map((e) => e.event), ['device.online', 'device.reported', 'result', 'device.reported'], 'a duplicate batch and a counter-only report publish nothing');
  const seqs = events.map((e) => Number(e.id!.split('-')[1]));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.equal(new Set(events.map((e) => e.id!.split('-')[0])).size, 1, 'one boot');
  assert.deepEqual(events[0]!.data, { at: events[0]!.data.at, deviceId: 'gw-01', reason: 'connected' });
  assert.deepEqual(events[2]!.data.points, [[1000, 1], [1001, 1.1], [1002, 1.2]]);
  assert.equal(events[2]!.data.kind, 'metric');
  assert.equal(h.api.store.resultCount(), 3, 'the result event came after the commit');
  assert.equal(events[3]!.data.modules[0].state, 'failed');
  assert.equal(events[3]!.data.modules[0].reason, 'trap: unreachable');
});

test('filters by device, tag, kind and deployment combine with AND; sampling counts what it skips', async (t) => {
  const h = await startApi(t, { live: true });
  await provision(h, 'gw-n1', { site: 'north' });
  await provision(h, 'gw-n2', { site: 'north' });
  await provision(h, 'gw-s1', { site: 'south' });
  const north = await openSse(h.url!, h.token, 'tag=site=north&kind=result');
  const one = await openSse(h.url!, h.token, 'device=gw-s1');
  const sampled = await openSse(h.url!, h.token, 'device=gw-n1&sampleMs=3600000');
  const byDeployment = await openSse(h.url!, h.token, 'deployment=dep-other');
  const bad = await openSse(h.url!, h.token, 'kind=nonsense');
  t.after(() => [north, one, sampled, byDeployment].forEach((s) => s.close()));
  assert.equal(bad.status, 400);

  ingest(h, batch('gw-n1', 1, 0), batch('gw-s1', 1, 0), batch('gw-n2', 1, 0));
  ingest(h, batch('gw-n1', 2, 10), batch('gw-n1', 3, 20));
  ingest(h, { ...batch('gw-n1', 4, 30), deploymentId: 'dep-other' });
  h.api.events.timedOut(['gw-s1']);

  await north.until(5);
  assert.deepEqual(north.events.map((e) => `${e.data.deviceId}/${e.data.points[0][0]}`), ['gw-n1/0', 'gw-n2/0', 'gw-n1/10', 'gw-n1/20', 'gw-n1/30']);
  await one.until(2);
  assert.deepEqual(one.events.map((e) => e.event), ['result', 'device.offline']);
  assert.equal(one.events[1]!.data.reason, 'timeout');
  await byDeployment.until(1);
  assert.equal(byDeployment.events[0]!.data.points[0][0], 30);
  // Sampling: the first result of gw-n1 passes, the next three fall in its window.
  await sampled.until(1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(sampled.events.length, 1);
  assert.equal(sampled.events[0]!.data.skipped, 0);
});

test('a reconnect with Last-Event-ID resumes without gap or duplicate; an id beyond the buffer gets a reset', async (t) => {
  const h = await startApi(t, { live: true, options: { events: { bufferSize: 100 } } });
  await provision(h, 'gw-01');
  const first = await openSse(h.url!, h.token);
  for (let seq = 1; seq <= 5; seq++) ingest(h, batch('gw-01', seq, seq * 10));
  await first.until(5);
  first.close();
  const lastSeen = first.events[2]!.id!;
  for (let seq = 6; seq <= 8; seq++) ingest(h, batch('gw-01', seq, seq * 10));

  const resumed = await openSse(h.url!, h.token, '', lastSeen);
  t.after(() => resumed.close());
  ingest(h, batch('gw-01', 9, 90));
  await resumed.until(6);
  assert.deepEqual(resumed.events.map((e) => e.data.points[0][0]), [40, 50, 60, 70, 80, 90]);

  // 150 more events push the ones after `lastSeen` out of a 100-event buffer.
  for (let seq = 10; seq < 160; seq++) ingest(h, batch('gw-01', seq, seq * 10));
  const late = await openSse(h.url!, h.token, '', lastSeen);
  const restarted = await openSse(h.url!, h.token, '', '1-5');
  t.after(() => [late, restarted].forEach((s) => s.close()));
  await late.until(1);
  assert.equal(late.events[0]!.event, 'reset');
  assert.equal(late.events[0]!.data.reason, 'expired');
  assert.equal(late.events[0]!.id, `${h.api.events.bus.boot}-${h.api.events.bus.lastSeq}`);
  await restarted.until(1);
  assert.equal(restarted.events[0]!.data.reason, 'restarted');
  ingest(h, batch('gw-01', 200, 2000));
  await late.until(2);
  assert.equal(late.events[1]!.data.points[0][0], 2000, 'live events follow the reset');
  const malformed = await openSse(h.url!, h.token, '', 'not-an-id');
  assert.equal(malformed.status, 400);
});

test('a client that stops reading is ended, and the server never queues more than maxQueuedBytes for it', async (t) => {
  const maxQueuedBytes = 65_536;
  const h = await startApi(t, { live: true, options: { events: { bufferSize: 100, maxQueuedBytes } } });
  await provision(h, 'gw-01');
  const { port } = new URL(h.url!);
  // A raw socket that sends its request and then never reads a byte.
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  t.after(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(`GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\nAccept: text/event-stream\r\n\r\n`);
  socket.pause();
  let closed = false;
  socket.on('close', () => (closed = true));
  await waitFor(() => h.api.events.streams.open === 1, 3000, 'the stream to open');
  const healthy = await openSse(h.url!, h.token, 'kind=device');
  t.after(() => healthy.close());

  // About 8 KiB per event: far more than the kernel's socket buffers hold in total.
  let frameMax = 0;
  for (let seq = 1; seq <= 3000 && h.api.events.streams.open > 1; seq++) {
    ingest(h, batch('gw-01', seq, seq * 1000, 400));
    const frame = h.api.events.bus.get(h.api.events.bus.lastSeq)!.frame.length;
    frameMax = Math.max(frameMax, frame);
    if (seq % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => h.api.events.streams.open === 1, 5000, 'the slow stream to be ended');
  assert.ok(h.api.events.streams.peakQueuedBytes <= maxQueuedBytes + frameMax, `queued at most ${h.api.events.streams.peakQueuedBytes} bytes`);
  socket.resume();
  await waitFor(() => closed, 5000, 'the slow socket to close');
  // The other stream is untouched.
  h.api.events.timedOut(['gw-01']);
  await healthy.until(1);
  assert.equal(healthy.ended, false);
});

test('rollout progress: status, wave and device events for one deployment, then operator control', async (t) => {
  const h = await startApi(t, { live: true });
  await provision(h, 'gw-01');
  await provision(h, 'gw-02');
  await upload(h, 'ema', '1.0.0');
  const sse = await openSse(h.url!, h.token, 'kind=rollout');
  t.after(() => sse.close());
  const created = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01', 'gw-02'] } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  // The default strategy's canary wave holds one of the two devices.
  await sse.until(3);
  assert.deepEqual(sse.events.slice(0, 2).map((e) => [e.event, e.data.deploymentId]), [['rollout.status', id], ['rollout.wave', id]]);
  assert.equal(sse.events[0]!.data.status, 'running');
  assert.equal(sse.events[1]!.data.wave, 0);
  const pending = sse.events.filter((e) => e.event === 'rollout.device' && e.data.state === 'pending').map((e) => e.data.deviceId);
  assert.ok(pending.length >= 1, JSON.stringify(sse.events));
  const before = sse.events.length;
  assert.equal((await h.call('POST', `/api/v1/deployments/${id}/pause`)).status, 200);
  await sse.until(before + 1);
  assert.deepEqual(sse.events.slice(before).map((e) => [e.event, e.data.status]), [['rollout.status', 'paused']]);
});
