/**
 * Fleet-wide aggregates of one metric (docs/api.md §Fleet-wide analytics): a device selection
 * resolved to (device, group) pairs, then one grouped query over the coarsest rollup tier whose
 * buckets divide the requested bucket, or over the raw points for sub-minute buckets. `avg`, `sum`
 * and `count` over hour buckets read the day rows of rollup-days.ts instead (24 hours a row) and
 * fold them here: SQLite would sort every hour row of every device to group them, which is most
 * of the time such a query takes over weeks of a large fleet.
 */
import type { Db } from './core.js';
import { ROLLUP_TIERS } from './rollups.js';
import { statementCache } from './statements.js';
import { DAY_MS, DAY_SUMS, ROLLUP_DAYS_TABLE } from './rollup-days.js';

export const AGGREGATE_FNS = ['avg', 'min', 'max', 'sum', 'count', 'last'] as const;
export type AggregateFn = (typeof AGGREGATE_FNS)[number];
export type GroupBy = { by: 'none' } | { by: 'device' } | { by: 'profile' } | { by: 'tag'; key: string };

export interface DeviceSelection {
  tags?: Record<string, string>;
  profile?: string;
  ids?: readonly string[];
}

export interface AggregateQuery {
  module: string;
  metric: string;
  /** Bucket-aligned epoch ms, from inclusive, to exclusive. */
  from: number;
  to: number;
  bucketMs: number;
  fn: AggregateFn;
}

export type AggregateSource = 'rollup-hour' | 'rollup-minute' | 'raw';

export interface AggregateSeries {
  group: string | null;
  points: Array<[number, number]>;
}

/** Which table answers a bucket: the coarsest rollup whose buckets tile it, else raw points. */
export function sourceFor(bucketMs: number): AggregateSource {
  for (const tier of [...ROLLUP_TIERS].reverse()) if (bucketMs % tier.ms === 0) return `rollup-${tier.name}`;
  return 'raw';
}

const ROLLUP_EXPR: Record<Exclude<AggregateFn, 'last'>, string> = {
  avg: 'sum(r.sum) / sum(r.count)',
  min: 'min(r.min)',
  max: 'max(r.max)',
  sum: 'sum(r.sum)',
  count: 'sum(r.count)',
};
const RAW_EXPR: Record<Exclude<AggregateFn, 'last'>, string> = {
  avg: 'avg(r.value)',
  min: 'min(r.value)',
  max: 'max(r.value)',
  sum: 'sum(r.value)',
  count: 'count(*)',
};

/** Above this many (group, bucket) cells the day-row fold would hold too much: the grouped query answers. */
const MAX_FOLD_CELLS = 1 << 22;
const HOUR_MS = 3_600_000;

/** Orders series by group, the null group last, as every answer is. */
const groupOrder = (x: AggregateSeries, y: AggregateSeries): number =>
  x.group === y.group ? 0 : x.group === null ? 1 : y.group === null ? -1 : x.group < y.group ? -1 : 1;

