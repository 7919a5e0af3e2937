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
        ROLLUP_TIERS.forEach((tier, i) => {
          const folds = new Map<number, Fold>();
          for (const [t, value] of metric.points) {
            const bucket = Math.floor(t / tier.ms) * tier.ms;
            const fold = folds.get(bucket);
            if (!fold) folds.set(bucket, { count: 1, sum: value, min: value, max: value, lastT: t, lastValue: value });
            else {
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
          }
          for (const [bucket, f] of folds) {
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
