/**
 * GET /metrics on a real platform (broker, API, SQLite): the exposition parses strictly as
 * Prometheus text, follows our naming rules, matches docs/metrics.md, needs a viewer token, and
 * its counters move as a device connects, is refused, publishes results and the API is called.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { fromRoot } from '../../common/paths.js';
import { encodePayload, topics, type ResultBatch } from '../../protocol/index.js';
import { startTestPlatform } from '../helpers/platform.js';
import { parsePrometheusText, sampleValue, type Family } from '../helpers/prometheus-text.js';
import { waitFor } from './helpers/harness.js';

test('/metrics parses strictly, follows the naming rules, is documented, and its counters move with traffic', async (t) => {
  const { platform, env } = await startTestPlatform(t, 'metrics');
  const api = env.WASMFLEET_API!;
  const token = env.WASMFLEET_TOKEN!;
  const scrape = async (): Promise<Map<string, Family>> => {
    const res = await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await res.text());
  };
  assert.equal((await fetch(`${api}/metrics`)).status, 401, 'a token is needed');
  const viewer = await fetch(`${api}/api/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'prom', role: 'viewer' }) });
  const viewerToken = ((await viewer.json()) as { token: string }).token;
  assert.equal((await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${viewerToken}` } })).status, 200, 'a viewer token is enough');

  const before = await scrape();
  const ours = [...before.values()].filter((f) => f.name.startsWith('wasmfleet_'));
  assert.ok(ours.length >= 20, `${ours.length} wasmfleet_ metrics`);
  for (const family of ours) {
    assert.ok(family.help && family.help.length > 10, `${family.name} has help`);
    if (family.type === 'counter') assert.match(family.name, /_total$/, `${family.name}: counters end in _total`);
    else assert.doesNotMatch(family.name, /_total$/, `${family.name}: only counters end in _total`);
    if (family.type === 'histogram') assert.match(family.name, /_(seconds|bytes)$/, `${family.name}: histograms carry their unit`);
    for (const sample of family.samples) assert.ok(!('device' in sample.labels) && !('deviceId' in sample.labels), `${family.name}: no device labels`);
  }
  assert.ok(before.has('process_cpu_user_seconds_total') && before.has('nodejs_eventloop_lag_seconds'), 'process metrics');
  const documented = new Set([...readFileSync(fromRoot('docs', 'metrics.md'), 'utf8').matchAll(/`(wasmfleet_[a-z_]+)`/g)].map((m) => m[1]!));
  assert.deepEqual(ours.map((f) => f.name).filter((n) => !documented.has(n)), [], 'every metric is in docs/metrics.md');
  assert.deepEqual([...documented].filter((n) => !before.has(n)), [], 'docs/metrics.md lists no metric that does not exist');

  // Traffic: a device provisioned over REST, a refused CONNECT, a connected device publishing results.
  const created = await fetch(`${api}/api/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'gw-m1', profile: 'sim-x86-64' }) });
  assert.equal(created.status, 201);
  const password = ((await created.json()) as { mqtt: { password: string } }).mqtt.password;
  await assert.rejects(mqtt.connectAsync(platform.mqttUrl, { username: 'gw-m1', password: 'wrong', clientId: 'gw-m1', reconnectPeriod: 0, protocolVersion: 4 }));
  const device = await mqtt.connectAsync(platform.mqttUrl, { username: 'gw-m1', password, clientId: 'gw-m1', reconnectPeriod: 0, protocolVersion: 4 });
  t.after(() => device.endAsync(true));
  const batch: ResultBatch = {
    v: 1, deviceId: 'gw-m1', seq: 1, module: 'ema', version: '1.0.0', deploymentId: 'dep-x',
    input: { source: 's', firstSeq: 0, count: 3, from: 0, to: 3 },
    metrics: [{ name: 'ema', points: [[1000, 1], [1001, 2], [1002, 3]] }], events: [], dropped: 0,
  };
  const acked = new Promise<void>((resolve) => device.on('message', (topic) => topic === topics.device('gw-m1', 'ack') && resolve()));
  await device.subscribeAsync(topics.device('gw-m1', 'ack'), { qos: 1 });
  await device.publishAsync(topics.device('gw-m1', 'status'), encodePayload('status', { v: 1, deviceId: 'gw-m1', online: true, at: new Date().toISOString(), reason: 'connected' }), { qos: 1 });
  await device.publishAsync(topics.device('gw-m1', 'results'), encodePayload('results', batch), { qos: 1 });
  await waitFor(() => platform.api.ingestion.counters().acksSent >= 1, 5000, 'the ack');
  await acked;

  const after = await scrape();
  const moved = (family: string, sample: string, labels: Record<string, string> = {}) => sampleValue(after, family, sample, labels) - sampleValue(before, family, sample, labels);
  assert.ok(moved('wasmfleet_broker_connect_refusals_total', 'wasmfleet_broker_connect_refusals_total', { reason: 'auth' }) >= 1, 'refusal counted');
  assert.ok(moved('wasmfleet_broker_connects_total', 'wasmfleet_broker_connects_total', { auth: 'device' }) >= 1, 'connect counted');
  assert.ok(moved('wasmfleet_broker_messages_in_total', 'wasmfleet_broker_messages_in_total', { kind: 'results' }) >= 1, 'results message counted');
  // Out: the results batch to the API's link (subscribed to every device's results), the ack to the device.
  assert.ok(moved('wasmfleet_broker_messages_out_total', 'wasmfleet_broker_messages_out_total', { kind: 'results' }) >= 1, 'results forwarded to the API counted');
  assert.ok(moved('wasmfleet_broker_messages_out_total', 'wasmfleet_broker_messages_out_total', { kind: 'ack' }) >= 1, 'ack delivered to the device counted');
  assert.ok(sampleValue(after, 'wasmfleet_broker_connections', 'wasmfleet_broker_connections') >= 2, 'device and API link connected');
  assert.ok(moved('wasmfleet_ingest_batches_total', 'wasmfleet_ingest_batches_total', { outcome: 'stored' }) >= 1, 'batch stored');
  assert.ok(moved('wasmfleet_ingest_points_total', 'wasmfleet_ingest_points_total') >= 3, 'points stored');
  assert.ok(moved('wasmfleet_ingest_write_duration_seconds', 'wasmfleet_ingest_write_duration_seconds_count') >= 1, 'write timed');
  assert.ok(moved('wasmfleet_ingest_ack_latency_seconds', 'wasmfleet_ingest_ack_latency_seconds_count') >= 1, 'ack latency observed');
  assert.ok(moved('wasmfleet_http_request_duration_seconds', 'wasmfleet_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/devices', status: '201' }) >= 1, 'request timed by route pattern');
  assert.equal(sampleValue(after, 'wasmfleet_devices', 'wasmfleet_devices', { state: 'online' }), 1);
  assert.ok(moved('wasmfleet_events_published_total', 'wasmfleet_events_published_total', { event: 'result' }) >= 1, 'event published');
  await platform.api.runJob('offline-detection');
  const jobs = await scrape();
  assert.ok(sampleValue(jobs, 'wasmfleet_job_duration_seconds', 'wasmfleet_job_duration_seconds_count', { job: 'offline-detection' }) >= 1, 'job timed');
});

test('the Grafana dashboard queries only metrics the server exposes', async (t) => {
  const { env } = await startTestPlatform(t, 'grafana');
  const res = await fetch(`${env.WASMFLEET_API}/metrics`, { headers: { authorization: `Bearer ${env.WASMFLEET_TOKEN}` } });
  const families = parsePrometheusText(await res.text());
  const known = new Set<string>();
  for (const family of families.values()) for (const sample of family.samples) known.add(sample.name);
  for (const family of families.values()) known.add(family.name);
  const dashboard = JSON.parse(readFileSync(fromRoot('docs', 'grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  for (const panel of dashboard.panels) {
    for (const target of panel.targets) {
      for (const [name] of target.expr.matchAll(/\b(?:wasmfleet|process|nodejs)_[a-z0-9_]+/g)) {
        // Histogram buckets exist once something was observed; their family is what must exist.
        assert.ok(known.has(name) || known.has(name.replace(/_(bucket|count|sum)$/, '')), `${panel.title}: ${name}`);
      }
    }
  }
});
