/**
 * [WF-P-R-2] [WF-P-NACK-1] [WF-P-NACK-2] No batch is stuck: a module's NaN and ±Infinity outputs are
 * dropped at the source and counted on that module; -0 arrives as 0; a batch the API cannot store
 * is answered with a negative ack carrying its reason, forgotten by the agent, counted as lost with
 * that reason, shown through the API, and never resent; and it delays no other batch.
 * Real parts throughout: an Aedes broker on port 0, the fleet API on a SQLite file, the agent's
 * spool, sender and module runner, and an asc-compiled module in the metered sandbox.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { ModuleRunner } from '../../device-agent/module-runner.js';
import { ResultSender, type RefusedResult } from '../../device-agent/spool/sender.js';
import { Spool } from '../../device-agent/spool/spool.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { decodePayload, effectiveConfig, encodePayload, MAX_SEQ, PROTOCOL_VERSION, topics, type ResultBatch, type ResultsAck } from '../../protocol/index.js';
import { startMeteredSandbox } from '../../wasm-host/metered-sandbox.js';
import { collect, connectClient, startApi, tempDir, waitFor, type Harness } from '../api/helpers/harness.js';
import { provision } from '../api/helpers/fleet.js';
import { hostile } from '../wasm-host/sandbox-helpers.js';

const DEVICE = 'gw-01';

/** The agent's result path, composed as agent.ts composes it: spool, sender, acks. */
async function agentResultPath(t: TestContext, h: Harness) {
  const password = await provision(h, DEVICE);
  const client: MqttClient = await connectClient(t, h.broker!.url, DEVICE, password);
  const spool = new Spool(join(tempDir(t), 'spool'), { maxBytes: 16 * 1024 * 1024, maxAgeS: 86_400 });
  const refusals: RefusedResult[] = [];
  // A long ack timeout: anything sent twice in this test is a resend of something the API refused.
  const sender = new ResultSender(client, spool, { deviceId: DEVICE, ackTimeoutMs: 60_000, onRefused: (refused) => refusals.push(...refused) });
  t.after(async () => {
    sender.stop();
    await spool.close();
  });
  client.on('message', (topic, payload) => sender.handleMessage(topic, payload));
  await client.subscribeAsync(sender.ackTopic, { qos: 1 });
  sender.onConnect();
  let nextSeq = 0;
  const publish = (batch: ResultBatch | Record<string, unknown>, seq = nextSeq++): void => {
    spool.append(seq, Buffer.from(JSON.stringify({ ...batch, seq })));
    sender.pump();
  };
  return { client, spool, sender, refusals, publish, takeSeq: () => nextSeq++ };
}

const batch = (seq: number, points: [number, number][], module = 'ema'): ResultBatch => ({
  v: PROTOCOL_VERSION,
  deviceId: DEVICE,
  seq,
  module,
  version: '1.0.0',
  deploymentId: `dep-${module}`,
  input: { source: 'x', firstSeq: seq, count: points.length, from: 0, to: 1 },
  metrics: [{ name: 'value', points }],
  events: [],
  dropped: 0,
});

const storedRows = async (h: Harness, module?: string) => {
  h.api.ingestion.flush();
  const page = await h.call('GET', `/api/v1/devices/${DEVICE}/results?limit=1000${module ? `&module=${module}` : ''}`);
  assert.equal(page.status, 200);
  return page.body.results as { kind: string; seq: number; metric: string; t: number; value: number }[];
};

