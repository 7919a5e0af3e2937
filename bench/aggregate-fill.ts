/**
 * Writes a large result history straight into a store's SQLite file, row for row what the ingest
 * transaction (fleet-api/store/results.ts + rollups.ts) leaves for the same batches: one
 * result_batches row per batch, its points in `results`, and the minute and hour rollups. Going
 * through ingest costs about 40 s per day of 500 devices at 1 point/min; this costs a few seconds,
 * which is what makes the 30-day aggregate bench practical. `checkFillMatchesIngest` proves the
 * equivalence on a small sample each run, so the fast path cannot drift from the real one. Day
 * rows (result_rollups_hour_days) come from the hour rows by the migration's own backfill.
 */
import type { Database } from 'better-sqlite3';
import type { ResultBatch } from '../protocol/index.js';
import type { Store } from '../fleet-api/store/index.js';
import { ROLLUP_DAYS_BACKFILL } from '../fleet-api/store/rollup-days.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface FillPlan {
  devices: number;
  hours: number;
  /** Hour-aligned epoch ms of the first point. */
  t0: number;
  /** The value of device d's point m of hour h (1 point per minute). */
  value: (d: number, h: number, m: number) => number;
}

export const deviceIdOf = (d: number): string => `gw-${d}`;
const MODULE = 'ema';
const METRIC = 'ema';
const VERSION = '1.0.0';
const DEPLOYMENT = 'd';

/** The batch device d sends for hour h (seq h + 1): what the slow path ingests. */
export function batchOf(plan: FillPlan, d: number, h: number): ResultBatch {
  const points: Array<[number, number]> = [];
  for (let m = 0; m < 60; m++) points.push([plan.t0 + h * HOUR + m * MINUTE, plan.value(d, h, m)]);
  return {
    v: 1,
    deviceId: deviceIdOf(d),
    seq: h + 1,
    module: MODULE,
    version: VERSION,
    deploymentId: DEPLOYMENT,
    input: { source: 's', firstSeq: 0, count: 60, from: 0, to: 0 },
    metrics: [{ name: METRIC, points }],
    events: [],
    dropped: 0,
  };
}

const rowsOf = (n: number, columns: number): string => Array.from({ length: n }, () => `(${Array(columns).fill('?').join(', ')})`).join(', ');

/** The indexes (not primary keys) on the tables the fill writes: dropped for the fill, rebuilt after. */
const indexesOf = (db: Database): Array<{ name: string; sql: string }> =>
  db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('results', 'result_rollups_minute', 'result_rollups_hour', 'result_rollups_hour_days', 'result_batches')")
    .all() as Array<{ name: string; sql: string }>;

/**
 * Fills the results of `plan` (devices must exist, no results yet). Points, batches and hour
 * rollups go in ingest's order (hour by hour, device by device), so row ids come out as ingest
 * numbers them and the raw points lie on disk as ingest leaves them; minute rollups, keyed by
 * device first, go in key order. Secondary indexes are dropped first and rebuilt at the end (one
 * sort each instead of 21 M scattered inserts), with their own definitions from sqlite_master.
 * `onDay` reports progress.
 */
export function fillResults(db: Database, plan: FillPlan, receivedAt: number, onDay?: (day: number) => void): void {
  const indexes = indexesOf(db);
  const journal = db.pragma('journal_mode', { simple: true }) as string;
  const synchronous = db.pragma('synchronous', { simple: true }) as number;
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
  try {
    fillTimeOrdered(db, plan, receivedAt, onDay);
    fillMinuteRollups(db, plan);
    // One batch per device and hour: each day row's hour is that hour row, as ingest adds it.
    db.exec(ROLLUP_DAYS_BACKFILL);
  } finally {
    for (const index of indexes) db.exec(index.sql);
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`journal_mode = ${journal}`);
  }
}

