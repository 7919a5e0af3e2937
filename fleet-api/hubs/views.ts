/**
 * Hub records → REST representations, and whether a device is reachable: a device behind a hub
 * that is offline (or never reported), or behind one whose ancestor is, can only be reached once
 * that hub is back (`reachable: 'offline-hub'`); rollouts wait for it instead of failing it.
 */
import type { HubRecord, Store } from '../store/index.js';

/** Online while its last status says so: its will (state offline) covers a connection that ends uncleanly. */
export const hubOnline = (hub: Pick<HubRecord, 'status'>): boolean => hub.status?.state === 'online';

export function hubView(store: Pick<Store, 'hubDeviceCounts'>, hub: HubRecord) {
  const counts = store.hubDeviceCounts(hub.id);
  const status = hub.status;
  return {
    id: hub.id,
    parent: hub.parentId,
    urls: hub.urls,
    selector: hub.selector,
    createdAt: hub.createdAt,
    online: hubOnline(hub),
    /** online: the hub's uplink (to us or its parent) is up; offline: its will fired or it said so; unknown: never heard from. */
    uplink: status === null ? 'unknown' : status.state,
    lastStatusAt: hub.statusAt,
    siteRevision: { published: hub.siteRevision, running: status?.siteRevision ?? 0 },
    backlog: {
      batches: status?.backlog.batches ?? 0,
      bytes: status?.backlog.bytes ?? 0,
      oldestAt: status?.backlog.oldestAt ?? null,
      oldestAgeSeconds: status?.backlog.oldestAt ? Math.max(0, Math.round((Date.now() - Date.parse(status.backlog.oldestAt)) / 1000)) : null,
    },
    lost: status?.lost ?? {},
    devices: {
      /** Behind this hub or one of its descendants. */
      total: counts.total,
      /** Connected to this hub itself. */
      direct: counts.direct,
      /** Connected to this hub now, as it last said. */
      connected: status?.devicesConnected ?? 0,
      /** Online as the central view has it (their status relayed up). */
      online: counts.online,
    },
  };
}

export type HubView = ReturnType<typeof hubView>;

/**
 * Hubs that cannot relay now: offline themselves or below one that is. A device behind any of
 * them is unreachable (waiting), never failed.
 */
export function unreachableHubs(store: Pick<Store, 'listHubs'>): Set<string> {
  const hubs = new Map(store.listHubs().map((hub) => [hub.id, hub]));
  const down = new Set<string>();
  for (const hub of hubs.values()) {
    for (let at: HubRecord | undefined = hub, guard = 0; at && guard < 64; at = at.parentId ? hubs.get(at.parentId) : undefined, guard += 1) {
      if (!hubOnline(at)) {
        down.add(hub.id);
        break;
      }
    }
  }
  return down;
}
