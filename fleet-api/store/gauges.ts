/** Fleet-wide counts read at each metrics scrape (docs/metrics.md §Fleet): a few aggregate queries, nothing per device. */
import type { Db } from './core.js';

export interface FleetGauges {
  online: number;
  offline: number;
  inSync: number;
  faulted: number;
  /** Deployments per status. */
  rollouts: Record<string, number>;
}

export function gaugeOps(db: Db) {
  const devices = db.prepare(
    `SELECT count(*) AS total, coalesce(sum(online), 0) AS online, coalesce(sum(reported_revision >= desired_revision), 0) AS inSync,
       coalesce(sum(reported IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(reported, '$.modules') WHERE value ->> 'state' = 'failed')), 0) AS faulted
     FROM devices`,
  );
  const rollouts = db.prepare('SELECT status, count(*) AS n FROM deployments GROUP BY status');
  return {
    fleetGauges(): FleetGauges {
      const d = devices.get() as { total: number; online: number; inSync: number; faulted: number };
      const byStatus: Record<string, number> = {};
      for (const row of rollouts.all() as Array<{ status: string; n: number }>) byStatus[row.status] = row.n;
      return { online: d.online, offline: d.total - d.online, inSync: d.inSync, faulted: d.faulted, rollouts: byStatus };
    },
  };
}

export type GaugeOps = ReturnType<typeof gaugeOps>;
