/**
 * Site hubs (docs/federation.md): inventory, credentials, membership and last status. A device is
 * behind at most one hub (`devices.hub_id`, its nearest); a hub may have a parent. A hub's subtree
 * is the devices behind it or behind a descendant hub, and those descendant hubs.
 */
import type { HubStatus } from '../../protocol/hubs.js';
import { nowIso, type Db } from './core.js';
import { credentialStateOf, type CredentialRow, type DeviceCredentialState } from './credentials.js';

export interface HubRecord {
  id: string;
  parentId: string | null;
  /** What devices behind this hub (and child hubs) connect to. */
  urls: string[];
  /** Devices with all these tags are put behind the hub when added. */
  selector: Record<string, string>;
  createdAt: string;
  siteRevision: number;
  status: HubStatus | null;
  statusAt: string | null;
}

export interface HubSubtreeRecord {
  /** Every device of the subtree with the hub it connects to. */
  devices: Array<{ id: string; hubId: string }>;
  /** Every hub of the subtree except the root, with its parent. */
  hubs: Array<{ id: string; parentId: string }>;
}

interface HubRow {
  id: string;
  parent_id: string | null;
  urls: string;
  selector: string;
  created_at: string;
  site_revision: number;
  status: string | null;
  status_at: string | null;
}

const COLUMNS = 'id, parent_id, urls, selector, created_at, site_revision, status, status_at';
const toRecord = (row: HubRow): HubRecord => ({
  id: row.id,
  parentId: row.parent_id,
  urls: JSON.parse(row.urls) as string[],
  selector: JSON.parse(row.selector) as Record<string, string>,
  createdAt: row.created_at,
  siteRevision: row.site_revision,
  status: row.status === null ? null : (JSON.parse(row.status) as HubStatus),
  statusAt: row.status_at,
});

/** H and its descendant hubs (a recursive walk down parent_id). */
const SUBTREE_HUBS = 'WITH RECURSIVE sub(id) AS (SELECT id FROM hubs WHERE id = ? UNION SELECT h.id FROM hubs h JOIN sub ON h.parent_id = sub.id)';

export const SELECT_HUB_CREDENTIALS =
  'SELECT credential_hash, previous_credential_hash, previous_credential_expires_at, credential_rotated_at FROM hubs WHERE id = ?';
export const SELECT_HUB_SUBTREE_DEVICES = `${SUBTREE_HUBS} SELECT d.id AS id, d.hub_id AS hubId FROM devices d WHERE d.hub_id IN (SELECT id FROM sub) ORDER BY d.id`;
export const SELECT_HUB_SUBTREE_HUBS = `${SUBTREE_HUBS} SELECT h.id AS id, h.parent_id AS parentId FROM hubs h WHERE h.id IN (SELECT id FROM sub) AND h.id != ? ORDER BY h.id`;

/** Does every pair of `selector` appear in `tags`? An empty selector matches nothing. */
export const selectorMatches = (selector: Record<string, string>, tags: Record<string, string>): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => tags[key] === value);

