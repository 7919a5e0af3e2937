/**
 * Many idle connections on one broker node (issue 16, item 4): memory per connection of our broker
 * (authentication from the fleet's SQLite file as `wasmfleet broker` does it, ACL, guards) holding
 * N idle authenticated device connections, against bare Aedes 1.2 holding the same connections.
 * Each broker runs in a process of its own (bench/scale/fleet-broker.ts) and the devices in
 * another (bench/scale/idle-clients.ts: raw sockets, one CONNECT each, keepalive one hour), spread
 * over loopback source addresses 127.0.0.2 and up, at most 10,000 per address. Memory is the
 * broker's RSS after a full GC (--expose-gc, collected on request over stdin) with every device
 * connected and idle, minus the same before the first connection, divided by N.
 *
 * The devices are provisioned through `POST /api/v1/devices/batch` on a real platform, which then
 * stops; the broker child reads the same SQLite file. Both children need more open files than the
 * usual hard limit (20,000 here) and are started under prlimit (bench/scale/children.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { silentLogger } from '../common/logger.js';
import { startPlatform } from '../platform/start-platform.js';
import { figure, type BenchFigure } from './figure.js';
import { mayRaiseHardLimits, openFilesFor, openFilesHardLimit, spawnJsonChild, startFleetBroker, withOpenFiles, type FleetBrokerChild } from './scale/children.js';
import type { FleetBrokerStats } from './scale/fleet-broker.js';

const CONNECTIONS = Number(process.env.WF_BENCH_IDLE_CONNECTIONS ?? 50_000);
/** Files a broker or client child needs besides its connections (modules, SQLite, pipes, sockets of its own). */
const OTHER_FILES = 2048;
const PER_ADDRESS = 10_000;
const SETTLE_MS = 5_000;
const GOAL_RATIO = 1.5;
const GOAL_TOTAL_BYTES = 2 * 1024 ** 3;
const CLIENTS_SCRIPT = fileURLToPath(new URL('./scale/idle-clients.js', import.meta.url));

interface Account {
  id: string;
  password: string;
}

/** N devices through the batch route (10,000 per request) on a platform that then stops; returns the SQLite file. */
export async function provisionFleet(dir: string, count: number, prefix: string): Promise<{ dbPath: string; accounts: Account[] }> {
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  const accounts: Account[] = [];
  try {
    const headers = { authorization: `Bearer ${platform.newAdminToken!}`, 'content-type': 'application/json' };
    for (let start = 0; start < count; start += 10_000) {
      const devices = Array.from({ length: Math.min(10_000, count - start) }, (_, i) => ({ id: `${prefix}-${String(start + i).padStart(5, '0')}`, profile: 'sim-x86-64', tags: { bench: prefix } }));
      const response = await fetch(`${platform.apiUrl}/api/v1/devices/batch`, { method: 'POST', headers, body: JSON.stringify({ devices }) });
      if (response.status !== 201) throw new Error(`POST /devices/batch: ${response.status} ${await response.text()}`);
      const body = (await response.json()) as { devices: Array<{ mqtt: { username: string; password: string } }> };
      accounts.push(...body.devices.map(({ mqtt }) => ({ id: mqtt.username, password: mqtt.password })));
    }
    return { dbPath: platform.dataDir.dbPath, accounts };
  } finally {
    await platform.close();
  }
}

interface Held {
  readonly idle: FleetBrokerStats;
  readonly loaded: FleetBrokerStats;
  readonly connected: number;
  readonly outcomes: Record<string, number>;
  readonly connectSeconds: number;
  readonly nofile: { broker: number; clients: number };
}

async function hold(broker: FleetBrokerChild, dir: string, accounts: readonly Account[]): Promise<Held> {
  const addresses = Array.from({ length: Math.max(2, Math.ceil(accounts.length / PER_ADDRESS)) }, (_, i) => `127.0.0.${i + 2}`);
  const specPath = join(dir, 'idle-clients.json');
  writeFileSync(specPath, JSON.stringify({ port: broker.port, addresses, accounts }));
  const idle = await broker.stats();
  const started = performance.now();
  const [command, args] = withOpenFiles(openFilesFor(accounts.length + OTHER_FILES), ['--max-old-space-size=2048', CLIENTS_SCRIPT, specPath]);
  const clients = spawnJsonChild(command, args);
  try {
    // Bounded: a broker admitting fewer than 100 devices a second is a failure worth seeing.
    const result = await clients.next<{ connected: number; outcomes: Record<string, number>; nofile: number }>(accounts.length * 10 + 120_000);
    const connectSeconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await broker.stats();
    const loaded = await broker.stats();
    return { idle, loaded, connected: result.connected, outcomes: result.outcomes, connectSeconds, nofile: { broker: broker.nofile, clients: result.nofile } };
  } finally {
    await clients.stop();
  }
}

