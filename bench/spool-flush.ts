/**
 * Edge autonomy figures (issue 6), on real processes:
 *
 * - Spool flush after reconnect: a real agent process starts with N results already in its
 *   spool (as after an outage) and no module to run; timed from its start until SQLite holds all
 *   N, each exactly once. Baseline, same run: the live path, one ResultBatch per QoS 1 publish
 *   awaited in turn, from a plain mqtt.js client as the same device (in the bench process).
 * - Agent restart to first result from cache: an agent whose module is cached restarts with no
 *   broker reachable; timed from spawn to the first result record in its spool. Baseline: the
 *   same process's first log line (Node boot, config and profile load).
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { startPlatform, type RunningPlatform as Platform } from '../platform/start-platform.js';
import { createApiClient } from '../cli/api-client.js';
import { writeAgentConfig } from '../cli/commands/device.js';
import { publishModuleDir } from '../cli/commands/module.js';
import { loadSigningKey } from '../cli/commands/keys.js';
import { KEY_FILES } from '../fleet-api/index.js';
import { fromRoot } from '../common/paths.js';
import { silentLogger } from '../common/logger.js';
import { encodePayload, PROTOCOL_VERSION, topics, type ResultBatch } from '../protocol/index.js';
import { Spool } from '../device-agent/spool/spool.js';
import { startCli, startScript, type RunningCli } from '../test/helpers/cli.js';
import { figure, median, type BenchFigure } from './figure.js';

function batchOf(deviceId: string, seq: number): ResultBatch {
  const t = 1_700_000_000_000 + seq * 250;
  return {
    v: PROTOCOL_VERSION, deviceId, seq, module: 'ema', version: '1.0.0', deploymentId: 'bench-spool',
    input: { source: 'temperature', firstSeq: seq * 25, count: 25, from: t - 250, to: t },
    metrics: [{ name: 'ema', points: [[t, 21.5 + (seq % 100) / 100]] }], events: [], dropped: 0,
  };
}

function storedCount(platform: Platform, deviceId: string): { rows: number; distinct: number } {
  const db = new Database(platform.dataDir.dbPath, { readonly: true });
  try {
    // One metric point per batch: a batch ingested twice would show as an extra results row.
    const distinct = db.prepare('SELECT count(*) FROM result_batches WHERE device_id = ?').pluck().get(deviceId) as number;
    const rows = db.prepare('SELECT count(*) FROM results WHERE device_id = ?').pluck().get(deviceId) as number;
    return { rows, distinct };
  } finally {
    db.close();
  }
}

async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 120_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`benchmark timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

async function deadBrokerUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `mqtt://127.0.0.1:${port}`;
}

function spoolRecordBytes(stateDir: string): number {
  try {
    const dir = join(stateDir, 'spool');
    return readdirSync(dir).filter((name) => name.endsWith('.seg')).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  } catch {
    return 0;
  }
}

export async function benchSpoolFlush(options: { spooled?: number; live?: number; restarts?: number } = {}): Promise<BenchFigure[]> {
  const spooled = options.spooled ?? 50_000;
  // Within the broker's per-client burst (2,000), so the baseline measures the path, not the limiter.
  const live = options.live ?? 1_500;
  const restarts = options.restarts ?? 5;
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-spool-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  const api = createApiClient(platform.apiUrl, platform.newAdminToken!);
  const figures: BenchFigure[] = [];
  try {
    type Provisioned = Parameters<typeof writeAgentConfig>[1];
    // --- live baseline -------------------------------------------------------------------------
    const liveDevice = await api.post<Provisioned>('/api/v1/devices', { id: 'bench-live', profile: 'sim-x86-64' });
    const client = await mqtt.connectAsync(platform.mqttUrl, { protocolVersion: 4, clientId: 'bench-live', username: liveDevice.mqtt.username, password: liveDevice.mqtt.password, reconnectPeriod: 0 });
    const liveStart = performance.now();
    // Pipelined, as the live path publishes: nothing waits for one PUBACK before the next send.
    await Promise.all(Array.from({ length: live }, (_, seq) => client.publishAsync(topics.device('bench-live', 'results'), encodePayload('results', batchOf('bench-live', seq)), { qos: 1 })));
    await waitUntil('the live results', () => storedCount(platform, 'bench-live').distinct === live);
    const liveRate = live / ((performance.now() - liveStart) / 1000);
    await client.endAsync();

    // --- spool flush ---------------------------------------------------------------------------
    const flushDevice = await api.post<Provisioned>('/api/v1/devices', { id: 'bench-spool', profile: 'sim-x86-64' });
    const flushConfig = writeAgentConfig(join(dir, 'bench-spool.json'), flushDevice);
    const flushState = (JSON.parse(readFileSync(flushConfig, 'utf8')) as { stateDir: string }).stateDir;
    const spool = new Spool(join(flushState, 'spool'), { maxBytes: 256 * 1024 * 1024, maxAgeS: 86_400 });
    for (let seq = 0; seq < spooled; seq++) spool.append(seq, encodePayload('results', batchOf('bench-spool', seq)));
    await spool.close();
    // The agent's own next seq must lie past the spooled ones, as it would after a real outage.
    writeFileSync(join(flushState, 'result-seq.json'), JSON.stringify({ reservedUpTo: spooled }) + '\n');
    const flushStart = performance.now();
    const agent = startCli(['agent', '--config', flushConfig], { WASMFLEET_LOG_LEVEL: 'warn' });
    let counted = { rows: 0, distinct: 0 };
    try {
      await waitUntil('the spooled results', () => (counted = storedCount(platform, 'bench-spool')).distinct === spooled, 120_000, 50);
    } finally {
      await agent.stop();
    }
    const flushMs = performance.now() - flushStart;
    const flushRate = spooled / (flushMs / 1000);
    figures.push(
      figure({
        bench: 'spool-flush',
        subject: `agent process flushing ${spooled.toLocaleString('en-US')} spooled results until all are in SQLite`,
        baseline: `live path: ${live.toLocaleString('en-US')} results, one pipelined QoS 1 publish each`,
        unit: 'results/s',
        subjectValue: flushRate,
        baselineValue: liveRate,
        note: `higher is better; target ≥ 5,000/s; ${counted.distinct.toLocaleString('en-US')} batches stored, ${counted.rows.toLocaleString('en-US')} result rows (${counted.rows === spooled ? 'none duplicated' : 'DUPLICATES'}); includes the agent process start`,
      }),
    );

    // --- restart to first result from cache ----------------------------------------------------
    const cacheDevice = await api.post<Provisioned>('/api/v1/devices', { id: 'bench-cache', profile: 'sim-x86-64' });
    const cacheConfig = writeAgentConfig(join(dir, 'bench-cache.json'), cacheDevice);
    const cacheState = (JSON.parse(readFileSync(cacheConfig, 'utf8')) as { stateDir: string }).stateDir;
    await publishModuleDir(api, fromRoot('modules-as', 'examples', 'ema'), loadSigningKey(join(platform.api.signing.keysDir, KEY_FILES.publisher), 'publisher key'));
    const first = startCli(['agent', '--config', cacheConfig], { WASMFLEET_LOG_LEVEL: 'warn' });
    await api.post('/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['bench-cache'] }, config: { every: 1 }, input: 'temperature', strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 } });
    await waitUntil('results from the cache device', () => storedCount(platform, 'bench-cache').distinct >= 2, 30_000);
    await first.stop();
    const offline = JSON.parse(readFileSync(cacheConfig, 'utf8')) as { broker: { url: string }; profile: string };
    offline.broker.url = await deadBrokerUrl();
    // The bundle carries no built-in profiles: a gateway gets the file from `wasmfleet flash`.
    offline.profile = fromRoot('firmware-profiles', 'sim-x86-64.json');
    writeFileSync(cacheConfig, JSON.stringify(offline));
    const toResult: number[] = [];
    const toFirstLog: number[] = [];
    for (let round = 0; round < restarts; round++) {
      const before = spoolRecordBytes(cacheState);
      const start = performance.now();
      // The self-contained bundle: what a gateway runs (wasmfleet flash), without the CLI's imports.
      const restarted = startBundledAgent(cacheConfig);
      let logged = 0;
      try {
        await waitUntil('the first log line', () => {
          if (!logged && restarted.output().includes('{')) logged = performance.now() - start;
          return logged > 0;
        }, 15_000, 2);
        await waitUntil('the first result from cache', () => spoolRecordBytes(cacheState) > before, 15_000, 2);
        toResult.push(performance.now() - start);
        toFirstLog.push(logged);
      } finally {
        await restarted.stop();
      }
    }
    figures.push(
      figure({
        bench: 'spool-flush/restart',
        subject: `bundled agent restart with no broker: spawn → first result from its cached module (median of ${restarts})`,
        baseline: 'same process: spawn → its first log line (Node boot, bundle load, config)',
        unit: 'ms',
        subjectValue: median(toResult),
        baselineValue: median(toFirstLog),
        note: `lower is better; target < 1000 ms; worst ${Math.round(Math.max(...toResult))} ms; first log line → first result ${Math.round(median(toResult.map((ms, i) => ms - toFirstLog[i]!)))} ms (median), which includes up to one batch interval (250 ms)`,
      }),
    );
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

function startBundledAgent(configPath: string): RunningCli {
  return startScript(fromRoot('dist', 'agent-bundle', 'wasmfleet-agent.mjs'), ['--config', configPath]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchSpoolFlush(), null, 2));
}
