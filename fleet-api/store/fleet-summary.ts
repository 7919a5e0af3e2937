/**
 * Fleet-wide counts for the console's Fleet page: online, offline, out of sync and faulted, in
 * total, by firmware profile and by tag pair. Read from the count tables SQLite's triggers keep
 * (migrations.ts, fleet_counts_*), so the answer costs a few small rows whatever the fleet's size,
 * instead of a scan of the inventory on every poll. A device is faulted as `GET /devices?faulted=true`
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

const counts = (row: GroupRow): FleetCounts => ({
  total: row.total,
  online: row.online ?? 0,
  offline: row.total - (row.online ?? 0),
  outOfSync: row.out_of_sync ?? 0,
  faulted: row.faulted ?? 0,
});

export function fleetSummaryOps(db: Db) {
  const byProfile = db.prepare('SELECT profile, total, online, out_of_sync, faulted FROM fleet_counts_profile WHERE total > 0 ORDER BY total DESC, profile');
  // `? + 0`, not a bare `?`: SQLite would re-prepare the statement on every run (statements.ts).
  const byTag = db.prepare('SELECT key, value, total, online, out_of_sync, faulted FROM fleet_counts_tag WHERE total > 0 ORDER BY total DESC, key, value LIMIT ? + 0');
  const tagPairs = db.prepare('SELECT count(*) FROM fleet_counts_tag WHERE total > 0').pluck();
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
