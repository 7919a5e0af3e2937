/**
 * ISO 8601 UTC timestamps, exactly as Date.prototype.toISOString writes them, from the UTC
 * getters. toISOString itself makes V8 consult ICU's time-zone data (zoneinfo, metazones, zone
 * names): ~640 KiB of the Node binary that a gateway agent, which logs and reports in UTC only,
 * would otherwise keep resident from its first log line on.
 */
const pad = (value: number, width: number): string => String(value).padStart(width, '0');

export function isoTime(ms: number = Date.now()): string {
  if (!Number.isFinite(ms)) throw new RangeError(`invalid time value ${ms}`);
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  // toISOString writes years outside 0-9999 with a sign and six digits.
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : (year < 0 ? '-' : '+') + pad(Math.abs(year), 6);
  return (
    `${yearText}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}.${pad(date.getUTCMilliseconds(), 3)}Z`
  );
}