test('NaN and ±Infinity are dropped at the source and counted on the module; -0 arrives as 0; nothing is refused or lost', async (t) => {
  const h = await startApi(t, { live: true });
  const path = await agentResultPath(t, h);
  const built = await ensureBuilt(hostile('nonfinite'));
  const runner = new ModuleRunner(
    {
      desired: { name: 'nonfinite', version: '1.0.0', sha256: 'f'.repeat(64), size: built.bytes.byteLength, deploymentId: 'dep-nf', config: {} },
      module: { sha256: 'f'.repeat(64), manifest: built.manifest, wasm: new Uint8Array(built.bytes) },
      sourceId: 'x',
      config: effectiveConfig(built.manifest, {}),
      limits: { memoryPages: 16, cpuMsPerBatch: 1000, maxOutputsPerBatch: 256 },
      batchCapacity: 16,
    },
    {
      deviceId: DEVICE,
      startSandbox: startMeteredSandbox,
      nextResultSeq: path.takeSeq,
      // As agent.ts does: encoded, spooled, then pumped.
      publishResult: (result) => {
        path.spool.append(result.seq, encodePayload('results', result));
        path.sender.pump();
      },
      onStateChange: () => {},
      logger: silentLogger,
    },
  );
  await runner.start();
  t.after(() => runner.stop());
  assert.equal(runner.report().state, 'running');
  const feed = async (firstSeq: number, values: number[]) =>
    runner.process({ sourceId: 'x', firstSeq, timestamps: new Float64Array(values.map((_, i) => 1000 * firstSeq + i)), values: new Float64Array(values) });

  await feed(1, [1.5, Number.NaN]); // echo NaN dropped
  await feed(2, [Number.POSITIVE_INFINITY]); // event and echo dropped: nothing left, so no seq is taken
  await feed(3, [Number.NEGATIVE_INFINITY, 2]); // event and the first echo dropped
  await feed(4, [-0]);

  assert.deepEqual(runner.report().lost, { nonFinite: 5 }, 'NaN once, +Infinity twice, -Infinity twice');
  await waitFor(() => path.spool.pending === 0 || undefined, 10_000, 'every result acked');
  const rows = await storedRows(h, 'nonfinite');
  assert.deepEqual(
    rows.map((row) => [row.seq, row.kind, row.metric, row.value]),
    [[0, 'metric', 'echo', 1.5], [0, 'event', 'first', 1.5], [1, 'metric', 'echo', 2], [2, 'metric', 'echo', 0], [2, 'event', 'first', 0]],
    'three batches with seqs 0..2 (no gap), only finite values, -0 as 0',
  );
  const report = path.spool.report();
  assert.equal(report.lost, 0);
  assert.equal(report.refused, 0);
  assert.deepEqual(report.droppedRanges, []);
  assert.equal(path.sender.stats().resends, 0);

  // What the agent reports, the API shows in the device view.
  const reported = { v: PROTOCOL_VERSION, deviceId: DEVICE, revision: 0, at: new Date().toISOString(), agent: { version: 't', profile: 'sim-x86-64', arch: 'x64' }, modules: [runner.report()], spool: report, errors: [] };
  await path.client.publishAsync(topics.device(DEVICE, 'reported'), encodePayload('reported', reported), { qos: 1, retain: true });
  const shown = await waitFor(async () => {
    const view = await h.call('GET', `/api/v1/devices/${DEVICE}`);
    return view.body.reported?.modules?.[0]?.lost ? view.body : undefined;
  }, 5000, 'the device view');
  assert.deepEqual(shown.reported.modules[0].lost, { nonFinite: 5 });
});

