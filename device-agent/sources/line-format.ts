/**
 * Turns text (a serial or UDP line, an MQTT payload) into one sample value according to a
 * profile's `parse` setting, and cuts a byte stream into bounded lines. Pure: nothing here
 * throws on bad input; a value that cannot be read is `undefined` with a short reason.
 */
import type { LineFormat } from '../../firmware-profiles/index.js';

export type Parsed = { ok: true; value: number } | { ok: false; reason: string };

const bad = (reason: string): Parsed => ({ ok: false, reason });

function numberOf(value: unknown, what: string): Parsed {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : typeof value === 'boolean' ? Number(value) : NaN;
  return Number.isFinite(n) ? { ok: true, value: n } : bad(`${what} is not a finite number`);
}

/** Follows a dotted path (`a.b.0.c`) into a parsed JSON document. */
export function fieldAt(document: unknown, path: string): unknown {
  let at: unknown = document;
  for (const key of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

export function parseValue(text: string, format: LineFormat): Parsed {
  const trimmed = text.trim();
  if (trimmed === '') return bad('empty');
  switch (format.format) {
    case 'number':
      return numberOf(trimmed, 'the line');
    case 'csv': {
      const columns = trimmed.split(format.separator ?? ',');
      if (format.column >= columns.length) return bad(`no column ${format.column} (has ${columns.length})`);
      return numberOf(columns[format.column], `column ${format.column}`);
    }
    case 'json': {
      let document: unknown;
      try {
        document = JSON.parse(trimmed);
      } catch {
        return bad('not JSON');
      }
      const value = fieldAt(document, format.field);
      if (value === undefined) return bad(`no field '${format.field}'`);
      return numberOf(value, `field '${format.field}'`);
    }
  }
}

/** value × scale + offset, the transform every push source applies after parsing. */
export function transform(parsed: number, scale = 1, offset = 0): number {
  return parsed * scale + offset;
}

/**
 * Cuts a byte stream into lines (LF or CRLF). A line longer than `maxLineBytes` is reported
 * once as too long and skipped up to its end, so one runaway sender cannot grow memory.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overlong = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, nl));
      this.flushLine();
      start = nl + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.pendingBytes > 0 || this.overlong) this.flushLine();
  }

  private append(part: Buffer): void {
    if (this.overlong || part.length === 0) return;
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.overlong = true;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private flushLine(): void {
    if (this.overlong) {
      this.overlong = false;
      this.onTooLong();
      return;
    }
    const line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8').replace(/\r$/, '');
    this.pending = [];
    this.pendingBytes = 0;
    if (line.trim() !== '') this.onLine(line);
  }
}
