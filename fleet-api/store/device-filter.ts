/**
 * The filter clauses every device listing shares (the paginated inventory in device-pages.ts and
 * the plain list in devices.ts), so a tag, profile or online filter means the same in both.
 */
export interface SharedDeviceFilter {
  readonly tagPairs: readonly (readonly [string, string])[];
  readonly profile?: string | undefined;
  readonly online?: boolean | undefined;
}

/** Appends to `where`/`args` the clauses for `filter` on the devices table under `alias`. */
export function addDeviceFilter(alias: string, filter: SharedDeviceFilter, where: string[], args: unknown[]): void {
  for (const [key, value] of filter.tagPairs) {
    where.push(`EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = ${alias}.id AND t.key = ? AND t.value = ?)`);
    args.push(key, value);
  }
  if (filter.profile !== undefined) {
    where.push(`${alias}.profile = ?`);
    args.push(filter.profile);
  }
  if (filter.online !== undefined) {
    where.push(`${alias}.online = ?`);
    args.push(filter.online ? 1 : 0);
  }
}
