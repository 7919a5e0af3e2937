/**
 * GET /api/v1/results/aggregate against the same computation done in JavaScript over the raw
 * points as stored, on random data: every function, bucket sizes served by each source (raw,
 * minute and hour rollups), unaligned ranges, points on bucket boundaries, equal timestamps,
 * duplicate batches, and every kind of grouping and selection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResultBatch } from '../../protocol/index.js';
import { startApi } from './helpers/harness.js';
import { provision } from './helpers/fleet.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 5, 22, 0, 0);

/** Small deterministic PRNG, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

interface Raw {
  device: string;
  seq: number;
  id: number;
  t: number;
  value: number;
}

function reference(points: Raw[], groupOf: Map<string, string | null>, from: number, to: number, b: number, fn: string) {
  const groups = new Map<string | null, Map<number, Raw[]>>();
  for (const p of points) {
    if (!groupOf.has(p.device)) continue;
    const start = Math.floor(p.t / b) * b;
    if (start < from || start >= to) continue;
    const group = groupOf.get(p.device)!;
    let buckets = groups.get(group);
    if (!buckets) groups.set(group, (buckets = new Map()));
    const list = buckets.get(start) ?? [];
    list.push(p);
    buckets.set(start, list);
  }
  const value = (list: Raw[]): number => {
    const values = list.map((p) => p.value);
    switch (fn) {
      case 'avg': return values.reduce((a, v) => a + v, 0) / values.length;
      case 'sum': return values.reduce((a, v) => a + v, 0);
      case 'min': return Math.min(...values);
      case 'max': return Math.max(...values);
      case 'count': return values.length;
      default: {
        const last = [...list].sort((x, y) => x.t - y.t || (x.device < y.device ? -1 : x.device > y.device ? 1 : 0) || x.seq - y.seq || x.id - y.id).pop()!;
        return last.value;
      }
    }
  };
  return [...groups]
    .sort(([a], [b2]) => (a === b2 ? 0 : a === null ? 1 : b2 === null ? -1 : a < b2 ? -1 : 1))
    .map(([group, buckets]) => ({ group, points: [...buckets].sort(([x], [y]) => x - y).map(([t, list]) => [t, value(list)]) }));
}

test('aggregates equal the same computation over the raw points, for every function, source, grouping and selection', async (t) => {
  const h = await startApi(t);
  const random = rng(15);
  const devices: Array<{ id: string; tags: Record<string, string>; profile: string }> = [
    { id: 'gw-a', tags: { site: 'north', line: '1' }, profile: 'sim-x86-64' },
    { id: 'gw-b', tags: { site: 'north', line: '2' }, profile: 'rpi4-arm64' },
    { id: 'gw-c', tags: { site: 'north' }, profile: 'sim-x86-64' },
    { id: 'gw-d', tags: { site: 'south', line: '1' }, profile: 'rpi4-arm64' },
    { id: 'gw-e', tags: { site: 'south', line: '2' }, profile: 'sim-x86-64' },
  ];
  for (const d of devices) await provision(h, d.id, d.tags, d.profile);

  // 3 h of random points: integer and fractional times, some exactly on minute and hour
  // boundaries, some repeated within and across batches; a second module with the same metric.
  const batches: ResultBatch[] = [];
  for (const d of devices) {
    for (let seq = 1; seq <= 40; seq++) {
      const points: Array<[number, number]> = [];
      const n = 1 + Math.floor(random() * 12);
      for (let i = 0; i < n; i++) {
        const r = random();
        const tt = r < 0.15 ? T0 + Math.floor(random() * 180) * 60_000 : r < 0.2 ? T0 + Math.floor(random() * 3) * HOUR : r < 0.3 && points.length > 0 ? points[points.length - 1]![0] : T0 + random() * 3 * HOUR;
        points.push([tt, Math.round((random() * 200 - 100) * 1000) / 1000]);
      }
      batches.push({
        v: 1, deviceId: d.id, seq, module: 'ema', version: seq < 20 ? '1.0.0' : '1.1.0', deploymentId: 'dep-x',
        input: { source: 's', firstSeq: 0, count: n, from: 0, to: 0 },
        metrics: [{ name: 'ema', points }, { name: 'other', points: [[T0, 1e6]] }],
        events: [{ name: 'ema', t: T0 + 1, value: 1e9 }],
        dropped: 0,
      });
      batches.push({ ...batches[batches.length - 1]!, seq: seq + 1000, module: 'peak', metrics: [{ name: 'ema', points: [[T0 + 5, 5e5]] }], events: [] });
    }
  }
  // Ingested in several transactions and in a shuffled order, one batch twice.
  const shuffled = batches.map((b) => [random(), b] as const).sort((x, y) => x[0] - y[0]).map(([, b]) => b);
  for (let i = 0; i < shuffled.length; i += 37) h.api.store.ingestResultBatches(shuffled.slice(i, i + 37));
  h.api.store.ingestResultBatches([shuffled[3]!]);

  const raw = h.api.store.db
    .prepare("SELECT device_id AS device, seq, id, t, value FROM results WHERE module = 'ema' AND metric = 'ema' AND kind = 'metric'")
    .all() as Raw[];
  assert.ok(raw.length > 500, `${raw.length} raw points`);

  const profileOf = new Map(devices.map((d) => [d.id, d.profile]));
  const lineOf = new Map(devices.map((d) => [d.id, d.tags.line ?? null]));
  const selections: Array<{ query: string; ids: string[] }> = [
    { query: '', ids: devices.map((d) => d.id) },
    { query: '&tag=site=north', ids: ['gw-a', 'gw-b', 'gw-c'] },
    { query: '&tag=site=south&tag=line=2', ids: ['gw-e'] },
    { query: '&profile=rpi4-arm64', ids: ['gw-b', 'gw-d'] },
    { query: '&device=gw-a&device=gw-c&device=gw-e', ids: ['gw-a', 'gw-c', 'gw-e'] },
  ];
  const groupings: Array<{ param: string | undefined; of: (id: string) => string | null }> = [
    { param: undefined, of: () => null },
    { param: 'device', of: (id) => id },
    { param: 'profile', of: (id) => profileOf.get(id)! },
    { param: 'tag:line', of: (id) => lineOf.get(id)! },
  ];
  const buckets: Array<[string, number, string]> = [['10s', 10_000, 'raw'], ['1m', 60_000, 'rollup-minute'], ['5m', 300_000, 'rollup-minute'], ['1h', HOUR, 'rollup-hour'], ['1d', 24 * HOUR, 'rollup-hour']];
  let compared = 0;
  for (const [bucket, b, source] of buckets) {
    for (const fn of ['avg', 'min', 'max', 'sum', 'count', 'last']) {
      for (let k = 0; k < 3; k++) {
        const selection = selections[Math.floor(random() * selections.length)]!;
        const grouping = groupings[Math.floor(random() * groupings.length)]!;
        // Unaligned ends, sometimes cutting the data, sometimes covering it all.
        const from = Math.floor(T0 - HOUR / 2 + random() * 2 * HOUR);
        const to = Math.floor(from + (bucket === '10s' ? 1 : 0.5 + random() * 3) * HOUR);
        const path = `/api/v1/results/aggregate?module=ema&metric=ema&from=${from}&to=${to}&bucket=${bucket}&fn=${fn}${grouping.param ? `&groupBy=${grouping.param}` : ''}${selection.query}`;
        const res = await h.call('GET', path);
        assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.source, source, path);
        assert.equal(res.body.devices, selection.ids.length, path);
        const alignedFrom = Math.floor(from / b) * b;
        const alignedTo = Math.ceil(to / b) * b;
        assert.deepEqual([res.body.from, res.body.to], [alignedFrom, alignedTo]);
        const groupOf = new Map(selection.ids.map((id) => [id, grouping.of(id)]));
        const expected = reference(raw, groupOf, alignedFrom, alignedTo, b, fn);
        assert.deepEqual(res.body.series.map((s: { group: string | null }) => s.group), expected.map((s) => s.group), path);
        res.body.series.forEach((series: { points: Array<[number, number]> }, i: number) => {
          const want = expected[i]!.points;
          assert.deepEqual(series.points.map(([tt]) => tt), want.map(([tt]) => tt), `${path} bucket starts`);
          series.points.forEach(([, v], j) => {
            const w = want[j]![1]!;
            assert.ok(Math.abs(v - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${path} @${want[j]![0]}: ${v} != ${w}`);
          });
        });
        compared += 1;
      }
    }
  }
  assert.equal(compared, buckets.length * 6 * 3);
});

test('aggregate queries that cannot be answered well are refused naming the field', async (t) => {
  const h = await startApi(t);
  const q = (extra: string) => h.call('GET', `/api/v1/results/aggregate?module=ema&metric=ema${extra}`);
  const cases: Array<[string, string]> = [
    ['&from=1000&to=1000', 'querystring/from'],
    [`&from=0&to=${7 * HOUR}&bucket=1s`, 'querystring/from'],
    [`&from=0&to=${30 * 24 * HOUR}&bucket=1m`, 'querystring/from'],
    ['&from=0&to=10&bucket=7m', 'querystring/bucket'],
    ['&from=0&to=10&fn=p99', 'querystring/fn'],
    ['&from=0&to=10&groupBy=color', 'querystring/groupBy'],
    ['&to=10', 'querystring/from'],
  ];
  for (const [extra, field] of cases) {
    const res = await q(extra);
    assert.equal(res.status, 400, extra);
    assert.equal(res.body.error.field, field, `${extra}: ${res.body.error.message}`);
  }
  const empty = await q(`&from=0&to=${HOUR}&tag=site=nowhere`);
  assert.equal(empty.status, 200);
  assert.deepEqual([empty.body.devices, empty.body.series], [0, []]);
});

test('rollups are trimmed with the points by results retention, whole buckets only', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-a');
  const batch = (seq: number, tt: number): ResultBatch => ({
    v: 1, deviceId: 'gw-a', seq, module: 'ema', version: '1.0.0', deploymentId: 'd', input: { source: 's', firstSeq: 0, count: 1, from: 0, to: 0 },
    metrics: [{ name: 'ema', points: [[tt, seq]] }], events: [], dropped: 0,
  });
  h.api.store.ingestResultBatches([batch(1, T0), batch(2, T0 + 90_000), batch(3, T0 + 2 * HOUR)]);
  const removed = h.api.store.deleteResultsBefore(T0 + 90_000);
  assert.equal(removed.rows, 1);
  const count = (table: string) => h.api.store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
  // The minute [T0, T0+1m) ended before the cut; [T0+1m, T0+2m) straddles it and stays; hours stay whole.
  assert.deepEqual([count('result_rollups_minute'), count('result_rollups_hour')], [2, 2]);

  // The hour rollups' day rows (rollup-days.ts) hold exactly the hour rows, through every trim:
  // none, one inside a day (T0 is 22:00), and one that ends a day.
  const hourRows = () => h.api.store.db.prepare('SELECT bucket, count, sum FROM result_rollups_hour ORDER BY bucket').raw().all();
  const dayRows = () => {
    const rows = h.api.store.db.prepare('SELECT * FROM result_rollups_hour_days ORDER BY day').all() as Array<Record<string, number>>;
    return rows.flatMap((row) => Array.from({ length: 24 }, (_, k) => [row.day! + k * HOUR, row[`n${k}`]!, row[`s${k}`]!]).filter(([, n]) => n !== 0));
  };
  assert.deepEqual(dayRows(), hourRows());
  h.api.store.ingestResultBatches([batch(4, T0 - 3 * HOUR), batch(5, T0 - 2 * HOUR + 5), batch(6, T0 + 3 * HOUR), batch(7, T0 + 25 * HOUR)]);
  assert.deepEqual(dayRows(), hourRows());
  h.api.store.deleteResultsBefore(T0 - HOUR);
  assert.equal(hourRows().length, 4, '19:00 and 20:00 gone');
  assert.deepEqual(dayRows(), hourRows(), 'cut inside a day');
  h.api.store.deleteResultsBefore(T0 + 2 * HOUR + 1);
  assert.deepEqual(dayRows(), hourRows(), 'cut at the end of a day');
  assert.equal(count('result_rollups_hour_days'), 1, 'the first day gone whole');
});
