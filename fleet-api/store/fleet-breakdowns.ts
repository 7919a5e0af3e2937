/**
 * Fleet page counts beside fleet-summary.ts: devices with a module the agent quarantined
 * [WF-P-T-3b], and the counts of every hub (issue 14's hubs, docs/federation.md) — online,
 * offline, out of sync, faulted and quarantined behind each. Both read indexes: the quarantined
 * count walks devices_by_quarantined, the hub counts only the devices that are behind a hub
 * (devices_by_hub), so a fleet without hubs pays nothing for them.
 */
import type { Db } from './core.js';
import type { FleetCounts } from './fleet-summary.js';

export interface HubCounts extends FleetCounts {
  hub: string;
  quarantined: number;
}

export interface FleetBreakdowns {
  quarantined: number;
  /** Every hub, its own devices only (not its child hubs'), by hub id. */
  byHub: HubCounts[];
}

interface HubRow {
  hub: string;
  total: number;
  online: number;
  out_of_sync: number;
  faulted: number;
  quarantined: number;
}

export function fleetBreakdownOps(db: Db) {
  const quarantined = db.prepare('SELECT count(*) FROM devices WHERE quarantined = 1').pluck();
  const byHub = db.prepare(
    `SELECT h.id AS hub, count(d.id) AS total, coalesce(sum(d.online), 0) AS online,
       coalesce(sum(d.reported_revision < d.desired_revision), 0) AS out_of_sync,
       coalesce(sum(d.faulted), 0) AS faulted, coalesce(sum(d.quarantined), 0) AS quarantined
     FROM hubs h LEFT JOIN devices d ON d.hub_id = h.id GROUP BY h.id ORDER BY h.id`,
  );
  return {
    fleetBreakdowns(): FleetBreakdowns {
      return db.transaction(() => ({
        quarantined: quarantined.get() as number,
        byHub: (byHub.all() as HubRow[]).map((row) => ({
          hub: row.hub,
          total: row.total,
          online: row.online,
          offline: row.total - row.online,
          outOfSync: row.out_of_sync,
          faulted: row.faulted,
          quarantined: row.quarantined,
        })),
      }))();
    },
  };
}
export type FleetBreakdownOps = ReturnType<typeof fleetBreakdownOps>;
