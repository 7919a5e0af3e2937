/** Device inventory: provisioning, selection by tags/profile/online, presence and twin state. */
import type { DesiredState, ReportedState } from '../../protocol/index.js';
import { nowIso, type Db } from './core.js';
import { statementCache } from './statements.js';
import { addDeviceFilter } from './device-filter.js';

export interface DeviceRecord {
  id: string;
  profile: string;
  tags: Record<string, string>;
  createdAt: string;
  online: boolean;
  lastSeen: string | null;
  reported: ReportedState | null;
  reportedRevision: number;
  desired: DesiredState | null;
  desiredRevision: number;
}

export interface DeviceFilter {
  /** Every pair must match (AND). */
  tags?: Record<string, string>;
  profile?: string;
  online?: boolean;
  ids?: readonly string[];
}

interface DeviceRow {
  id: string;
  profile: string;
  tags: string;
  created_at: string;
  online: number;
  last_seen: string | null;
  reported: string | null;
  reported_revision: number;
  desired: string | null;
  desired_revision: number;
}

const COLUMNS = 'id, profile, tags, created_at, online, last_seen, reported, reported_revision, desired, desired_revision';

const toRecord = (row: DeviceRow): DeviceRecord => ({
  id: row.id,
  profile: row.profile,
  tags: JSON.parse(row.tags) as Record<string, string>,
  createdAt: row.created_at,
  online: row.online === 1,
  lastSeen: row.last_seen,
  reported: row.reported === null ? null : (JSON.parse(row.reported) as ReportedState),
  reportedRevision: row.reported_revision,
  desired: row.desired === null ? null : (JSON.parse(row.desired) as DesiredState),
  desiredRevision: row.desired_revision,
});

/** A device is faulted while its last report has a module failed or faulting (docs/api.md, `faulted`). */
export const isFaulted = (state: ReportedState): boolean => state.modules.some((m) => m.state === 'failed' || m.faults > 0);
/** A device is quarantined while its last report has a module the agent stopped restarting [WF-P-T-3b]. */
export const isQuarantined = (state: ReportedState): boolean => state.modules.some((m) => m.quarantined === true);