export async function benchIdleConnections(wanted = CONNECTIONS): Promise<BenchFigure[]> {
  // Without CAP_SYS_RESOURCE the hard open-files limit caps what one process can hold: measure the
  // most that fits, and project the issue's size from the per-connection figure.
  const count = Math.min(wanted, openFilesFor(wanted + OTHER_FILES) - OTHER_FILES);
  const capped = count < wanted;
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-idle-'));
  try {
    const { dbPath, accounts } = await provisionFleet(dir, count, 'idle');
    const runs: Partial<Record<'ours' | 'bare', Held>> = {};
    for (const kind of ['bare', 'ours'] as const) {
      const broker = await startFleetBroker(kind, { dbPath, openFiles: count + OTHER_FILES, nodeArgs: ['--max-old-space-size=4096'] });
      try {
        runs[kind] = await hold(broker, dir, accounts);
      } finally {
        await broker.stop();
      }
    }
    const ours = runs.ours!;
    const bare = runs.bare!;
    const mib = (bytes: number) => bytes / 1024 ** 2;
    const limitNote = capped
      ? `; measured at ${count.toLocaleString('en-US')}, not ${wanted.toLocaleString('en-US')}: the hard open-files limit here is ${openFilesHardLimit().toLocaleString('en-US')} and this process ${mayRaiseHardLimits() ? 'may' : 'may not'} raise it (no CAP_SYS_RESOURCE), so one process holds at most that many sockets`
      : '';
    // At the issue's size: the idle broker plus the measured cost of each connection.
    const whole = (held: Held) => (capped ? held.idle.rss + wanted * perConnection(held) : held.loaded.rss);
    const perConnection = (held: Held) => (held.loaded.rss - held.idle.rss) / Math.max(1, held.connected);
    const heapPer = (held: Held) => (held.loaded.heapUsed - held.idle.heapUsed) / Math.max(1, held.connected);
    const outcome = (held: Held) => `${held.connected.toLocaleString('en-US')} connected in ${held.connectSeconds.toFixed(1)} s (${held.loaded.connected.toLocaleString('en-US')} held at the reading)${Object.keys(held.outcomes).length > 0 ? ` (not admitted: ${Object.entries(held.outcomes).map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`;
    const common = `${count.toLocaleString('en-US')} idle devices over ${Math.max(2, Math.ceil(count / PER_ADDRESS))} source addresses; ours ${outcome(ours)}, bare ${outcome(bare)}; open-files limit set with prlimit to ${ours.nofile.broker.toLocaleString('en-US')} (broker) and ${ours.nofile.clients.toLocaleString('en-US')} (clients)${limitNote}`;
    return [
      figure({
        bench: 'idle-connections/per-connection',
        subject: 'our broker (SQLite credentials as `wasmfleet broker`, ACL, guards), own process: RSS per idle authenticated connection after GC',
        baseline: 'bare Aedes 1.2 defaults, own process, the same connections',
        unit: 'KiB / connection',
        subjectValue: perConnection(ours) / 1024,
        baselineValue: perConnection(bare) / 1024,
        note: `lower is better; issue 16 asks for under ${GOAL_RATIO}×; heap per connection ${(heapPer(ours) / 1024).toFixed(1)} vs ${(heapPer(bare) / 1024).toFixed(1)} KiB; ${common}`,
      }),
      figure({
        bench: 'idle-connections/rss',
        subject: `our broker's whole RSS holding ${wanted.toLocaleString('en-US')} idle connections, after GC${capped ? ` (projected: idle RSS + ${wanted.toLocaleString('en-US')} × the per-connection figure measured at ${count.toLocaleString('en-US')})` : ''}`,
        baseline: `bare Aedes holding the same${capped ? ' (projected the same way)' : ''}`,
        unit: 'MiB',
        subjectValue: mib(whole(ours)),
        baselineValue: mib(whole(bare)),
        note: `lower is better; issue 16 asks for the whole under ${mib(GOAL_TOTAL_BYTES)} MiB; measured with ${count.toLocaleString('en-US')} held: ours ${mib(ours.loaded.rss).toFixed(0)} MiB, bare ${mib(bare.loaded.rss).toFixed(0)} MiB; idle before the first connection: ours ${mib(ours.idle.rss).toFixed(0)} MiB, bare ${mib(bare.idle.rss).toFixed(0)} MiB${limitNote}`,
      }),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchIdleConnections(), null, 2));
  process.exit(0);
}
