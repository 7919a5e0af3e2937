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

/**
 * FROM, WHERE and ORDER BY of one page's query (after `SELECT <columns> `), and its arguments.
 *
 * Its LIMIT is `? + 0` and its id-prefix pattern `(? || '')`, not bare parameters: SQLite (3.53
 * here) lets the value bound to a bare `LIMIT ?` or `LIKE ?` parameter steer the query plan, so it
 * marks the statement stale whenever that parameter is bound, which better-sqlite3 does on every
 * run, and re-prepares it on the next step: the whole page query parsed and planned again, each
 * request.
 * A profile of GET /devices under load put a tenth of the API thread there (docs/operations.md,
 * inventory p99). An expression over the parameter has the same value and no say in the plan: the
 * plans are the same (the LIMIT never changed them, the range beside the LIKE does the seeking).
 */
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
    // testing every id (SQLite's LIKE is case-insensitive, so it never uses a BINARY index). The
    // pattern is not a bare parameter, which SQLite would re-prepare the statement for on every
    // run (see above).
    where.push(`${idColumn} >= ? AND ${idColumn} < ? AND ${idColumn} LIKE (? || '') ESCAPE '\\'`);
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
  return { tail: `FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${orderBy} LIMIT ? + 0`, args };
}

export function devicePageOps(db: Db) {
  // One cache per select list, keyed by the rest of the query: filter shapes are few.
  const recordStatements = statementCache(db, 64, `SELECT ${SUMMARY_COLUMNS} `);
  // The page's entries joined into one text by SQLite: one value handed to JavaScript instead of
  // one string per device (a fifth of the page query: docs/operations.md, inventory p99).
  // group_concat joins in the order rows reach it, which SQLite does not promise in general; here
  // they come from a subquery with a LIMIT, which SQLite never flattens into the aggregate: it
  // runs as a co-routine yielding rows in its ORDER BY order. group_concat(… ORDER BY …) would say
  // so explicitly but sorts the page again, costing more than the whole saving;
  // test/api/device-page-json.test.ts holds every sort's order to the record page's.
  const joined = (entry: string) => `SELECT count(*), coalesce(group_concat(j, ','), '') FROM (SELECT ${entry} AS j `;
  const jsonStatements = statementCache(db, 64, joined(DEVICE_SUMMARY_JSON));
  const allReachableJsonStatements = statementCache(db, 64, joined(DEVICE_SUMMARY_JSON_ALL_REACHABLE));

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
     * The same page as `pageDevices`, as the JSON texts of its devices' list entries
     * (device-summary-json.ts) joined by commas, in order, and how many there are;
     * `unreachableHubs` decides `reachable`. `lastEntryStart` finds where the last one begins.
     */
    pageDevicesJson(query: DevicePageQuery, unreachableHubs: ReadonlySet<string>): DevicePageJson {
      const { tail, args } = pagePlan(query);
      const [count, entries] = (
        unreachableHubs.size === 0
          ? allReachableJsonStatements(`${tail})`).raw(true).get(...args)
          : jsonStatements(`${tail})`).raw(true).get(JSON.stringify([...unreachableHubs]), ...args)
      ) as [number, string];
      return { count, entries };
    },
  };
}

export interface DevicePageJson {
  /** How many devices the page has. */
  readonly count: number;
  /** Their list entries' JSON texts joined by commas ('' for none): the inside of a JSON array. */
  readonly entries: string;
}

export type DevicePageOps = ReturnType<typeof devicePageOps>;
