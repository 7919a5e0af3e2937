/**
 * Source maps (v3) of Wasm binaries, as asc writes them with `--sourceMap`: one generated line
 * whose "columns" are byte offsets in the binary. Decodes the Base64 VLQ `mappings` once into a
 * table sorted by offset and answers "which source line produced the code at this offset".
 * Owns: decoding and lookup. Must not: read files or know where a map came from.
 */

export interface SourcePosition {
  /** As the map names it: relative to the module folder for the author's own files, `~lib/...` for the standard library. */
  readonly file: string;
  /** 1-based, as editors show it. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

/** The parts of a v3 source map this decoder reads. */
export interface RawSourceMap {
  readonly version: number;
  readonly sources: readonly string[];
  readonly mappings: string;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...BASE64].map((char, value) => [char, value]));
const VLQ_CONTINUE = 32;
const VLQ_MASK = 31;

/** Decodes one segment's VLQ numbers; returns undefined on a character outside Base64. */
export function decodeVlqSegment(segment: string): number[] | undefined {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = DIGIT.get(char);
    if (digit === undefined) return undefined;
    value += (digit & VLQ_MASK) * 2 ** shift;
    if (digit & VLQ_CONTINUE) {
      shift += 5;
      if (shift > 35) return undefined;
      continue;
    }
    // The lowest bit is the sign.
    values.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2);
    value = 0;
    shift = 0;
  }
  return shift === 0 ? values : undefined;
}

/** A decoded map: parallel arrays sorted by generated offset. */
export class WasmSourceMap {
  private constructor(
    private readonly sources: readonly string[],
    private readonly offsets: Float64Array,
    private readonly sourceIndex: Int32Array,
    private readonly lines: Int32Array,
    private readonly columns: Int32Array,
  ) {}

  /** Undefined for anything that is not a readable v3 map (a map is a debugging aid: never a reason to refuse a module). */
  static parse(raw: unknown): WasmSourceMap | undefined {
    if (!raw || typeof raw !== 'object') return undefined;
    const map = raw as Partial<RawSourceMap>;
    if (map.version !== 3 || !Array.isArray(map.sources) || typeof map.mappings !== 'string') return undefined;
    if (!map.sources.every((s) => typeof s === 'string')) return undefined;
    const entries: [number, number, number, number][] = [];
    // Fields are deltas from the previous segment's, across the whole (one-line) string.
    let offset = 0;
    let source = 0;
    let line = 0;
    let column = 0;
    for (const group of map.mappings.split(';')) {
      offset = 0; // a new generated line restarts the column; asc writes one line only
      for (const segment of group.split(',')) {
        if (segment === '') continue;
        const fields = decodeVlqSegment(segment);
        if (!fields || fields.length === 0) return undefined;
        offset += fields[0]!;
        if (fields.length < 4) continue; // a segment with no source position
        source += fields[1]!;
        line += fields[2]!;
        column += fields[3]!;
        if (source < 0 || source >= map.sources.length || line < 0 || column < 0) return undefined;
        entries.push([offset, source, line, column]);
      }
    }
    entries.sort((a, b) => a[0] - b[0]);
    return new WasmSourceMap(
      map.sources,
      Float64Array.from(entries, (e) => e[0]),
      Int32Array.from(entries, (e) => e[1]),
      Int32Array.from(entries, (e) => e[2]),
      Int32Array.from(entries, (e) => e[3]),
    );
  }

  get size(): number {
    return this.offsets.length;
  }

  /** The position of the last mapping at or before `offset`; undefined before the first one. */
  lookup(offset: number): SourcePosition | undefined {
    let low = 0;
    let high = this.offsets.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (this.offsets[mid]! <= offset) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (found < 0) return undefined;
    return { file: this.sources[this.sourceIndex[found]!]!, line: this.lines[found]! + 1, column: this.columns[found]! + 1 };
  }
}
