/**
 * Device lists for `wasmfleet device import`: CSV (header `id,profile,tags`, tags as
 * `key=value;key=value`, RFC 4180 quoting) or JSON Lines (`{"id","profile","tags"}` per line).
 * Every row is checked before anything is sent, and every bad row is reported with its line
 * number and field, so a file is either wholly importable or refused with the list to fix.
 */
import { DEVICE_ID_PATTERN, TAG_KEY_PATTERN } from '../protocol/ids.js';

export interface DeviceRow {
  readonly id: string;
  readonly profile: string;
  readonly tags: Record<string, string>;
  /** 1-based line of the file the row came from. */
  readonly line: number;
}

export interface RowProblem {
  readonly line: number;
  readonly field: string;
  readonly reason: string;
}

export type DeviceFileResult = { ok: true; rows: DeviceRow[] } | { ok: false; problems: RowProblem[] };

const ID = new RegExp(DEVICE_ID_PATTERN);
const TAG_KEY = new RegExp(TAG_KEY_PATTERN);
const MAX_TAGS = 32;
const MAX_TAG_VALUE = 64;

/** Splits one CSV record into fields (quotes may hold commas and doubled quotes, not newlines). */
function csvFields(text: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) return undefined;
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== ',') return undefined;
      i += 1;
    } else {
      const comma = text.indexOf(',', i);
      fields.push((comma < 0 ? text.slice(i) : text.slice(i, comma)).trim());
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

function checkDevice(line: number, id: unknown, profile: unknown, tags: unknown, problems: RowProblem[]): DeviceRow | undefined {
  const before = problems.length;
  if (typeof id !== 'string' || !ID.test(id)) {
    problems.push({ line, field: 'id', reason: `must be 1-63 of a-z 0-9 . _ - starting with a letter or digit, got ${JSON.stringify(id ?? null)}` });
  }
  if (typeof profile !== 'string' || profile.length === 0 || profile.length > 64) {
    problems.push({ line, field: 'profile', reason: 'is required (a firmware profile name, e.g. sim-x86-64)' });
  }
  const tagRecord: Record<string, string> = {};
  if (tags !== undefined && (tags === null || typeof tags !== 'object' || Array.isArray(tags))) {
    problems.push({ line, field: 'tags', reason: 'must be an object of key: value strings' });
  } else {
    for (const [key, value] of Object.entries((tags ?? {}) as Record<string, unknown>)) {
      if (!TAG_KEY.test(key)) problems.push({ line, field: `tags/${key}`, reason: 'a tag key is 1-32 of a-z 0-9 _ . - starting with a letter' });
      else if (typeof value !== 'string' || value.length > MAX_TAG_VALUE) problems.push({ line, field: `tags/${key}`, reason: `a tag value is a string of at most ${MAX_TAG_VALUE} characters` });
      else tagRecord[key] = value;
    }
    if (Object.keys(tagRecord).length > MAX_TAGS) problems.push({ line, field: 'tags', reason: `at most ${MAX_TAGS} tags` });
  }
  return problems.length === before ? { id: id as string, profile: profile as string, tags: tagRecord, line } : undefined;
}

function parseCsv(lines: string[], problems: RowProblem[]): DeviceRow[] {
  const headerIndex = lines.findIndex((l) => l.trim() !== '');
  if (headerIndex < 0) return [];
  const header = csvFields(lines[headerIndex]!.trim())?.map((h) => h.toLowerCase());
  const at = (name: string) => header?.indexOf(name) ?? -1;
  if (!header || at('id') < 0 || at('profile') < 0 || header.some((h) => !['id', 'profile', 'tags'].includes(h))) {
    problems.push({ line: headerIndex + 1, field: 'header', reason: `must name the columns id,profile and optionally tags, got '${lines[headerIndex]!.trim()}'` });
    return [];
  }
  const rows: DeviceRow[] = [];
  for (let i = headerIndex + 1; i < lines.length; i += 1) {
    const text = lines[i]!.trim();
    if (text === '') continue;
    const line = i + 1;
    const fields = csvFields(text);
    if (!fields || fields.length !== header.length) {
      problems.push({ line, field: 'row', reason: fields ? `has ${fields.length} fields, the header has ${header.length}` : 'has an unterminated quote' });
      continue;
    }
    const tags: Record<string, string> = {};
    const tagText = at('tags') >= 0 ? fields[at('tags')]! : '';
    let tagsOk = true;
    for (const pair of tagText.split(';').map((p) => p.trim()).filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        problems.push({ line, field: 'tags', reason: `expected key=value pairs separated by ';', got '${pair}'` });
        tagsOk = false;
        break;
      }
      tags[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    if (!tagsOk) continue;
    const row = checkDevice(line, fields[at('id')], fields[at('profile')], tags, problems);
    if (row) rows.push(row);
  }
  return rows;
}

function parseJsonl(lines: string[], problems: RowProblem[]): DeviceRow[] {
  const rows: DeviceRow[] = [];
  for (const [i, raw] of lines.entries()) {
    const text = raw.trim();
    if (text === '') continue;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      problems.push({ line, field: 'row', reason: `is not JSON: ${(error as Error).message}` });
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ line, field: 'row', reason: 'must be a JSON object {"id", "profile", "tags"}' });
      continue;
    }
    const { id, profile, tags, ...rest } = value as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) {
      problems.push({ line, field: unknown[0]!, reason: 'is not a device field (id, profile, tags)' });
      continue;
    }
    const row = checkDevice(line, id, profile, tags, problems);
    if (row) rows.push(row);
  }
  return rows;
}

/** Parses a device file by its extension (.csv, .jsonl or .ndjson). */
export function parseDeviceFile(text: string, format: 'csv' | 'jsonl'): DeviceFileResult {
  const problems: RowProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows = format === 'csv' ? parseCsv(lines, problems) : parseJsonl(lines, problems);
  const firstLine = new Map<string, number>();
  for (const row of rows) {
    const earlier = firstLine.get(row.id);
    if (earlier !== undefined) problems.push({ line: row.line, field: 'id', reason: `'${row.id}' is also on line ${earlier}` });
    else firstLine.set(row.id, row.line);
  }
  if (problems.length === 0 && rows.length === 0) problems.push({ line: 1, field: 'file', reason: 'lists no devices' });
  problems.sort((a, b) => a.line - b.line);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rows };
}
