/**
 * Per-minute and per-hour rollups of metric points (count, sum, min, max and the last point by
 * (t, seq, position in the batch)), upserted inside the ingest transaction so they always agree
 * with the raw points. A batch's points are folded in JavaScript first: one upsert per metric and
 * bucket, not per point.
 */
import type { ResultBatch } from '../../protocol/index.js';
import type { Db } from './core.js';
import { rollupDayOps } from './rollup-days.js';

export const ROLLUP_TIERS = [
  { name: 'minute', table: 'result_rollups_minute', ms: 60_000 },
  { name: 'hour', table: 'result_rollups_hour', ms: 3_600_000 },
] as const;
export type RollupTier = (typeof ROLLUP_TIERS)[number];

interface Fold {
  count: number;
  sum: number;
  min: number;
  max: number;
  lastT: number;
  lastValue: number;
}

export function rollupOps(db: Db) {
  const upserts = ROLLUP_TIERS.map((tier) =>
    db.prepare(
      `INSERT INTO ${tier.table} (module, metric, device_id, bucket, count, sum, min, max, last_t, last_seq, last_value)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (module, metric, device_id, bucket) DO UPDATE SET
         count = count + excluded.count, sum = sum + excluded.sum,
         min = min(min, excluded.min), max = max(max, excluded.max),
         last_value = CASE WHEN (excluded.last_t, excluded.last_seq) >= (last_t, last_seq) THEN excluded.last_value ELSE last_value END,
         last_seq = CASE WHEN (excluded.last_t, excluded.last_seq) >= (last_t, last_seq) THEN excluded.last_seq ELSE last_seq END,
         last_t = CASE WHEN (excluded.last_t, excluded.last_seq) >= (last_t, last_seq) THEN excluded.last_t ELSE last_t END`,
    ),
  );
  const trims = ROLLUP_TIERS.map((tier) => db.prepare(`DELETE FROM ${tier.table} WHERE bucket <= ?`));
  const days = rollupDayOps(db);

  return {
    /** Call inside the transaction that stores the batch's points. */
    addToRollups(batch: ResultBatch): void {
      for (const metric of batch.metrics) {
        if (metric.points.length === 0) continue;
        // Both tiers in one pass over the points, each folded in point order as before.
        const folds = ROLLUP_TIERS.map(() => new Map<number, Fold>());
        const last: Array<Fold | undefined> = ROLLUP_TIERS.map(() => undefined);
        const lastBucket = ROLLUP_TIERS.map(() => Number.NaN);
        const points = metric.points;
        for (let p = 0; p < points.length; p++) {
          const [t, value] = points[p]!;
          for (let i = 0; i < ROLLUP_TIERS.length; i++) {
            const ms = ROLLUP_TIERS[i]!.ms;
            const bucket = Math.floor(t / ms) * ms;
            // Points usually come in time order: most fall in the bucket of the point before.
            let fold = bucket === lastBucket[i] ? last[i] : folds[i]!.get(bucket);
            if (!fold) {
              folds[i]!.set(bucket, (fold = { count: 1, sum: value, min: value, max: value, lastT: t, lastValue: value }));
            } else {
              fold.count += 1;
              fold.sum += value;
              if (value < fold.min) fold.min = value;
              if (value > fold.max) fold.max = value;
              // Equal t: the later point in the batch wins, as in the raw order (t, seq, id).
              if (t >= fold.lastT) {
                fold.lastT = t;
                fold.lastValue = value;
              }
            }
            last[i] = fold;
            lastBucket[i] = bucket;
          }
        }
        ROLLUP_TIERS.forEach((tier, i) => {
          for (const [bucket, f] of folds[i]!) {
            upserts[i]!.run(batch.module, metric.name, batch.deviceId, bucket, f.count, f.sum, f.min, f.max, f.lastT, batch.seq, f.lastValue);
            if (tier.name === 'hour') days.addHourToDays(batch.module, metric.name, batch.deviceId, bucket, f.count, f.sum);
          }
        });
      }
    },
    /** Drops rollup buckets that end at or before `beforeMs` (a bucket straddling it stays whole). */
    trimRollupsBefore(beforeMs: number): number {
      let deleted = 0;
      ROLLUP_TIERS.forEach((tier, i) => {
        const lastDropped = Math.floor(beforeMs / tier.ms) * tier.ms - tier.ms;
        deleted += trims[i]!.run(lastDropped).changes;
        if (tier.name === 'hour') days.trimDaysThrough(lastDropped);
      });
      return deleted;
    },
  };
}
