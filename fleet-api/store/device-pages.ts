/**
 * One page of the device inventory: filters and sort applied by SQLite, keyset pagination from a
 * position (the sort key and id of the last device of the previous page), so a page costs an
 * index range scan wherever it starts (docs/api.md §Pagination). The REST layer encodes the
 * position as an opaque cursor.
 */
import type { Db } from './core.js';
import { statementCache } from './statements.js';
import { addDeviceFilter } from './device-filter.js';
import { DEVICE_SUMMARY_JSON, DEVICE_SUMMARY_JSON_ALL_REACHABLE } from './device-summary-json.js';

export type DeviceSort = 'id' | '-id' | 'createdAt' | '-createdAt' | 'lastSeen' | '-lastSeen';
export const DEVICE_SORTS: readonly DeviceSort[] = ['id', '-id', 'createdAt', '-createdAt', 'lastSeen', '-lastSeen'];

export interface DevicePageQuery {
  /** Every pair must match (AND). */
  readonly tags?: Readonly<Record<string, string>>;
  readonly profile?: string;
  readonly online?: boolean;
  readonly inSync?: boolean;
  readonly faulted?: boolean;
  /** A module the agent quarantined in the last report [WF-P-T-3b]. */
  readonly quarantined?: boolean;
  readonly idPrefix?: string;
  /** Only devices behind this hub itself (not its child hubs). */
  readonly hub?: string;
  readonly sort: DeviceSort;
  /** The last device of the previous page: its sort key (absent for id sorts) and id. */
  readonly after?: { readonly key: string | null; readonly id: string };
  readonly limit: number;
}

/** What a list shows of a device: no desired or reported state, which would cost a JSON parse each. */
export interface DeviceSummaryRecord {
  id: string;
  profile: string;
  tags: Record<string, string>;
  createdAt: string;
  online: boolean;
  lastSeen: string | null;
  reportedRevision: number;
  desiredRevision: number;
  /** The hub it is behind (null: none); absent where not read. */
  hubId?: string | null;
  /** Flags of the last report; absent where not read. */
  faulted?: boolean;
  quarantined?: boolean;
}

/** SUMMARY_COLUMNS in order. */
type SummaryRow = [
  id: string,
  profile: string,
  tags: string,
  createdAt: string,
  online: number,
  lastSeen: string | null,
  reportedRevision: number,
  desiredRevision: number,
  hubId: string | null,
  faulted: number,
  quarantined: number,
];

const SUMMARY_COLUMNS = 'd.id, d.profile, d.tags, d.created_at, d.online, d.last_seen, d.reported_revision, d.desired_revision, d.hub_id, d.faulted, d.quarantined';

/** The SQL sort key of each sort; lastSeen's null sorts as '' (before every timestamp), matched by its index. */
const SORT_KEY: Record<'createdAt' | 'lastSeen', string> = {
  createdAt: 'd.created_at',
  lastSeen: "coalesce(d.last_seen, '')",
};

/** The sort key of a record as a cursor stores it. */
export function sortKeyOf(record: Pick<DeviceSummaryRecord, 'createdAt' | 'lastSeen'>, sort: DeviceSort): string | null {
  const field = sort.replace('-', '');
  if (field === 'createdAt') return record.createdAt;
  if (field === 'lastSeen') return record.lastSeen ?? '';
  return null;
}

