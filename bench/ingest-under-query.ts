/**
 * Ingest under query load (issue 16, item 6): results from 1,000 devices streaming into SQLite as
 * fast as the platform acknowledges them, while 20 clients query results, against raw
 * better-sqlite3 inserts of the same rows in 1,000-row transactions, measured in the same run.
 *
 * The platform (`startPlatform`: broker with its default limits, API, ingestion) runs in this
 * process and does nothing else; the devices (bench/scale/result-publishers.ts: mqtt.js clients
 * over 50 loopback source addresses, each with WINDOW batches of POINTS points awaiting the API's
 * ack, sent once committed) and the query clients (bench/scale/query-load.ts: keep-alive fetch of
 * `GET /api/v1/devices/:id/results?limit=100` for random devices, 20 in flight) run in two child
 * processes. Stored points per second count acknowledged batches over the measured span; the
 * raw baseline inserts as many rows into a fresh store's `results` table (same schema, indexes
 * and pragmas) with one prepared INSERT, 1,000 rows to a transaction.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { silentLogger } from '../common/logger.js';
import { hashSecretSync } from '../common/secrets.js';
import { openStore } from '../fleet-api/index.js';
import { startPlatform } from '../platform/start-platform.js';
import { figure, type BenchFigure } from './figure.js';
import { spawnJsonChild, type JsonChild } from './scale/children.js';
import { startProfiling, type Profiling } from './scale/cpu-profile.js';

const DEVICES = Number(process.env.WF_BENCH_INGEST_DEVICES ?? 1000);
const QUERY_CLIENTS = 20;
const POINTS = 50;
const WINDOW = 8;
const WARMUP_MS = 3000;
const MEASURE_MS = Number(process.env.WF_BENCH_INGEST_MS ?? 20_000);
const ADDRESSES = Array.from({ length: 50 }, (_, i) => `127.0.0.${i + 2}`);
const GOAL = 0.5;
/** WF_BENCH_INGEST_PROFILE=DIR: a CPU profile of the platform over the measured span, its top functions in the note. */
const PROFILE_DIR = process.env.WF_BENCH_INGEST_PROFILE;

const script = (name: string) => fileURLToPath(new URL(`./scale/${name}.js`, import.meta.url));

interface Published {
  points: number;
  batches: number;
  seconds: number;
}
interface Queried {
  requests: number;
  p50: number;
  p99: number;
  max: number;
  rows: number;
  error?: string;
}

/** Raw better-sqlite3: `rows` result rows shaped like the subject's (devices round-robin, POINTS per batch) in 1,000-row transactions; rows per second. */
function rawInsertRate(dir: string, deviceIds: readonly string[], rows: number): { rate: number; cpuMicrosPerRow: number } {
  const store = openStore(join(dir, 'raw.sqlite'));
  try {
    store.insertDevices(deviceIds.map((id) => ({ id, profile: 'sim-x86-64', tags: {}, credentialHash: hashSecretSync(id) })));
    const insert = store.db.prepare('INSERT INTO results (device_id, seq, kind, module, version, deployment_id, metric, t, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const insertMany = store.db.transaction((from: number, to: number) => {
      for (let r = from; r < to; r++) {
        const batch = Math.floor(r / POINTS);
        const seq = Math.floor(batch / deviceIds.length);
        const t = 1_700_000_000_000 + seq * 1000 - 1000 + (r % POINTS);
        insert.run(deviceIds[batch % deviceIds.length]!, seq, 'metric', 'ema', '1.0.0', 'bench-ingest', 'ema', t, 21.5 + (r % POINTS) / 100);
      }
    });
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let from = 0; from < rows; from += 1000) insertMany(from, Math.min(rows, from + 1000));
    const used = process.cpuUsage(cpu);
    return { rate: rows / ((performance.now() - started) / 1000), cpuMicrosPerRow: (used.user + used.system) / rows };
  } finally {
    store.close();
  }
}

