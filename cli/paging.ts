/**
 * Walks a paginated API list (docs/api.md §Pagination): requests pages with each `nextCursor`
 * until it is null or `max` items are gathered. Long walks report their progress to `onPage`.
 */
import type { ApiClient } from './api-client.js';

type Query = Record<string, string | number | boolean | string[] | undefined>;

export async function fetchAllPages<T>(
  api: ApiClient,
  path: string,
  key: string,
  query: Query,
  { max = Number.POSITIVE_INFINITY, pageSize = 1000, onPage }: { max?: number; pageSize?: number; onPage?: (fetched: number) => void } = {},
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const limit = Math.min(pageSize, max - items.length);
    const page = await api.get<Record<string, unknown> & { nextCursor: string | null }>(path, { ...query, limit, cursor });
    items.push(...(page[key] as T[]));
    onPage?.(items.length);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && items.length < max);
  return items;
}