export function hubOps(db: Db) {
  const insert = db.prepare(
    'INSERT INTO hubs (id, parent_id, urls, selector, credential_hash, created_at) VALUES (@id, @parentId, @urls, @selector, @hash, @at)',
  );
  const get = db.prepare(`SELECT ${COLUMNS} FROM hubs WHERE id = ?`);
  const all = db.prepare(`SELECT ${COLUMNS} FROM hubs ORDER BY id`);
  const children = db.prepare('SELECT count(*) FROM hubs WHERE parent_id = ?').pluck();
  const remove = db.prepare('DELETE FROM hubs WHERE id = ?');
  const direct = db.prepare('SELECT id FROM devices WHERE hub_id = ? ORDER BY id').pluck();
  const setHub = db.prepare('UPDATE devices SET hub_id = ? WHERE id = ?');
  const deviceHub = db.prepare('SELECT hub_id FROM devices WHERE id = ?').pluck();
  const parentOf = db.prepare('SELECT parent_id FROM hubs WHERE id = ?').pluck();
  const credentials = db.prepare(SELECT_HUB_CREDENTIALS);
  const subtreeDevices = db.prepare(SELECT_HUB_SUBTREE_DEVICES);
  const subtreeHubs = db.prepare(SELECT_HUB_SUBTREE_HUBS);
  const rotate = db.prepare(
    `UPDATE hubs SET previous_credential_hash = @previous, previous_credential_expires_at = @expires,
       credential_hash = @hash, credential_rotated_at = @at WHERE id = @id`,
  );
  const retire = db.prepare(
    'UPDATE hubs SET previous_credential_hash = NULL, previous_credential_expires_at = NULL WHERE id = ? AND previous_credential_hash IS NOT NULL',
  );
  const bump = db.prepare('UPDATE hubs SET site_revision = max(site_revision + 1, ?) WHERE id = ? RETURNING site_revision').pluck();
  const status = db.prepare('UPDATE hubs SET status = ?, status_at = ? WHERE id = ?');
  const counts = db.prepare(
    `${SUBTREE_HUBS} SELECT count(*) AS total, coalesce(sum(online), 0) AS online, coalesce(sum(hub_id = ?), 0) AS direct FROM devices WHERE hub_id IN (SELECT id FROM sub)`,
  );
  const withTags = db.prepare('SELECT id, tags, hub_id FROM devices');

  /** H, its parent, … up to the root. */
  const ancestry = (hubId: string): string[] => {
    const chain: string[] = [];
    let at: string | null | undefined = hubId;
    while (at && !chain.includes(at)) {
      chain.push(at);
      at = parentOf.get(at) as string | null | undefined;
    }
    return chain;
  };

  return {
    /**
     * Adds a hub and puts behind it the `deviceIds` given and the devices its selector matches
     * that are behind no hub or behind one of its ancestors (it is nearer to them). Returns the
     * devices moved, with the hub each was behind before (null: none).
     */
    insertHub(input: { id: string; parentId: string | null; urls: string[]; selector: Record<string, string>; credentialHash: string; deviceIds: readonly string[] }): {
      hub: HubRecord;
      moved: Array<{ deviceId: string; from: string | null }>;
    } {
      return db.transaction(() => {
        insert.run({ id: input.id, parentId: input.parentId, urls: JSON.stringify(input.urls), selector: JSON.stringify(input.selector), hash: input.credentialHash, at: nowIso() });
        const ancestors = new Set(ancestry(input.id).slice(1));
        const moved: Array<{ deviceId: string; from: string | null }> = [];
        const explicit = new Set(input.deviceIds);
        for (const row of withTags.all() as Array<{ id: string; tags: string; hub_id: string | null }>) {
          const matched = explicit.has(row.id) || (selectorMatches(input.selector, JSON.parse(row.tags) as Record<string, string>) && (row.hub_id === null || ancestors.has(row.hub_id)));
          if (!matched) continue;
          setHub.run(input.id, row.id);
          moved.push({ deviceId: row.id, from: row.hub_id });
        }
        return { hub: toRecord(get.get(input.id) as HubRow), moved };
      })();
    },
    getHub(id: string): HubRecord | undefined {
      const row = get.get(id) as HubRow | undefined;
      return row && toRecord(row);
    },
    listHubs(): HubRecord[] {
      return (all.all() as HubRow[]).map(toRecord);
    },
    /**
     * 'children' when child hubs remain (remove them first). The devices behind it move to its
     * parent hub, the next hub up on their path (`to`), or back to the central broker (null)
     * when it has none.
     */
    deleteHub(id: string): { deleted: true; devices: string[]; to: string | null } | { deleted: false; reason: 'missing' | 'children' } {
      return db.transaction(() => {
        const row = get.get(id) as HubRow | undefined;
        if (!row) return { deleted: false as const, reason: 'missing' as const };
        if ((children.get(id) as number) > 0) return { deleted: false as const, reason: 'children' as const };
        const devices = direct.all(id) as string[];
        // Without a parent, the foreign key's ON DELETE SET NULL puts them back on the centre.
        if (row.parent_id !== null) for (const deviceId of devices) setHub.run(row.parent_id, deviceId);
        remove.run(id);
        return { deleted: true as const, devices, to: row.parent_id };
      })();
    },
    /** The hub a device is behind, null for none, undefined when the device does not exist. */
    deviceHub(deviceId: string): string | null | undefined {
      return deviceHub.get(deviceId) as string | null | undefined;
    },
    setDeviceHub(deviceId: string, hubId: string | null): boolean {
      return setHub.run(hubId, deviceId).changes === 1;
    },
    /** The hub a new device with these tags goes behind: the matching selector with most pairs, then the deepest. */
    hubForTags(tags: Record<string, string>): string | null {
      let best: { id: string; pairs: number; depth: number } | null = null;
      for (const hub of (all.all() as HubRow[]).map(toRecord)) {
        if (!selectorMatches(hub.selector, tags)) continue;
        const candidate = { id: hub.id, pairs: Object.keys(hub.selector).length, depth: ancestry(hub.id).length };
        if (!best || candidate.pairs > best.pairs || (candidate.pairs === best.pairs && candidate.depth > best.depth)) best = candidate;
      }
      return best?.id ?? null;
    },
    /** The hub and every ancestor, nearest first. */
    hubAncestry: ancestry,
    hubSubtree(hubId: string): HubSubtreeRecord | undefined {
      if (!get.get(hubId)) return undefined;
      return {
        devices: subtreeDevices.all(hubId) as Array<{ id: string; hubId: string }>,
        hubs: subtreeHubs.all(hubId, hubId) as Array<{ id: string; parentId: string }>,
      };
    },
    hubDeviceCounts(hubId: string): { total: number; direct: number; online: number } {
      return counts.get(hubId, hubId) as { total: number; direct: number; online: number };
    },
    hubCredentials(id: string, now: string = nowIso()): DeviceCredentialState | undefined {
      const row = credentials.get(id) as CredentialRow | undefined;
      return row ? credentialStateOf(row, now) : undefined;
    },
    rotateHubCredential(id: string, newHash: string, graceSeconds: number, now: Date = new Date()): { previousExpiresAt: string | null } | undefined {
      return db.transaction(() => {
        const row = credentials.get(id) as CredentialRow | undefined;
        if (!row) return undefined;
        const expires = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000).toISOString() : null;
        rotate.run({ id, hash: newHash, previous: expires ? row.credential_hash : null, expires, at: now.toISOString() });
        return { previousExpiresAt: expires };
      })();
    },
    retirePreviousHubCredential(id: string): boolean {
      return retire.run(id).changes === 1;
    },
    /** The next site revision: above every earlier one, and above the clock so a re-created hub never goes back. */
    nextSiteRevision(id: string, now: number = Date.now()): number | undefined {
      return bump.get(now, id) as number | undefined;
    },
    setHubStatus(id: string, value: HubStatus, at: string): boolean {
      return status.run(JSON.stringify(value), at, id).changes === 1;
    },
  };
}

export type HubOps = ReturnType<typeof hubOps>;
