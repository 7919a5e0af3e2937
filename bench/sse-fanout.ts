/**
 * Live events (issue 15): server CPU per event while 1,000 simulated devices report (one result
 * batch each per round, through the real ingest path) with 200 SSE streams connected over
 * loopback, against the same reporting with no stream connected. The streams' clients are raw
 * sockets that discard what they read, so the CPU measured is the server's (same process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../common/logger.js';
import { createFleetApi } from '../fleet-api/index.js';
import type { ResultBatch } from '../protocol/index.js';
import { figure, type BenchFigure } from './figure.js';

const DEVICES = 1000;
const STREAMS = 200;
const ROUNDS = 10;

export async function benchSseFanout(): Promise<BenchFigure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-sse-'));
  const api = await createFleetApi(
    { dbPath: join(dir, 'fleet.db'), http: { host: '127.0.0.1', port: 0 }, mqtt: { url: 'mqtt://127.0.0.1:1', password: 'x', connectTimeoutMs: 200 }, jobs: { enabled: false } },
    { logger: silentLogger },
  );
  const sockets: Socket[] = [];
  try {
    const address = await api.app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const token = api.createAdminToken();
    api.store.transaction(() => {
      for (let d = 0; d < DEVICES; d++) api.store.insertDevice({ id: `gw-${d}`, profile: 'sim-x86-64', tags: {}, credentialHash: 'x' });
    });
    let seq = 0;
    const round = () => {
      seq += 1;
      for (let d = 0; d < DEVICES; d++) {
        const batch: ResultBatch = {
          v: 1, deviceId: `gw-${d}`, seq, module: 'ema', version: '1.0.0', deploymentId: 'd', input: { source: 's', firstSeq: 0, count: 10, from: 0, to: 0 },
          metrics: [{ name: 'ema', points: Array.from({ length: 10 }, (_, i) => [seq * 1000 + i, d + i] as [number, number]) }], events: [], dropped: 0,
        };
        api.ingestion.handlers.results(batch.deviceId, [batch], []);
      }
      api.ingestion.flush();
    };
    const measure = async (): Promise<number> => {
      const published = api.events.bus.lastSeq;
      const cpu = process.cpuUsage();
      for (let r = 0; r < ROUNDS; r++) {
        round();
        // Let the sockets drain between rounds, as a real fleet's reports spread over time.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      const used = process.cpuUsage(cpu);
      return (used.user + used.system) / (api.events.bus.lastSeq - published);
    };
    round(); // warm-up
    const baseline = await measure();
    for (let s = 0; s < STREAMS; s++) {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.write(`GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      sockets.push(socket);
    }
    for (let i = 0; i < 500 && api.events.streams.open < STREAMS; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    if (api.events.streams.open < STREAMS) throw new Error(`only ${api.events.streams.open} streams opened`);
    const subject = await measure();
    const dropped = STREAMS - api.events.streams.open;
    return [
      figure({
        bench: 'sse-fanout/cpu-per-event',
        subject: `server CPU per event with ${STREAMS} streams (${DEVICES} devices × ${ROUNDS} rounds, ${dropped} streams dropped)`,
        baseline: 'the same reporting with no stream',
        unit: 'µs/event',
        subjectValue: Number(subject.toFixed(1)),
        baselineValue: Number(baseline.toFixed(1)),
        note: 'lower is better; the baseline is ingesting and publishing the event itself (SQLite write included)',
      }),
    ];
  } finally {
    for (const socket of sockets) socket.destroy();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
