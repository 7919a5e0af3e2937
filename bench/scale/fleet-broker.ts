/**
 * A broker in a process of its own for the scale benches (issue 16), started with --expose-gc:
 *  - `ours DB_PATH`: startBroker admitting devices from a fleet SQLite file through the read-only
 *    credential reader, exactly as `wasmfleet broker` does (authentication, ACL, packet size guard,
 *    publish rate limits, revocation), with the connection-rate limits off (a bench connects tens
 *    of thousands of devices within seconds); the API link's password comes from
 *    WF_BENCH_SERVICE_PASSWORD;
 *  - `bare`: Aedes 1.x with its defaults on a plain TCP server, admitting anyone.
 * It prints one JSON line `{ port, nofile }` once listening (nofile: its open-files limit as the
 * kernel applies it), then answers each stdin line with `{ rss, heapUsed, external, cpuSeconds,
 * connected }` read after a full garbage collection, except two lines that profile a span of its
 * CPU (scale/cpu-profile.ts): `profile-start` (answers `{ profiling: true }`) and
 * `profile-stop DIR NAME` (writes DIR/NAME.cpuprofile, answers `{ top }`, its top functions by self
 * time). It stops on SIGTERM or when stdin closes.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { Aedes } from 'aedes';
import { startBroker } from '../../broker/index.js';
import { silentLogger } from '../../common/logger.js';
import { openCredentialReader, storeCredentialVerifier } from '../../fleet-api/index.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { startProfiling, type Profiling } from './cpu-profile.js';

export interface FleetBrokerReady {
  readonly port: number;
  /** Soft limit on open files in this process. */
  readonly nofile: number;
}

export interface FleetBrokerStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly cpuSeconds: number;
  readonly connected: number;
}

const [kind, dbPath] = process.argv.slice(2);

function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s{2,}/)[1] ?? Number.NaN);
}

async function startOurs(): Promise<{ port: number; connected: () => number; close: () => Promise<void> }> {
  const reader = openCredentialReader(dbPath!, silentLogger);
  const verifier = storeCredentialVerifier(reader, { username: SERVICE_USERNAME, password: process.env.WF_BENCH_SERVICE_PASSWORD ?? 'unused' });
  const broker = await startBroker({ host: '127.0.0.1', port: 0, verifier, logger: silentLogger, connectRatePerAddress: 0, connectRateGlobal: 0 });
  return {
    port: broker.port,
    connected: () => broker.stats().connectedClients,
    close: async () => {
      await broker.close();
      await reader.close();
    },
  };
}

async function startBare(): Promise<{ port: number; connected: () => number; close: () => Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connected: () => aedes.connectedClients,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (kind !== 'ours' && kind !== 'bare') {
  process.stderr.write('usage: fleet-broker.js ours DB_PATH | bare\n');
  process.exit(2);
}
const running = kind === 'ours' ? await startOurs() : await startBare();
const ready: FleetBrokerReady = { port: running.port, nofile: openFilesLimit() };
process.stdout.write(`${JSON.stringify(ready)}\n`);

const gc = (globalThis as { gc?: () => void }).gc;
const lines = createInterface({ input: process.stdin });
let profiling: Profiling | undefined;
const answer = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
lines.on('line', (line) => {
  const [command, dir, name] = line.trim().split(/\s+/);
  if (command === 'profile-start') {
    void startProfiling().then((started) => {
      profiling = started;
      answer({ profiling: true });
    });
    return;
  }
  if (command === 'profile-stop' && dir && name) {
    const stopping = profiling;
    profiling = undefined;
    void (stopping ? stopping.stop(dir, name) : Promise.resolve([])).then((top) => answer({ top }));
    return;
  }
  gc?.();
  // A second pass after the event loop turns collects what the first one's finalizers released.
  setImmediate(() => {
    gc?.();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const stats: FleetBrokerStats = { rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external, cpuSeconds: (cpu.user + cpu.system) / 1e6, connected: running.connected() };
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  });
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 10_000).unref();
  void running.close().then(() => process.exit(0));
};
lines.once('close', stop);
process.once('SIGTERM', stop);
