/**
 * Result queries for the ingest-under-query bench: CONCURRENCY clients in one process, each
 * sending `GET /api/v1/devices/:id/results?limit=100` for a random device as soon as its previous
 * answer arrived (keep-alive fetch).
 *
 * argv[2]: a JSON file { url, token, deviceIds, concurrency }. stdout: `{ ready: true }`, then
 * each stdin line `go MS` queries for MS milliseconds and answers `{ requests, p50, p99, max,
 * rows }` (latencies in ms). Exits when stdin closes or on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

interface Spec {
  url: string;
  token: string;
  deviceIds: string[];
  concurrency: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const headers = { authorization: `Bearer ${spec.token}` };
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;

async function query(until: number, latencies: number[], rows: { n: number }): Promise<void> {
  while (performance.now() < until) {
    const id = spec.deviceIds[Math.floor(Math.random() * spec.deviceIds.length)]!;
    const started = performance.now();
    const response = await fetch(`${spec.url}/api/v1/devices/${id}/results?limit=100`, { headers });
    if (!response.ok) throw new Error(`GET results of ${id}: ${response.status} ${await response.text()}`);
    const body = (await response.json()) as { results: unknown[] };
    latencies.push(performance.now() - started);
    rows.n += body.results.length;
  }
}

say({ ready: true });
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const until = performance.now() + Number(line.split(' ')[1]);
  const latencies: number[] = [];
  const rows = { n: 0 };
  void Promise.all(Array.from({ length: spec.concurrency }, () => query(until, latencies, rows))).then(
    () => {
      latencies.sort((a, b) => a - b);
      say({ requests: latencies.length, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] ?? Number.NaN, rows: rows.n });
    },
    (error: unknown) => say({ error: String(error) }),
  );
});
lines.once('close', () => process.exit(0));
process.once('SIGTERM', () => process.exit(0));
