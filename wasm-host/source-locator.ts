/**
 * Points a module's fault at the author's source: the wasm frames of the error V8 threw
 * (`wasm-function[N]:0xOFFSET`, module-relative byte offsets) are looked up in the source map a
 * debug build carries in its `wasmfleet.sourcemap` custom section (modules-as/tools/debug-build.ts),
 * and the function is named from the frame. A binary without that section gets no location, so a
 * release build's fault reads exactly as before.
 * Owns: reading the embedded map and choosing the frame. Must not: change a fault's kind.
 */
import { ByteReader } from './metering/bytes.js';
import type { CodeOffsetMap } from './metering/offset-map.js';
import { SectionId, readSections } from './metering/sections.js';
import { WasmSourceMap } from './source-map.js';

/** The custom section a debug build carries its (trimmed) source map in. */
export const SOURCE_MAP_SECTION = 'wasmfleet.sourcemap';
/** Largest embedded map read; a bigger one is ignored (a module's own code maps in a few KiB). */
export const MAX_SOURCE_MAP_BYTES = 256 * 1024;

export interface SourceLocation {
  /** Relative to the module folder (`assembly/index.ts`), or `~lib/...` for the standard library. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The function, as its source names it (`process`, `Window#push`); absent when the frame has no name. */
  readonly function?: string;
}

/** `assembly/index.ts:21 process`: how a location is shown to people. */
export function formatLocation(at: SourceLocation): string {
  return `${at.file}:${at.line}${at.function ? ` ${at.function}` : ''}`;
}

interface WasmFrame {
  readonly name: string | undefined;
  readonly offset: number;
}

// V8: "    at name (wasm://wasm/<hash>:wasm-function[N]:0xOFFSET)" or without the name and parentheses.
const FRAME = /^\s*at (?:(.+?) \()?wasm:\/\/wasm\/[^:]*:wasm-function\[(\d+)\]:0x([0-9a-fA-F]+)\)?\s*$/;

/** The wasm frames of an error's stack, innermost first. */
export function wasmFrames(error: unknown): WasmFrame[] {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  const frames: WasmFrame[] = [];
  for (const line of stack.split('\n')) {
    const match = FRAME.exec(line);
    if (match) frames.push({ name: match[1], offset: Number.parseInt(match[3]!, 16) });
  }
  return frames;
}

/** asc names functions by internal path (`assembly/index/process`, `~lib/rt/stub/__alloc`); people know the last part. */
export function shortFunctionName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const short = name.slice(name.lastIndexOf('/') + 1);
  return short === '' ? undefined : short.slice(0, 200);
}

/** The author's own files: not the standard library, an installed package or a folder outside the module. */
const isOwnSource = (file: string): boolean =>
  !file.startsWith('~') && !file.startsWith('../') && !file.startsWith('/') && !file.includes('node_modules/');

/** Reads the embedded map of a binary; undefined when it has none or it cannot be read. */
export function embeddedSourceMap(wasm: Uint8Array): WasmSourceMap | undefined {
  try {
    for (const section of readSections(wasm)) {
      if (section.id !== SectionId.custom) continue;
      const r = new ByteReader(wasm, section.start, section.end, 'custom section');
      if (r.name() !== SOURCE_MAP_SECTION) continue;
      if (section.end - r.at > MAX_SOURCE_MAP_BYTES) return undefined;
      return WasmSourceMap.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(wasm.subarray(r.at, section.end))));
    }
  } catch {
    // A map is a debugging aid: a malformed one means no location, never a refused module.
  }
  return undefined;
}

export class SourceLocator {
  private constructor(
    private readonly map: WasmSourceMap,
    private readonly offsets: CodeOffsetMap | undefined,
  ) {}

  /**
   * A locator for a module, or undefined when its binary carries no map. `offsets` translates a
   * rewritten (metered) binary's offsets back to `wasm`'s; absent when `wasm` runs as it is.
   */
  static forBinary(wasm: Uint8Array, offsets?: CodeOffsetMap): SourceLocator | undefined {
    const map = embeddedSourceMap(wasm);
    return map && map.size > 0 ? new SourceLocator(map, offsets) : undefined;
  }

  /**
   * Where `error` happened: the innermost frame in the author's own files (a trap inside the
   * standard library or the SDK is shown where the author's code called it), else the
   * innermost frame that maps at all.
   */
  locate(error: unknown): SourceLocation | undefined {
    let fallback: SourceLocation | undefined;
    for (const frame of wasmFrames(error)) {
      const offset = this.offsets ? this.offsets.toOriginal(frame.offset) : frame.offset;
      if (offset === undefined) continue;
      const position = this.map.lookup(offset);
      if (!position) continue;
      const name = shortFunctionName(frame.name);
      const at: SourceLocation = { file: position.file.slice(0, 300), line: position.line, column: position.column, ...(name ? { function: name } : {}) };
      if (isOwnSource(at.file)) return at;
      fallback ??= at;
    }
    return fallback;
  }
}
