/**
 * Fair ingestion (issue 17): what one device flushing a large backlog costs every other device.
 *
 * Eight probe devices (mqtt.js clients in the bench process) each publish one live ResultBatch
 * every 100 ms; a probe's latency is publish → the API's ack of that seq, i.e. committed to SQLite.
 * Baseline: the probes alone. Subject, same run: the probes while a real agent process flushes a
 * spool of 20,000 heavy batches (20 points each) as SpooledResults under its 5,000-result window.
 * The ratio of the two (median and 95th percentile) is the delay one backlog adds to the others.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { startPlatform, type RunningPlatform } from '../platform/start-platform.js';
import { createApiClient } from '../cli/api-client.js';
import { writeAgentConfig } from '../cli/commands/device.js';
import { silentLogger } from '../common/logger.js';
import { decodePayload, encodePayload, PROTOCOL_VERSION, topics, type ResultBatch } from '../protocol/index.js';
import { Spool } from '../device-agent/spool/spool.js';
import { startCli } from '../test/helpers/cli.js';
import { figure, median, type BenchFigure } from './figure.js';

const PROBES = 8;
const PROBE_INTERVAL_MS = 100;
const POINTS_PER_FLOOD_BATCH = 20;

function batchOf(deviceId: string, seq: number, points: number): ResultBatch {
  const t = 1_700_000_000_000 + seq * 250;
  return {
    v: PROTOCOL_VERSION, deviceId, seq, module: 'ema', version: '1.0.0', deploymentId: 'bench-fair',
    input: { source: 'temperature', firstSeq: seq * 25, count: 25, from: t - 250, to: t },
    metrics: [{ name: 'ema', points: Array.from({ length: points }, (_, i) => [t + i, 21.5 + i / 100] as [number, number]) }],
    events: [], dropped: 0,
  };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

interface Probe {
  readonly client: MqttClient;
  readonly deviceId: string;
  readonly sentAt: Map<number, number>;
  nextSeq: number;
}

/** Publishes from every probe each interval until `until()` is true; returns each batch's publish → ack time. */
async function runProbes(probes: Probe[], until: () => boolean, maxMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const listeners = probes.map((probe) => {
    const onMessage = (topic: string, payload: Buffer) => {
      const decoded = decodePayload('ack', payload);
      if (!decoded.ok) return;
      for (const [first, last] of decoded.value.stored) {
        for (let seq = first; seq <= last; seq++) {
          const sent = probe.sentAt.get(seq);
          if (sent === undefined) continue;
          latencies.push(performance.now() - sent);
          probe.sentAt.delete(seq);
        }
      }
    };
    probe.client.on('message', onMessage);
    return () => probe.client.off('message', onMessage);
  });
  const started = performance.now();
  try {
    while (!until() && performance.now() - started < maxMs) {
      for (const probe of probes) {
        const seq = probe.nextSeq++;
        probe.sentAt.set(seq, performance.now());
        probe.client.publish(topics.device(probe.deviceId, 'results'), encodePayload('results', batchOf(probe.deviceId, seq, 1)), { qos: 1 });
      }
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
    // The last round's acks.
    const drainUntil = performance.now() + 5000;
    while (probes.some((probe) => probe.sentAt.size > 0) && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    for (const off of listeners) off();
  }
  return latencies;
}

function storedBatches(platform: RunningPlatform, deviceId: string): number {
  const db = new Database(platform.dataDir.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM result_batches WHERE device_id = ?').pluck().get(deviceId) as number;
  } finally {
    db.close();
  }
}

export async function benchFairIngest(options: { backlog?: number; baselineMs?: number } = {}): Promise<BenchFigure[]> {
  const backlog = options.backlog ?? 20_000;
  const baselineMs = options.baselineMs ?? 4000;
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-fair-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  const api = createApiClient(platform.apiUrl, platform.newAdminToken!);
  type Provisioned = Parameters<typeof writeAgentConfig>[1];
  const probes: Probe[] = [];
  try {
    for (let i = 0; i < PROBES; i++) {
      const deviceId = `bench-probe-${i}`;
      const device = await api.post<Provisioned>('/api/v1/devices', { id: deviceId, profile: 'sim-x86-64' });
      const client = await mqtt.connectAsync(platform.mqttUrl, { protocolVersion: 4, clientId: deviceId, username: device.mqtt.username, password: device.mqtt.password, reconnectPeriod: 0 });
      await client.subscribeAsync(topics.device(deviceId, 'ack'), { qos: 1 });
      probes.push({ client, deviceId, sentAt: new Map(), nextSeq: 0 });
    }

    // --- baseline: the probes alone -----------------------------------------------------------
    const baselineEnd = performance.now() + baselineMs;
    const alone = await runProbes(probes, () => performance.now() > baselineEnd, baselineMs + 1000);

    // --- subject: the probes while one agent flushes its backlog -------------------------------
    const flood = await api.post<Provisioned>('/api/v1/devices', { id: 'bench-flood', profile: 'sim-x86-64' });
    const floodConfig = writeAgentConfig(join(dir, 'bench-flood.json'), flood);
    const floodState = (JSON.parse(readFileSync(floodConfig, 'utf8')) as { stateDir: string }).stateDir;
    const spool = new Spool(join(floodState, 'spool'), { maxBytes: 512 * 1024 * 1024, maxAgeS: 86_400 });
    for (let seq = 0; seq < backlog; seq++) spool.append(seq, encodePayload('results', batchOf('bench-flood', seq, POINTS_PER_FLOOD_BATCH)));
    await spool.close();
    writeFileSync(join(floodState, 'result-seq.json'), JSON.stringify({ reservedUpTo: backlog }) + '\n');
    const agent = startCli(['agent', '--config', floodConfig], { WASMFLEET_LOG_LEVEL: 'warn' });
    let floodStored = 0;
    let floodStartedAt = 0;
    let floodMs = 0;
    let during: number[];
    try {
      // Probes from the flood's first stored batch to its last, so every sample overlaps the flush.
      const floodStart = performance.now();
      while (storedBatches(platform, 'bench-flood') === 0 && performance.now() - floodStart < 60_000) await new Promise((resolve) => setTimeout(resolve, 20));
      floodStartedAt = performance.now();
      let lastCheck = 0;
      during = await runProbes(
        probes,
        () => {
          if (performance.now() - lastCheck < 200) return false;
          lastCheck = performance.now();
          floodStored = storedBatches(platform, 'bench-flood');
          return floodStored >= backlog;
        },
        180_000,
      );
      floodMs = performance.now() - floodStartedAt;
    } finally {
      await agent.stop();
    }
    const rows = backlog * POINTS_PER_FLOOD_BATCH;
    const note = `lower is better; the flood: ${backlog.toLocaleString('en-US')} spooled batches × ${POINTS_PER_FLOOD_BATCH} points from one agent process, ${floodStored.toLocaleString('en-US')} stored in ${(floodMs / 1000).toFixed(1)} s (${Math.round(rows / (floodMs / 1000)).toLocaleString('en-US')} rows/s); ${PROBES} probe devices, one live batch each per ${PROBE_INTERVAL_MS} ms; ${alone.length} samples alone, ${during.length} during`;
    return [
      figure({
        bench: 'fair-ingest/median',
        subject: 'other devices’ result latency (publish → ack after commit), median, while one device flushes its backlog',
        baseline: 'the same devices, no backlog flushing',
        unit: 'ms',
        subjectValue: median(during),
        baselineValue: median(alone),
        note,
      }),
      figure({
        bench: 'fair-ingest/p95',
        subject: 'other devices’ result latency, 95th percentile, while one device flushes its backlog',
        baseline: 'the same devices, no backlog flushing',
        unit: 'ms',
        subjectValue: percentile(during, 0.95),
        baselineValue: percentile(alone, 0.95),
        note: `lower is better; worst during the flush ${Math.round(Math.max(...during))} ms, alone ${Math.round(Math.max(...alone))} ms`,
      }),
    ];
  } finally {
    await Promise.allSettled(probes.map((probe) => probe.client.endAsync()));
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchFairIngest(), null, 2));
}