/** LIKE with `\` as escape, so an id prefix's `_` matches only `_`. */
const likePrefix = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** FROM, WHERE and ORDER BY of one page's query (after `SELECT <columns> `), and its arguments. */
function pagePlan(query: DevicePageQuery): { tail: string; args: unknown[] } {
  const descending = query.sort.startsWith('-');
  const field = query.sort.replace('-', '') as 'id' | 'createdAt' | 'lastSeen';
  const order = descending ? 'DESC' : 'ASC';
  const compare = descending ? '<' : '>';
  const where: string[] = [];
  const args: unknown[] = [];
  const tagPairs = Object.entries(query.tags ?? {});
  // Sorted by id with a tag: walk that tag's index (key, value, device_id) in order and join
  // the devices, so a rare tag costs its own rows, not a scan of the inventory.
  const driveByTag = field === 'id' && tagPairs.length > 0;
  const idColumn = driveByTag ? 't0.device_id' : 'd.id';
  let from = 'devices d';
  if (driveByTag) {
    const [key, value] = tagPairs.shift()!;
    from = 'device_tags t0 CROSS JOIN devices d ON d.id = t0.device_id';
    where.push('t0.key = ? AND t0.value = ?');
    args.push(key, value);
  }
  addDeviceFilter('d', { tagPairs, profile: query.profile, online: query.online }, where, args);
  if (query.hub !== undefined) {
    where.push('d.hub_id = ?');
    args.push(query.hub);
  }
  if (query.inSync !== undefined) where.push(query.inSync ? 'd.reported_revision >= d.desired_revision' : 'd.reported_revision < d.desired_revision');
  if (query.faulted !== undefined) {
    where.push('d.faulted = ?');
    args.push(query.faulted ? 1 : 0);
  }
  if (query.quarantined !== undefined) {
    where.push('d.quarantined = ?');
    args.push(query.quarantined ? 1 : 0);
  }
  if (query.idPrefix !== undefined) {
    // LIKE decides; the range beside it lets SQLite seek the id index to the prefix instead of
    // testing every id (SQLite's LIKE is case-insensitive, so it never uses a BINARY index).
    where.push(`${idColumn} >= ? AND ${idColumn} < ? AND ${idColumn} LIKE ? ESCAPE '\\'`);
    args.push(query.idPrefix, `${query.idPrefix}\u{10FFFF}`, likePrefix(query.idPrefix));
  }
  let orderBy: string;
  if (field === 'id') {
    orderBy = `${idColumn} ${order}`;
    if (query.after) {
      where.push(`${idColumn} ${compare} ?`);
      args.push(query.after.id);
    }
  } else {
    const key = SORT_KEY[field];
    orderBy = `${key} ${order}, d.id ${order}`;
    if (query.after) {
      where.push(`(${key}, d.id) ${compare} (?, ?)`);
      args.push(query.after.key ?? '', query.after.id);
    }
  }
  args.push(query.limit);
  return { tail: `FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${orderBy} LIMIT ?`, args };
}

export function devicePageOps(db: Db) {
  // One cache per select list, keyed by the rest of the query: filter shapes are few.
  const recordStatements = statementCache(db, 64, `SELECT ${SUMMARY_COLUMNS} `);
  const jsonStatements = statementCache(db, 64, `SELECT ${DEVICE_SUMMARY_JSON} `);
  const allReachableJsonStatements = statementCache(db, 64, `SELECT ${DEVICE_SUMMARY_JSON_ALL_REACHABLE} `);

  return {
    pageDevices(query: DevicePageQuery): DeviceSummaryRecord[] {
      const { tail, args } = pagePlan(query);
      // Rows as arrays: better-sqlite3 builds no object per row, a third of a page's cost.
      return (recordStatements(tail).raw(true).all(...args) as SummaryRow[]).map((row) => ({
        id: row[0],
        profile: row[1],
        tags: JSON.parse(row[2]) as Record<string, string>,
        createdAt: row[3],
        online: row[4] === 1,
        lastSeen: row[5],
        reportedRevision: row[6],
        desiredRevision: row[7],
        hubId: row[8],
        faulted: row[9] === 1,
        quarantined: row[10] === 1,
      }));
    },
    /**
     * The same page as `pageDevices`, each device as the JSON text of its list entry
     * (device-summary-json.ts), `unreachableHubs` deciding `reachable`.
     */
    pageDevicesJson(query: DevicePageQuery, unreachableHubs: ReadonlySet<string>): string[] {
      const { tail, args } = pagePlan(query);
      if (unreachableHubs.size === 0) return allReachableJsonStatements(tail).pluck(true).all(...args) as string[];
      return jsonStatements(tail).pluck(true).all(JSON.stringify([...unreachableHubs]), ...args) as string[];
    },
  };
}

export type DevicePageOps = ReturnType<typeof devicePageOps>;