export function aggregateOps(db: Db) {
  const statements = statementCache(db, 32);

  /**
   * avg, sum or count over hour-multiple buckets from the day rows, summed per group and day by
   * SQLite (handing every device's day row to JavaScript costs more than the sums), folded into
   * buckets here; undefined when too many cells.
   */
  const foldDays = (query: AggregateQuery, devices: ReadonlyArray<[string, string | null]>): AggregateSeries[] | undefined => {
    const b = query.bucketMs;
    const base = Math.floor(query.from / b) * b;
    const cells = Math.max(0, Math.ceil((query.to - base) / b));
    const groups: Array<string | null> = [];
    const indexOf = new Map<string | null, number>();
    const pairs = devices.map(([id, group]) => {
      let gi = indexOf.get(group);
      if (gi === undefined) indexOf.set(group, (gi = groups.push(group) - 1));
      return [id, gi] as const;
    });
    if (groups.length * cells > MAX_FOLD_CELLS) return undefined;
    const counts = new Float64Array(groups.length * cells);
    const sums = new Float64Array(groups.length * cells);
    const rows = statements(
      `WITH sel(device_id, gi) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?))
       SELECT sel.gi, d.day, ${DAY_SUMS} FROM sel CROSS JOIN ${ROLLUP_DAYS_TABLE} d
       ON d.module = ? AND d.metric = ? AND d.device_id = sel.device_id AND d.day >= ? AND d.day < ? GROUP BY 1, 2`,
    )
      .raw()
      .all(JSON.stringify(pairs), query.module, query.metric, Math.floor(query.from / DAY_MS) * DAY_MS, query.to) as number[][];
    for (const row of rows) {
      const offset = row[0]! * cells;
      const day = row[1]!;
      for (let h = 0; h < 24; h++) {
        const n = row[2 + 2 * h]!;
        if (n === 0) continue;
        const t = day + h * HOUR_MS;
        if (t < query.from || t >= query.to) continue;
        const cell = offset + Math.floor((t - base) / b);
        counts[cell]! += n;
        sums[cell]! += row[3 + 2 * h]!;
      }
    }
    const series: AggregateSeries[] = [];
    groups.forEach((group, gi) => {
      const points: Array<[number, number]> = [];
      for (let c = gi * cells; c < (gi + 1) * cells; c++) {
        const n = counts[c]!;
        if (n === 0) continue;
        const t = base + (c - gi * cells) * b;
        points.push([t, query.fn === 'avg' ? sums[c]! / n : query.fn === 'sum' ? sums[c]! : n]);
      }
      if (points.length > 0) series.push({ group, points });
    });
    return series.sort(groupOrder);
  };

  const selectDevices = (selection: DeviceSelection, groupBy: GroupBy): Array<[string, string | null]> => {
    const args: unknown[] = [];
    let group = 'NULL';
    if (groupBy.by === 'device') group = 'd.id';
    else if (groupBy.by === 'profile') group = 'd.profile';
    else if (groupBy.by === 'tag') {
      group = '(SELECT g.value FROM device_tags g WHERE g.device_id = d.id AND g.key = ?)';
      args.push(groupBy.key);
    }
    const where: string[] = [];
    if (selection.profile !== undefined) {
      where.push('d.profile = ?');
      args.push(selection.profile);
    }
    if (selection.ids !== undefined) {
      where.push('d.id IN (SELECT value FROM json_each(?))');
      args.push(JSON.stringify(selection.ids));
    }
    for (const [key, value] of Object.entries(selection.tags ?? {})) {
      where.push('EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.key = ? AND t.value = ?)');
      args.push(key, value);
    }
    const sql = `SELECT d.id, ${group} FROM devices d ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`;
    return statements(sql).raw().all(...args) as Array<[string, string | null]>;
  };

  return {
    /** The devices a selection matches, each with its group (null: none, or the tag is absent). */
    selectDevices,
    aggregateResults(query: AggregateQuery, devices: ReadonlyArray<[string, string | null]>): { source: AggregateSource; series: AggregateSeries[] } {
      const source = sourceFor(query.bucketMs);
      if (devices.length === 0) return { source, series: [] };
      if (source === 'rollup-hour' && (query.fn === 'avg' || query.fn === 'sum' || query.fn === 'count')) {
        const series = foldDays(query, devices);
        if (series) return { source, series };
      }
      const raw = source === 'raw';
      const table = raw ? 'results' : `result_rollups_${source.slice('rollup-'.length)}`;
      const b = query.bucketMs;
      // CROSS JOIN keeps the selection as the outer loop: one index range per device.
      const from = `FROM sel CROSS JOIN ${table} r ON r.device_id = sel.device_id AND r.module = ? AND r.metric = ?
        ${raw ? "AND r.kind = 'metric' AND r.t >= ? AND r.t < ?" : 'AND r.bucket >= ? AND r.bucket < ?'}`;
      const bucketExpr = raw ? `CAST(r.t / ${b} AS INTEGER) * ${b}` : `(r.bucket / ${b}) * ${b}`;
      const sel = 'WITH sel(device_id, grp) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?))';
      let sql: string;
      if (query.fn === 'last') {
        const [t, seq, value] = raw ? ['r.t', 'r.seq', 'r.value'] : ['r.last_t', 'r.last_seq', 'r.last_value'];
        const order = raw ? `${t} DESC, r.device_id DESC, ${seq} DESC, r.id DESC` : `${t} DESC, r.device_id DESC, ${seq} DESC`;
        sql = `${sel} SELECT grp, b, v FROM (
            SELECT sel.grp AS grp, ${bucketExpr} AS b, ${value} AS v, ROW_NUMBER() OVER (PARTITION BY sel.grp, ${bucketExpr} ORDER BY ${order}) AS rn
            ${from})
          WHERE rn = 1`;
      } else {
        sql = `${sel} SELECT sel.grp AS grp, ${bucketExpr} AS b, ${(raw ? RAW_EXPR : ROLLUP_EXPR)[query.fn]} AS v ${from} GROUP BY 1, 2`;
      }
      const rows = statements(sql).raw().all(JSON.stringify(devices), query.module, query.metric, query.from, query.to) as Array<[string | null, number, number]>;
      const byGroup = new Map<string | null, Array<[number, number]>>();
      for (const [group, t, value] of rows) {
        let points = byGroup.get(group);
        if (!points) byGroup.set(group, (points = []));
        points.push([t, value]);
      }
      const series = [...byGroup].map(([group, points]) => ({ group, points: points.sort((x, y) => x[0] - y[0]) }));
      series.sort(groupOrder);
      return { source, series };
    },
  };
}

export type AggregateOps = ReturnType<typeof aggregateOps>;
