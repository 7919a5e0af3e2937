/**
 * One page of the device inventory, filtered and sorted by the server: the paginated
 * `GET /api/v1/devices?limit=&cursor=&sort=&idPrefix=&…` (docs/api.md §Pagination). A server without
 * pagination refuses those parameters with 400; then the console reads the unpaginated list once
 * and pages it itself, which is fine for the small fleets such a server holds.
 */
import { api, ApiError, query } from './api.js';
import type { DeviceSummary } from './types.js';

export type SortKey = 'id' | 'lastSeen' | 'createdAt';
export type StatusFilter = '' | 'online' | 'offline' | 'out-of-sync' | 'faulted' | 'quarantined';

export interface DeviceQuery {
  idPrefix: string;
  status: StatusFilter;
  profile: string;
  tag: string;
  /** A hub id; '' for any. */
  hub: string;
  sort: SortKey;
  order: 'asc' | 'desc';
  limit: number;
  cursor?: string | undefined;
}

export interface DevicePage {
  devices: DeviceSummary[];
  nextCursor: string | null;
  /** True when the server paged and filtered (false: the fallback for servers without pagination). */
  serverSide: boolean;
}

let paginated: boolean | undefined;

const statusParams = (status: StatusFilter) => ({
  online: status === 'online' ? true : status === 'offline' ? false : undefined,
  inSync: status === 'out-of-sync' ? false : undefined,
  faulted: status === 'faulted' ? true : undefined,
  quarantined: status === 'quarantined' ? true : undefined,
});

export async function fetchDevices(q: DeviceQuery): Promise<DevicePage> {
  if (paginated !== false) {
    try {
      const page = await api<{ devices: DeviceSummary[]; nextCursor?: string | null }>(
        '/devices' +
          query({
            limit: q.limit,
            cursor: q.cursor,
            sort: (q.order === 'desc' ? '-' : '') + q.sort,
            idPrefix: q.idPrefix,
            profile: q.profile,
            tag: q.tag ? [q.tag] : undefined,
            hub: q.hub || undefined,
            ...statusParams(q.status),
          }),
      );
      paginated = true;
      return { devices: page.devices, nextCursor: page.nextCursor ?? null, serverSide: true };
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 400 && paginated === undefined)) throw error;
      paginated = false;
    }
  }
  return pageLocally(q);
}

async function pageLocally(q: DeviceQuery): Promise<DevicePage> {
  const { devices } = await api<{ devices: DeviceSummary[] }>(
    '/devices' + query({ profile: q.profile, tag: q.tag ? [q.tag] : undefined, online: statusParams(q.status).online }),
  );
  const kept = devices.filter(
    (d) =>
      d.id.startsWith(q.idPrefix) &&
      (q.status !== 'out-of-sync' || !d.inSync) &&
      (q.status !== 'faulted' || d.faulted === true) &&
      (q.status !== 'quarantined' || d.quarantined === true) &&
      (!q.hub || d.hub === q.hub),
  );
  const key = (d: DeviceSummary): string => (q.sort === 'lastSeen' ? (d.lastSeen ?? '') : q.sort === 'createdAt' ? d.createdAt : d.id);
  kept.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : 1) * (q.order === 'asc' ? 1 : -1));
  const start = q.cursor ? Number(q.cursor) : 0;
  const end = start + q.limit;
  return { devices: kept.slice(start, end), nextCursor: end < kept.length ? String(end) : null, serverSide: false };
}
