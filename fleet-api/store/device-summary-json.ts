/**
 * A device's list entry as JSON text, written by SQLite: the document `deviceSummary` (http/views.ts)
 * makes of a DeviceSummaryRecord read with its hub, serialized by the route's response schema, with
 * the same fields in the same order. The inventory page (GET /devices) is sent as these texts
 * joined, so a page of 100 devices costs one string per device instead of eleven values, a record,
 * a view object and a serializer pass over them (bench/README.md, inventory: about a third of the
 * route's CPU under 50 requests in flight). test/api/device-page-json.test.ts compares this text
 * with `deviceSummary` of the same devices in every state that changes a field; a field added to
 * one must be added to the other.
 *
 * `d` is the devices table. `reachable` depends on the hubs that cannot relay now (hubs/views.ts
 * unreachableHubs): with some, the text takes one parameter, their ids as a JSON array, and a device
 * behind one of them is `"offline-hub"`; with none (the usual case) it takes no parameter and skips
 * the list SQLite would build for each query.
 */

/** A JSON boolean from an SQL condition; 0/1 columns compare to 1, as the records read them. */
const bool = (condition: string): string => `CASE WHEN ${condition} THEN 'true' ELSE 'false' END`;

/** Each field's name and the SQL of its JSON value text; json_quote(NULL) is the text null. */
const fields = (someUnreachable: boolean): ReadonlyArray<readonly [name: string, json: string]> => [
  ['id', 'json_quote(d.id)'],
  ['profile', 'json_quote(d.profile)'],
  // Stored by JSON.stringify of the validated tags (devices.ts) and read by the fleet-count
  // triggers' json_each: already a JSON object, sent as it is.
  ['tags', 'd.tags'],
  ['createdAt', 'json_quote(d.created_at)'],
  ['online', bool('d.online = 1')],
  ['lastSeen', 'json_quote(d.last_seen)'],
  ['desiredRevision', 'd.desired_revision'],
  ['reportedRevision', 'd.reported_revision'],
  ['inSync', bool('d.reported_revision >= d.desired_revision')],
  ['faulted', bool('d.faulted = 1')],
  ['quarantined', bool('d.quarantined = 1')],
  ['hub', 'json_quote(d.hub_id)'],
  ['reachable', `CASE WHEN d.hub_id IS NULL THEN '"direct"'${someUnreachable ? ` WHEN d.hub_id IN (SELECT value FROM json_each(?)) THEN '"offline-hub"'` : ''} ELSE '"hub"' END`],
];

// One format() call writes the whole text into one buffer: 15% less than a chain of `||`, each of
// which copies the text so far.
const summaryJson = (someUnreachable: boolean): string => {
  const list = fields(someUnreachable);
  return `format('{${list.map(([name]) => `"${name}":%s`).join(',')}}', ${list.map(([, json]) => json).join(', ')})`;
};

/** With the unreachable hubs' ids as its one parameter. */
export const DEVICE_SUMMARY_JSON = summaryJson(true);
/** Every hub reachable: no parameter. */
export const DEVICE_SUMMARY_JSON_ALL_REACHABLE = summaryJson(false);

/**
 * Where the last entry of a joined page (DevicePageJson.entries, at least one entry) begins. Each
 * entry is an object whose first member is "id", so `,{"id":` marks where the next one starts, and
 * nowhere else: inside a JSON string every `"` is escaped, so an unescaped `{"` either opens a
 * string right after `{` (the first member of an object: an entry, or its tags, which follow
 * `"tags":`, not a comma) or closes one ending in `{`, and a closing quote is followed by `,`,
 * `:`, `}` or `]`, never by `id":`. test/api/device-page-json.test.ts pages one device at a time
 * over tags that spell entries out.
 */
export function lastEntryStart(entries: string): number {
  return entries.lastIndexOf(',{"id":') + 1;
}
