/**
 * Fleet-wide aggregate query (issue 15): `avg` per hour grouped by tag over DAYS days × 500
 * devices × 1 point per minute (30 days ≈ 21.6 M points; WF_BENCH_AGG_DAYS scales it), ingested
 * through the real ingest path (so the rollups are the ones ingestion writes), against a raw
 * scan computing the same answer from the points in the same database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../fleet-api/store/index.js';
import type { ResultBatch } from '../protocol/index.js';
import { figure, median, type BenchFigure } from './figure.js';

const DEVICES = 500;
const HOUR = 3_600_000;

export async function benchAggregateQuery(): Promise<BenchFigure[]> {
  const days = Number(process.env.WF_BENCH_AGG_DAYS ?? 30);
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-agg-'));
  const store = openStore(join(dir, 'fleet.db'));
  try {
    const t0 = Date.UTC(2026, 0, 1);
    store.transaction(() => {
      for (let d = 0; d < DEVICES; d++) store.insertDevice({ id: `gw-${d}`, profile: 'sim-x86-64', tags: { site: d % 2 ? 'north' : 'south', line: String(d % 10) }, credentialHash: 'x' });
    });
    // One batch per device and hour (60 points), ingested an hour of the fleet at a time.
    let seq = 0;
    for (let h = 0; h < days * 24; h++) {
      const batches: ResultBatch[] = [];
      seq += 1;
      for (let d = 0; d < DEVICES; d++) {
        const points: Array<[number, number]> = [];
        for (let m = 0; m < 60; m++) points.push([t0 + h * HOUR + m * 60_000, 20 + ((d * 7 + h * 13 + m) % 100) / 10]);
        batches.push({ v: 1, deviceId: `gw-${d}`, seq, module: 'ema', version: '1.0.0', deploymentId: 'd', input: { source: 's', firstSeq: 0, count: 60, from: 0, to: 0 }, metrics: [{ name: 'ema', points }], events: [], dropped: 0 });
      }
      store.ingestResultBatches(batches);
      if (h % 24 === 23) process.stderr.write(`  aggregate-query: day ${(h + 1) / 24}/${days} ingested\n`);
    }
    const from = t0;
    const to = t0 + days * 24 * HOUR;
    const query = () => {
      const devices = store.selectDevices({}, { by: 'tag', key: 'line' });
      return store.aggregateResults({ module: 'ema', metric: 'ema', from, to, bucketMs: HOUR, fn: 'avg' }, devices);
    };
    const rawScan = store.db.prepare(
      `WITH sel(device_id, grp) AS (SELECT d.id, (SELECT value FROM device_tags g WHERE g.device_id = d.id AND g.key = 'line') FROM devices d)
       SELECT sel.grp, CAST(r.t / ${HOUR} AS INTEGER) * ${HOUR} AS b, avg(r.value) FROM sel CROSS JOIN results r
       ON r.device_id = sel.device_id AND r.module = 'ema' AND r.metric = 'ema' AND r.kind = 'metric' AND r.t >= ? AND r.t < ? GROUP BY 1, 2`,
    );
    const answer = query();
    if (answer.source !== 'rollup-hour' || answer.series.length !== 10) throw new Error(`unexpected answer: ${answer.source}, ${answer.series.length} series`);
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = performance.now();
      query();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const p99 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]!;
    const raw: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const rows = rawScan.all(from, to) as unknown[];
      raw.push(performance.now() - start);
      if (rows.length !== answer.series.reduce((n, s) => n + s.points.length, 0)) throw new Error('raw scan and rollup disagree on bucket count');
    }
    const points = store.resultCount();
    return [
      figure({
        bench: 'aggregate-query/avg-hour-by-tag',
        subject: `p99 of 50 queries over the hour rollups (${days} d × ${DEVICES} devices × 1/min = ${(points / 1e6).toFixed(1)} M points, 10 groups)`,
        baseline: 'median of 3 raw scans computing the same answer',
        unit: 'ms',
        subjectValue: Number(p99.toFixed(2)),
        baselineValue: Number(median(raw).toFixed(1)),
        note: 'lower is better; goal p99 < 100 ms at 30 days',
      }),
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