test('a batch the API cannot store is refused with its reason, counted as lost, never resent, and holds up nothing', async (t) => {
  const h = await startApi(t, { live: true });
  const path = await agentResultPath(t, h);
  const acks = await collect(path.client, topics.device(DEVICE, 'ack'));
  const tooManyMetrics = { ...batch(0, [[1, 1]], 'wide'), metrics: Array.from({ length: 65 }, (_, i) => ({ name: `m${i}`, points: [[1, i]] })) };

  // As an agent before [WF-P-R-2] spooled them: JSON.stringify turned NaN and Infinity into null.
  path.publish(batch(0, [[1, 1]]));
  path.publish(batch(0, [[2, Number.NaN]], 'bad'));
  path.publish(batch(0, [[3, Number.POSITIVE_INFINITY], [4, 4]], 'bad'));
  path.publish(tooManyMetrics);
  path.publish(batch(0, [[5, 5]]));
  path.publish(batch(0, [[6, Number.NEGATIVE_INFINITY]], 'bad'));
  for (let i = 0; i < 20; i++) path.publish(batch(0, [[10 + i, i]]));

  await waitFor(() => path.spool.pending === 0 || undefined, 10_000, 'every result acked or refused');
  assert.deepEqual(
    path.refusals.map((r) => [r.seq, r.reason, r.module, r.field]),
    [[1, 'non-finite', 'bad', 'metrics/0/points/0/1'], [2, 'non-finite', 'bad', 'metrics/0/points/0/1'], [3, 'schema', 'wide', 'metrics'], [5, 'non-finite', 'bad', 'metrics/0/points/0/1']],
  );
  const report = path.spool.report();
  assert.equal(report.refused, 4);
  assert.deepEqual(report.refusedBy, { 'non-finite': 3, schema: 1 });
  assert.deepEqual(report.droppedRanges, [[1, 3], [5, 5]], 'refused seqs are accounted for as lost');
  const healthy = await storedRows(h, 'ema');
  assert.deepEqual(healthy.map((row) => row.seq), [0, 4, ...Array.from({ length: 20 }, (_, i) => 6 + i)], 'every healthy batch stored');
  assert.deepEqual(await storedRows(h, 'bad'), [], 'nothing of a refused batch is stored');
  assert.equal(h.api.ingestion.counters().batchesRefused, 4);

  // Never resent: a reconnect rewinds the spool, and nothing is left to send.
  const published = path.sender.stats().published;
  path.sender.onConnect();
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(path.sender.stats().published, published);
  assert.equal(path.sender.stats().resends, 0);
  const refusedAcks = acks.map((m) => decodePayload('ack', m.payload)).filter((d) => d.ok && d.value.refused) as { value: ResultsAck }[];
  assert.ok(refusedAcks.every((d) => d.value.stored.length === 0), 'refusals travel in acks of their own');
});

test('seq outside [0, 2^53 − 1] is refused with reason seq-range', async (t) => {
  const h = await startApi(t, { live: true });
  const password = await provision(h, DEVICE);
  const device = await connectClient(t, h.broker!.url, DEVICE, password);
  const acks = await collect(device, topics.device(DEVICE, 'ack'));
  const send = (seq: unknown) => device.publishAsync(topics.device(DEVICE, 'results'), Buffer.from(JSON.stringify({ ...batch(0, [[1, 1]]), seq })), { qos: 1 });
  // 2^53 + 1 is not a JSON number any reader holds exactly: written out, it parses as 2^53.
  await device.publishAsync(topics.device(DEVICE, 'results'), Buffer.from(JSON.stringify(batch(0, [[1, 1]])).replace('"seq":0', '"seq":9007199254740993')), { qos: 1 });
  await send(MAX_SEQ + 1);
  await send(-1);
  await send(1.5);
  await send(MAX_SEQ);
  const refused = await waitFor(() => {
    const all = acks.flatMap((m) => {
      const decoded = decodePayload('ack', m.payload);
      return decoded.ok ? (decoded.value.refused ?? []) : [];
    });
    return all.length >= 4 ? all : undefined;
  }, 5000, 'four refusals');
  assert.deepEqual(refused.map((r) => [r.seq, r.reason, r.field]), Array(4).fill([null, 'seq-range', 'seq']));
  await waitFor(() => acks.some((m) => m.payload.includes(`[${MAX_SEQ},${MAX_SEQ}]`)) || undefined, 5000, 'the ack of 2^53 − 1');
  assert.deepEqual((await storedRows(h)).map((row) => row.seq), [MAX_SEQ], 'only the seq in range is stored');
});