export async function benchIngestUnderQuery(): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-ingest-query-'));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  const children: JsonChild[] = [];
  try {
    const token = platform.newAdminToken!;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const devices: Array<{ id: string; password: string }> = [];
    for (let start = 0; start < DEVICES; start += 10_000) {
      const batch = Array.from({ length: Math.min(10_000, DEVICES - start) }, (_, i) => ({ id: `iq-${String(start + i).padStart(5, '0')}`, profile: 'sim-x86-64' }));
      const response = await fetch(`${platform.apiUrl}/api/v1/devices/batch`, { method: 'POST', headers, body: JSON.stringify({ devices: batch }) });
      if (response.status !== 201) throw new Error(`POST /devices/batch: ${response.status} ${await response.text()}`);
      const body = (await response.json()) as { devices: Array<{ mqtt: { username: string; password: string } }> };
      devices.push(...body.devices.map(({ mqtt }) => ({ id: mqtt.username, password: mqtt.password })));
    }
    const publisherSpec = join(dir, 'publishers.json');
    writeFileSync(publisherSpec, JSON.stringify({ url: platform.mqttUrl, addresses: ADDRESSES, devices, points: POINTS, window: WINDOW }));
    const querySpec = join(dir, 'queries.json');
    writeFileSync(querySpec, JSON.stringify({ url: platform.apiUrl, token, deviceIds: devices.map((d) => d.id), concurrency: QUERY_CLIENTS }));
    const publishers = spawnJsonChild(process.execPath, ['--max-old-space-size=2048', script('result-publishers'), publisherSpec]);
    children.push(publishers);
    await publishers.next(180_000);
    const queries = spawnJsonChild(process.execPath, [script('query-load'), querySpec]);
    children.push(queries);
    await queries.next();

    publishers.process.stdin!.write(`go ${WARMUP_MS}\n`);
    await publishers.next(WARMUP_MS + 60_000);
    // The last warm-up acks land before the span starts.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    publishers.process.stdin!.write(`go ${MEASURE_MS}\n`);
    queries.process.stdin!.write(`go ${MEASURE_MS}\n`);
    // The platform's CPU over the span (this process runs nothing else): what a stored point
    // costs it, broker, ingestion and the queries' share together, whatever the cores' sharing.
    const profiling: Profiling | undefined = PROFILE_DIR ? await startProfiling() : undefined;
    const cpu = process.cpuUsage();
    const [published, queried] = await Promise.all([publishers.next<Published>(MEASURE_MS + 60_000), queries.next<Queried>(MEASURE_MS + 60_000)]);
    const platformCpu = process.cpuUsage(cpu);
    const topCosts = profiling ? await profiling.stop(PROFILE_DIR!, `ingest-under-query-${DEVICES}`, 12) : [];
    if (queried.error) throw new Error(`query load: ${queried.error}`);
    const subjectRate = published.points / published.seconds;

    const raw = rawInsertRate(dir, devices.map((d) => d.id), Math.max(100_000, published.points));
    const rawRate = raw.rate;
    const cpuPerPoint = (platformCpu.user + platformCpu.system) / published.points;
    return [
      figure({
        bench: 'ingest-under-query',
        subject: `result points stored/s from ${DEVICES.toLocaleString('en-US')} devices (MQTT → broker → API → SQLite, acked after commit) while ${QUERY_CLIENTS} clients query results`,
        baseline: 'raw better-sqlite3 INSERTs of as many rows into the same results table, 1,000-row transactions',
        unit: 'points/s',
        subjectValue: subjectRate,
        baselineValue: rawRate,
        note: `higher is better; issue 16 asks for at least ${GOAL}×; ${published.batches.toLocaleString('en-US')} batches of ${POINTS} points in ${published.seconds.toFixed(1)} s, ${WINDOW} unacked per device; queries (GET /devices/:id/results?limit=100, random device): ${queried.requests.toLocaleString('en-US')} answered, p50 ${queried.p50.toFixed(1)} ms, p99 ${queried.p99.toFixed(1)} ms, max ${queried.max.toFixed(0)} ms; platform CPU per stored point ${cpuPerPoint.toFixed(1)} µs (queries included) vs ${raw.cpuMicrosPerRow.toFixed(1)} µs per raw row, so ${(raw.cpuMicrosPerRow / cpuPerPoint).toFixed(2)}× on CPU alone${topCosts.length > 0 ? `; platform profile top self time: ${topCosts.join('; ')}` : ''}`,
      }),
      figure({
        bench: 'ingest-under-query/query-p99',
        subject: `GET /devices/:id/results?limit=100 p99 with ${QUERY_CLIENTS} in flight during that ingest`,
        baseline: 'its median in the same span',
        unit: 'ms',
        subjectValue: queried.p99,
        baselineValue: queried.p50,
        note: `lower is better; ${queried.requests.toLocaleString('en-US')} requests (${(queried.requests / (MEASURE_MS / 1000)).toFixed(0)}/s), ${queried.rows.toLocaleString('en-US')} rows returned; platform, publishers and query clients are three processes on the same cores`,
      }),
    ];
  } finally {
    await Promise.allSettled(children.map((child) => child.stop()));
    await platform.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchIngestUnderQuery(), null, 2));
  process.exit(0);
}