export function deviceOps(db: Db) {
  const insert = db.prepare('INSERT INTO devices (id, profile, tags, credential_hash, created_at) VALUES (?, ?, ?, ?, ?)');
  const insertTag = db.prepare('INSERT INTO device_tags (device_id, key, value) VALUES (?, ?, ?)');
  const get = db.prepare(`SELECT ${COLUMNS} FROM devices WHERE id = ?`);
  const remove = db.prepare('DELETE FROM devices WHERE id = ?');
  const hash = db.prepare('SELECT credential_hash FROM devices WHERE id = ?').pluck();
  const allIds = db.prepare('SELECT id FROM devices ORDER BY id').pluck();
  const idsWithDesired = db.prepare('SELECT id FROM devices WHERE desired IS NOT NULL ORDER BY id').pluck();
  const existing = db.prepare('SELECT id FROM devices WHERE id IN (SELECT value FROM json_each(?))').pluck();
  const seen = db.prepare(
    // last_seen only moves forward, so a stale retained status cannot rewind it.
    'UPDATE devices SET online = ?, last_seen = max(coalesce(last_seen, \'\'), ?) WHERE id = ?',
  );
  const touch = db.prepare("UPDATE devices SET last_seen = max(coalesce(last_seen, ''), ?) WHERE id = ?");
  const onlineOf = db.prepare('SELECT online FROM devices WHERE id = ?').pluck();
  const reportedOf = db.prepare('SELECT reported FROM devices WHERE id = ?');
  const desiredOf = db.prepare('SELECT desired FROM devices WHERE id = ?').pluck();
  const reported = db.prepare('UPDATE devices SET reported = ?, reported_revision = ?, faulted = ?, quarantined = ? WHERE id = ?');
  const desired = db.prepare('UPDATE devices SET desired = ?, desired_revision = ? WHERE id = ?');
  const onlineWithProfile = db.prepare('SELECT id, profile, last_seen FROM devices WHERE online = 1');
  const onlineProfiles = db.prepare('SELECT profile, online FROM fleet_counts_profile WHERE online > 0 ORDER BY profile');
  // Walks the last-seen index up to the cutoff (the `+` keeps SQLite off the profile index, which
  // would visit every device of the profile): only devices silent since then are read.
  const staleOnline = db.prepare("SELECT id FROM devices WHERE coalesce(last_seen, '') < ? AND online = 1 AND +profile = ?").pluck();
  const setOffline = db.prepare('UPDATE devices SET online = 0 WHERE id = ? AND online = 1');
  const statements = statementCache(db);
  const updateTags = db.prepare('UPDATE devices SET tags = ? WHERE id = ?');
  const clearTags = db.prepare('DELETE FROM device_tags WHERE device_id = ?');
  const replaceTags = db.transaction((id: string, tags: Record<string, string>) => {
    if (updateTags.run(JSON.stringify(tags), id).changes !== 1) return false;
    clearTags.run(id);
    for (const [key, value] of Object.entries(tags)) insertTag.run(id, key, value);
    return true;
  });

  const insertDevice = db.transaction((id: string, profile: string, tags: Record<string, string>, credentialHash: string) => {
    insert.run(id, profile, JSON.stringify(tags), credentialHash, nowIso());
    for (const [key, value] of Object.entries(tags)) insertTag.run(id, key, value);
  });

  return {
    /** Throws SqliteError SQLITE_CONSTRAINT_PRIMARYKEY when the id exists. */
    insertDevice(input: { id: string; profile: string; tags: Record<string, string>; credentialHash: string }): DeviceRecord {
      insertDevice(input.id, input.profile, input.tags, input.credentialHash);
      return toRecord(get.get(input.id) as DeviceRow);
    },
    /** Inserts every device in one transaction: all or none (a duplicate id throws, nothing is kept). */
    insertDevices(inputs: ReadonlyArray<{ id: string; profile: string; tags: Record<string, string>; credentialHash: string }>): DeviceRecord[] {
      const createdAt = nowIso();
      db.transaction(() => {
        for (const { id, profile, tags, credentialHash } of inputs) {
          insert.run(id, profile, JSON.stringify(tags), credentialHash, createdAt);
          for (const [key, value] of Object.entries(tags)) insertTag.run(id, key, value);
        }
      })();
      return inputs.map(({ id, profile, tags }) => ({
        id,
        profile,
        tags,
        createdAt,
        online: false,
        lastSeen: null,
        reported: null,
        reportedRevision: 0,
        desired: null,
        desiredRevision: 0,
      }));
    },
    /** Which of `ids` exist already, in the order given. */
    existingDeviceIds(ids: readonly string[]): string[] {
      const found = new Set(existing.all(JSON.stringify(ids)) as string[]);
      return ids.filter((id) => found.has(id));
    },
    getDevice(id: string): DeviceRecord | undefined {
      const row = get.get(id) as DeviceRow | undefined;
      return row && toRecord(row);
    },
    listDevices(filter: DeviceFilter = {}): DeviceRecord[] {
      const where: string[] = [];
      const args: unknown[] = [];
      addDeviceFilter('devices', { tagPairs: Object.entries(filter.tags ?? {}), profile: filter.profile, online: filter.online }, where, args);
      if (filter.ids !== undefined) {
        if (filter.ids.length === 0) return [];
        where.push('id IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify(filter.ids));
      }
      const sql = `SELECT ${COLUMNS} FROM devices ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id`;
      return (statements(sql).all(...args) as DeviceRow[]).map(toRecord);
    },
    deviceIds(): string[] {
      return allIds.all() as string[];
    },
    /** Devices that have a desired state, by id. */
    deviceIdsWithDesired(): string[] {
      return idsWithDesired.all() as string[];
    },
    /** Replaces every tag of a device; false when it does not exist. */
    setTags(id: string, tags: Record<string, string>): boolean {
      return replaceTags(id, tags);
    },
    deleteDevice(id: string): boolean {
      return remove.run(id).changes === 1;
    },
    deviceCredentialHash(id: string): string | undefined {
      return hash.get(id) as string | undefined;
    },
    /** Whether a device is online (undefined: no such device), without reading its JSON columns: asked once per status message. */
    isOnline(id: string): boolean | undefined {
      const online = onlineOf.get(id) as number | undefined;
      return online === undefined ? undefined : online === 1;
    },
    /** A device's last reported state (null: none yet; undefined: no such device), without parsing its other JSON columns. */
    reportedStateOf(id: string): ReportedState | null | undefined {
      const row = reportedOf.get(id) as { reported: string | null } | undefined;
      if (!row) return undefined;
      return row.reported === null ? null : (JSON.parse(row.reported) as ReportedState);
    },
    /** A device's desired state (null: none, or no such device), its column alone. */
    desiredStateOf(id: string): DesiredState | null {
      const desired = desiredOf.get(id) as string | null | undefined;
      return desired == null ? null : (JSON.parse(desired) as DesiredState);
    },
    setPresence(id: string, online: boolean, at: string): boolean {
      return seen.run(online ? 1 : 0, at, id).changes === 1;
    },
    touchDevice(id: string, at: string): void {
      touch.run(at, id);
    },
    setReported(id: string, state: ReportedState): boolean {
      return reported.run(JSON.stringify(state), state.revision, isFaulted(state) ? 1 : 0, isQuarantined(state) ? 1 : 0, id).changes === 1;
    },
    setDesired(id: string, state: DesiredState): void {
      desired.run(JSON.stringify(state), state.revision, id);
    },
    onlineDevices(): Array<{ id: string; profile: string; lastSeen: string | null }> {
      return (onlineWithProfile.all() as Array<{ id: string; profile: string; last_seen: string | null }>).map((row) => ({
        id: row.id,
        profile: row.profile,
        lastSeen: row.last_seen,
      }));
    },
    /** Profiles with devices online, and how many (the kept fleet counts). */
    onlineProfiles(): Array<{ profile: string; online: number }> {
      return onlineProfiles.all() as Array<{ profile: string; online: number }>;
    },
    /** Online devices of `profile` last seen before `cutoff` (an ISO timestamp, as last_seen is written) or never. */
    staleOnlineDevices(profile: string, cutoff: string): string[] {
      return staleOnline.all(cutoff, profile) as string[];
    },
    markOffline(ids: readonly string[]): number {
      let changed = 0;
      db.transaction(() => {
        for (const id of ids) changed += setOffline.run(id).changes;
      })();
      return changed;
    },
  };
}

export type DeviceOps = ReturnType<typeof deviceOps>;