function fillTimeOrdered(db: Database, plan: FillPlan, receivedAt: number, onDay?: (day: number) => void): void {
  const batchRow = db.prepare('INSERT INTO result_batches (device_id, seq, module, version, deployment_id, dropped, received_at) VALUES (?, ?, ?, ?, ?, 0, ?)');
  const points = db.prepare(`INSERT INTO results (device_id, seq, kind, module, version, deployment_id, metric, t, value) VALUES ${rowsOf(60, 9)}`);
  const hours = db.prepare(
    `INSERT INTO result_rollups_hour (module, metric, device_id, bucket, count, sum, min, max, last_t, last_seq, last_value) VALUES ${rowsOf(plan.devices, 11)}`,
  );
  const pointArgs: unknown[] = new Array(60 * 9);
  const hourArgs: unknown[] = new Array(plan.devices * 11);
  const fillHour = (h: number) => {
    const seq = h + 1;
    const hourStart = plan.t0 + h * HOUR;
    for (let d = 0; d < plan.devices; d++) {
      const id = deviceIdOf(d);
      batchRow.run(id, seq, MODULE, VERSION, DEPLOYMENT, receivedAt);
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      let value = 0;
      for (let m = 0; m < 60; m++) {
        value = plan.value(d, h, m);
        sum += value;
        if (value < min) min = value;
        if (value > max) max = value;
        const p = m * 9;
        pointArgs[p] = id;
        pointArgs[p + 1] = seq;
        pointArgs[p + 2] = 'metric';
        pointArgs[p + 3] = MODULE;
        pointArgs[p + 4] = VERSION;
        pointArgs[p + 5] = DEPLOYMENT;
        pointArgs[p + 6] = METRIC;
        pointArgs[p + 7] = hourStart + m * MINUTE;
        pointArgs[p + 8] = value;
      }
      points.run(pointArgs);
      const r = d * 11;
      hourArgs[r] = MODULE;
      hourArgs[r + 1] = METRIC;
      hourArgs[r + 2] = id;
      hourArgs[r + 3] = hourStart;
      hourArgs[r + 4] = 60;
      hourArgs[r + 5] = sum;
      hourArgs[r + 6] = min;
      hourArgs[r + 7] = max;
      hourArgs[r + 8] = hourStart + 59 * MINUTE;
      hourArgs[r + 9] = seq;
      hourArgs[r + 10] = value;
    }
    hours.run(hourArgs);
  };
  const fillDay = db.transaction((day: number) => {
    for (let h = day * 24; h < Math.min(plan.hours, (day + 1) * 24); h++) fillHour(h);
  });
  for (let day = 0; day * 24 < plan.hours; day++) {
    fillDay(day);
    onDay?.(day + 1);
  }
}

/** A point per minute makes each minute rollup that one point, last point included. */
function fillMinuteRollups(db: Database, plan: FillPlan): void {
  const minutes = db.prepare(
    `INSERT INTO result_rollups_minute (module, metric, device_id, bucket, count, sum, min, max, last_t, last_seq, last_value) VALUES ${rowsOf(60, 11)}`,
  );
  const args: unknown[] = new Array(60 * 11);
  // Key order is by device id as text (gw-0, gw-1, gw-10, …), so sort the ids that way.
  const devices = Array.from({ length: plan.devices }, (_, d) => d).sort((a, b) => (deviceIdOf(a) < deviceIdOf(b) ? -1 : 1));
  const fillDevice = db.transaction((d: number) => {
    const id = deviceIdOf(d);
    for (let h = 0; h < plan.hours; h++) {
      const hourStart = plan.t0 + h * HOUR;
      for (let m = 0; m < 60; m++) {
        const t = hourStart + m * MINUTE;
        const value = plan.value(d, h, m);
        const r = m * 11;
        args[r] = MODULE;
        args[r + 1] = METRIC;
        args[r + 2] = id;
        args[r + 3] = t;
        args[r + 4] = 1;
        args[r + 5] = value;
        args[r + 6] = value;
        args[r + 7] = value;
        args[r + 8] = t;
        args[r + 9] = h + 1;
        args[r + 10] = value;
      }
      minutes.run(args);
    }
  });
  for (const d of devices) fillDevice(d);
}

const TABLES = [
  'SELECT id, device_id, seq, kind, module, version, deployment_id, metric, t, value FROM results ORDER BY id',
  'SELECT device_id, seq, module, version, deployment_id, dropped, received_at FROM result_batches ORDER BY device_id, seq',
  'SELECT * FROM result_rollups_minute ORDER BY module, metric, device_id, bucket',
  'SELECT * FROM result_rollups_hour ORDER BY module, metric, device_id, bucket',
  'SELECT * FROM result_rollups_hour_days ORDER BY module, metric, device_id, day',
];

/**
 * Ingests a small plan through `viaIngest`'s real ingest path, fills it into `viaFill`, and throws
 * unless every table holds the same rows (sums compared to 1e-9: the fill adds in the same order,
 * but a difference in the last bit must not fail the bench).
 */
export function checkFillMatchesIngest(viaIngest: Store, viaFill: Store, plan: FillPlan): void {
  const receivedAt = Date.UTC(2026, 0, 1);
  for (let h = 0; h < plan.hours; h++) {
    const batches: ResultBatch[] = [];
    for (let d = 0; d < plan.devices; d++) batches.push(batchOf(plan, d, h));
    viaIngest.ingestResultBatches(batches, receivedAt);
  }
  fillResults(viaFill.db, plan, receivedAt);
  for (const sql of TABLES) {
    const a = viaIngest.db.prepare(sql).raw().all() as unknown[][];
    const b = viaFill.db.prepare(sql).raw().all() as unknown[][];
    const same = a.length === b.length && a.every((row, i) => row.every((x, j) => (typeof x === 'number' ? Math.abs(x - (b[i]![j] as number)) <= 1e-9 * Math.max(1, Math.abs(x)) : x === b[i]![j])));
    if (!same) throw new Error(`bench fill differs from ingest in: ${sql} (${a.length} vs ${b.length} rows)`);
  }
}
