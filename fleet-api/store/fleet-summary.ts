/**
 * Fleet-wide counts for the console's Fleet page: online, offline, out of sync and faulted, in
 * total, by firmware profile and by tag pair. Computed by SQLite in two grouped scans, so the
 * answer stays small whatever the fleet's size. A device is faulted as `GET /devices?faulted=true`
 * has it: the `faulted` column setReported keeps (a module failed, quarantined included, or with
 * `faults > 0` in its last report).
 */
import type { Db } from './core.js';

export interface FleetCounts {
  total: number;
  online: number;
  offline: number;
  outOfSync: number;
  faulted: number;
}

export interface FleetSummary extends FleetCounts {
  byProfile: Array<FleetCounts & { profile: string }>;
  /** The most common tag pairs first, at most `maxTags` of them. */
  byTag: Array<FleetCounts & { key: string; value: string }>;
  /** How many distinct tag pairs exist (byTag may hold fewer). */
  tagPairs: number;
}

interface GroupRow {
  total: number;
  online: number;
  out_of_sync: number;
  faulted: number;
}

const FLAGS = `
  SELECT d.id, d.profile, d.online, d.tags,
    (d.reported_revision < d.desired_revision) AS out_of_sync,
    d.faulted AS faulted
  FROM devices d`;

const SUMS = 'count(*) AS total, sum(f.online) AS online, sum(f.out_of_sync) AS out_of_sync, sum(f.faulted) AS faulted';

const counts = (row: GroupRow): FleetCounts => ({
  total: row.total,
  online: row.online ?? 0,
  offline: row.total - (row.online ?? 0),
  outOfSync: row.out_of_sync ?? 0,
  faulted: row.faulted ?? 0,
});

export function fleetSummaryOps(db: Db) {
  const byProfile = db.prepare(`WITH f AS (${FLAGS}) SELECT f.profile, ${SUMS} FROM f GROUP BY f.profile ORDER BY total DESC, f.profile`);
  // Tags from each row's own JSON, not device_tags: one sequential scan instead of a primary-key
  // lookup per pair (about 1.5x faster at 100,000 devices).
  const byTag = db.prepare(
    `WITH f AS (${FLAGS}), p AS (SELECT f.*, t.key, t.value FROM f, json_each(f.tags) t)
     SELECT p.key, p.value, count(*) AS total, sum(p.online) AS online, sum(p.out_of_sync) AS out_of_sync, sum(p.faulted) AS faulted
     FROM p GROUP BY p.key, p.value ORDER BY total DESC, p.key, p.value LIMIT ?`,
  );
  const tagPairs = db.prepare('SELECT count(*) FROM (SELECT DISTINCT key, value FROM device_tags)').pluck();
  return {
    fleetSummary(maxTags = 100): FleetSummary {
      return db.transaction(() => {
        const profiles = (byProfile.all() as Array<GroupRow & { profile: string }>).map((row) => ({ profile: row.profile, ...counts(row) }));
        const total: FleetCounts = { total: 0, online: 0, offline: 0, outOfSync: 0, faulted: 0 };
        for (const row of profiles) {
          total.total += row.total;
          total.online += row.online;
          total.offline += row.offline;
          total.outOfSync += row.outOfSync;
          total.faulted += row.faulted;
        }
        const tags = (byTag.all(maxTags) as Array<GroupRow & { key: string; value: string }>).map((row) => ({ key: row.key, value: row.value, ...counts(row) }));
        return { ...total, byProfile: profiles, byTag: tags, tagPairs: tagPairs.get() as number };
      })();
    },
  };
}
export type FleetSummaryOps = ReturnType<typeof fleetSummaryOps>;
