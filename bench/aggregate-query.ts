/**
 * Fleet-wide aggregate query (issue 15): `avg` per hour grouped by tag over DAYS days × 500
 * devices × 1 point per minute (30 days ≈ 21.6 M points; WF_BENCH_AGG_DAYS scales it), against a
 * raw scan computing the same answer from the points in the same database. The history is written
 * straight into the store's SQLite file (aggregate-fill.ts), rows identical to what the ingest
 * transaction leaves (points, batches, minute and hour rollups), which each run checks first on a
 * sample ingested through the real path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../fleet-api/store/index.js';
import { checkFillMatchesIngest, deviceIdOf, fillResults, type FillPlan } from './aggregate-fill.js';
import { figure, median, type BenchFigure } from './figure.js';

const DEVICES = 500;
const HOUR = 3_600_000;

const insertFleet = (store: Store, devices: number) =>
  store.transaction(() => {
    for (let d = 0; d < devices; d++) store.insertDevice({ id: deviceIdOf(d), profile: 'sim-x86-64', tags: { site: d % 2 ? 'north' : 'south', line: String(d % 10) }, credentialHash: 'x' });
  });

/** Throws unless the raw scan's (group, bucket, avg) rows are the rollup answer's points. */
function sameAnswer(series: ReadonlyArray<{ group: string | null; points: ReadonlyArray<[number, number]> }>, rows: ReadonlyArray<[string | null, number, number]>): void {
  const expected = new Map(rows.map(([group, b, v]) => [`${group}|${b}`, v]));
  let points = 0;
  for (const s of series) {
    for (const [b, v] of s.points) {
      points += 1;
      const raw = expected.get(`${s.group}|${b}`);
      if (raw === undefined || Math.abs(raw - v) > 1e-9 * Math.max(1, Math.abs(raw))) throw new Error(`raw scan and rollups disagree at group ${s.group}, bucket ${b}: ${raw} vs ${v}`);
    }
  }
  if (points !== rows.length) throw new Error(`raw scan has ${rows.length} buckets, the rollup answer ${points}`);
}

export async function benchAggregateQuery(): Promise<BenchFigure[]> {
  const days = Number(process.env.WF_BENCH_AGG_DAYS ?? 30);
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-agg-'));
  const t0 = Date.UTC(2026, 0, 1);
  const plan = (devices: number, hours: number): FillPlan => ({ devices, hours, t0, value: (d, h, m) => 20 + ((d * 7 + h * 13 + m) % 100) / 10 });
  // The fast fill must leave what ingest leaves: 3 devices × 3 hours both ways, compared table by table.
  const viaIngest = openStore(join(dir, 'ingest.db'));
  const viaFill = openStore(join(dir, 'fill.db'));
  try {
    insertFleet(viaIngest, 3);
    insertFleet(viaFill, 3);
    checkFillMatchesIngest(viaIngest, viaFill, plan(3, 3));
  } finally {
    viaIngest.close();
    viaFill.close();
  }
  const store = openStore(join(dir, 'fleet.db'));
  try {
    insertFleet(store, DEVICES);
    const filled = performance.now();
    fillResults(store.db, plan(DEVICES, days * 24), t0, (day) => {
      if (day % 5 === 0 || day === days) process.stderr.write(`  aggregate-query: day ${day}/${days} written\n`);
    });
    process.stderr.write(`  aggregate-query: ${days} days written in ${((performance.now() - filled) / 1000).toFixed(0)} s\n`);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
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
    for (let i = 0; i < 200; i++) {
      const start = performance.now();
      query();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const p99 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]!;
    const raw: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const rows = rawScan.raw().all(from, to) as unknown[];
      raw.push(performance.now() - start);
      if (i === 0) sameAnswer(answer.series, rows as Array<[string | null, number, number]>);
    }
    const points = store.resultCount();
    return [
      figure({
        bench: 'aggregate-query/avg-hour-by-tag',
        subject: `p99 of 200 queries over the hour rollups' day rows (${days} d × ${DEVICES} devices × 1/min = ${(points / 1e6).toFixed(1)} M points, 10 groups)`,
        baseline: 'median of 3 raw scans computing the same answer',
        unit: 'ms',
        subjectValue: Number(p99.toFixed(2)),
        baselineValue: Number(median(raw).toFixed(1)),
        note: `lower is better; goal p99 < 100 ms at 30 days; p50 ${times[times.length >> 1]!.toFixed(1)} ms, fastest ${times[0]!.toFixed(1)} ms; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs while measured`,
      }),
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
