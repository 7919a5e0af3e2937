/**
 * What a debug build adds to a module (`buildModule(dir, { debug: true })`, used by `module dev`):
 * asc's `--debug --sourceMap`, and the source map, trimmed to what a fault lookup needs, carried
 * inside the binary as the `wasmfleet.sourcemap` custom section. The map so travels wherever the
 * signed binary does (publish, the agent's cache) with no field of its own, and the sandbox
 * names the source line of a trap (wasm-host/source-locator.ts). Compiler diagnostics become
 * values with file, line and column, so a build error is shown where it is.
 * Owns: the debug flags, the embedding, diagnostics as data. Must not: run or publish modules.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { MAX_SOURCE_MAP_BYTES, SOURCE_MAP_SECTION } from '../../../wasm-host/source-locator.js';

export const DEBUG_BUILD_FLAGS = ['--debug', '--sourceMap'] as const;

/** One compiler message, where it points. */
export interface BuildProblem {
  /** As asc names it: relative to the folder it built from, `~lib/...` for the standard library. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** The subset of asc's DiagnosticMessage read here: a range is a character offset into a source path. */
interface AscDiagnostic {
  readonly code: number;
  readonly category: number;
  readonly message: string;
  readonly range: { readonly start: number; readonly source: { readonly normalizedPath: string } | null } | null;
}

/** 1-based line and column of a character offset in a file asc read (relative to the module folder or to where asc ran). */
function lineAndColumn(dir: string, path: string, offset: number): { line: number; column: number } {
  const file = [join(dir, path), resolve(path)].find((candidate) => !path.startsWith('~') && existsSync(candidate));
  if (!file) return { line: 0, column: 0 };
  const before = readFileSync(file, 'utf8').slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

// asc's DiagnosticCategory: Pedantic, Info, Warning, Error.
const ERROR_CATEGORY = 3;

/** Collects asc's errors as BuildProblems; pass `report` as asc's `reportDiagnostic`. */
export function diagnosticCollector(dir: string): { report: (diagnostic: unknown) => void; problems: BuildProblem[] } {
  const problems: BuildProblem[] = [];
  const report = (diagnostic: unknown): void => {
    const d = diagnostic as AscDiagnostic;
    if (d.category !== ERROR_CATEGORY || problems.length >= 50) return;
    const path = d.range?.source?.normalizedPath ?? '';
    const { line, column } = path ? lineAndColumn(dir, path, d.range!.start) : { line: 0, column: 0 };
    problems.push({ file: moduleRelative(path, dir), line, column, message: `TS${d.code}: ${d.message}` });
  };
  return { report, problems };
}

/** `assembly/index.ts:3:5 TS2304: Cannot find name 'x'.` */
export const formatBuildProblem = (p: BuildProblem): string => `${p.file || '(no file)'}${p.line > 0 ? `:${p.line}:${p.column}` : ''} ${p.message}`;

/** Appends a custom section; custom sections may follow the others, so no offset in the code moves. */
export function appendCustomSection(wasm: Uint8Array, name: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const nameBytes = new TextEncoder().encode(name);
  const body = [...leb(nameBytes.length), ...nameBytes];
  const size = leb(body.length + payload.length);
  const out = new Uint8Array(wasm.length + 1 + size.length + body.length + payload.length);
  out.set(wasm, 0);
  let at = wasm.length;
  out[at++] = 0;
  out.set(size, at);
  at += size.length;
  out.set(body, at);
  out.set(payload, at + body.length);
  return out;
}

function leb(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

/**
 * The map as the binary carries it: version, sources and mappings only (asc also embeds every
 * source's text, the standard library's included, ~240 KiB for a small module). The author's
 * files are named relative to the module folder, whichever folder asc built from.
 */
/** A path asc gave relative to where it ran, made relative to the module folder when it lies inside. */
export function moduleRelative(path: string, dir: string, builtFrom = process.cwd()): string {
  const prefix = relative(builtFrom, dir).replaceAll('\\', '/');
  return prefix && !prefix.startsWith('..') && path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : path;
}

export function trimSourceMap(mapText: string, dir: string, builtFrom = process.cwd()): string | undefined {
  let map: { version?: unknown; sources?: unknown; mappings?: unknown };
  try {
    map = JSON.parse(mapText) as typeof map;
  } catch {
    return undefined;
  }
  if (map.version !== 3 || !Array.isArray(map.sources) || typeof map.mappings !== 'string') return undefined;
  const sources = (map.sources as unknown[]).map((s) => moduleRelative(String(s), dir, builtFrom));
  const text = JSON.stringify({ version: 3, sources, mappings: map.mappings });
  return Buffer.byteLength(text) <= MAX_SOURCE_MAP_BYTES ? text : undefined;
}

/** The debug binary: asc's output with its trimmed map embedded (or unchanged when the map is unusable). */
export function embedSourceMap(wasm: Uint8Array, mapText: string | undefined, dir: string): Uint8Array<ArrayBuffer> {
  const trimmed = mapText === undefined ? undefined : trimSourceMap(mapText, dir);
  return trimmed === undefined ? new Uint8Array(wasm) : appendCustomSection(wasm, SOURCE_MAP_SECTION, new TextEncoder().encode(trimmed));
}
