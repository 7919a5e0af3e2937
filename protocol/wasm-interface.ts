/**
 * A module binary's interface (its imports and exports) read straight from the binary's import
 * and export sections, without compiling it. `WebAssembly.Module.imports()` and `.exports()`
 * give the same lists but need a compiled module, and compiling creates a whole native module
 * (code space, per-module state): about 5 times a WebAssembly.validate of the same bytes
 * (docs/agent.md §What an agent costs). Callers validate first; on a binary that does not
 * validate these lists mean nothing.
 */

export interface InterfaceImport {
  readonly module: string;
  readonly name: string;
  readonly kind: WebAssembly.ImportExportKind;
  /** Limits of an imported memory (the JS API does not expose them). */
  readonly memory?: ImportedMemory;
}

export interface InterfaceExport {
  readonly name: string;
  readonly kind: WebAssembly.ImportExportKind;
}

/** What a binary declares for an imported memory. */
export interface ImportedMemory {
  /** Initial pages: the host must create the memory at least this large. */
  readonly minimum: number;
  readonly maximum: number | undefined;
  /** Shared memories are ABI 2; a private memory is ABI 1. */
  readonly shared: boolean;
}

export interface WasmInterface {
  /** In the binary's order, which is WebAssembly.Module.imports()'s. */
  readonly imports: readonly InterfaceImport[];
  /** In the binary's order, which is WebAssembly.Module.exports()'s. */
  readonly exports: readonly InterfaceExport[];
}

const SECTION_IMPORT = 2;
const SECTION_EXPORT = 7;
/** External kinds by their byte in the import and export sections (core spec 5.5.10, 5.5.5). */
const KINDS: readonly WebAssembly.ImportExportKind[] = ['function', 'table', 'memory', 'global', 'tag' as WebAssembly.ImportExportKind];

class Truncated extends RangeError {}

/** One decoder for every name: constructing a TextDecoder per name was measurable per apply. */
const utf8 = new TextDecoder();

class Reader {
  at: number;
  constructor(
    readonly wasm: Uint8Array,
    at: number,
  ) {
    this.at = at;
  }
  byte(): number {
    if (this.at >= this.wasm.length) throw new Truncated('truncated');
    return this.wasm[this.at++]!;
  }
  leb(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new Truncated('LEB128 too long');
  }
  name(): string {
    const length = this.leb();
    if (this.at + length > this.wasm.length) throw new Truncated('truncated');
    const text = utf8.decode(this.wasm.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }
  limits(): ImportedMemory {
    const flags = this.byte();
    const minimum = this.leb();
    const maximum = flags & 1 ? this.leb() : undefined;
    return { minimum, maximum, shared: (flags & 2) !== 0 };
  }
}

/**
 * The imports and exports a binary declares, or undefined when its sections cannot be read (an
 * invalid binary: validation refuses it with its own reason).
 */
export function wasmInterface(wasm: Uint8Array): WasmInterface | undefined {
  const read = readInterface(wasm, false);
  return read.complete ? read : undefined;
}

/**
 * The imports read before the first malformed entry (or all of them), without the exports: what
 * the memory-limits readers need, which answer from an entry they could read whatever follows it.
 */
export function readableImports(wasm: Uint8Array): readonly InterfaceImport[] {
  return readInterface(wasm, true).imports;
}

function readInterface(wasm: Uint8Array, importsOnly: boolean): WasmInterface & { complete: boolean } {
  const r = new Reader(wasm, 8); // magic + version
  const imports: InterfaceImport[] = [];
  const exports: InterfaceExport[] = [];
  try {
    while (r.at < wasm.length) {
      const id = r.byte();
      const size = r.leb();
      const end = r.at + size;
      if (end > wasm.length) throw new Truncated('section runs past the end');
      if (id === SECTION_IMPORT) {
        readImports(r, imports);
        if (importsOnly) break;
      } else if (id === SECTION_EXPORT) {
        readExports(r, exports);
        break; // nothing after the export section declares imports or exports
      }
      r.at = end;
    }
  } catch (error) {
    if (error instanceof Truncated) return { imports, exports, complete: false };
    throw error;
  }
  return { imports, exports, complete: true };
}

function readImports(r: Reader, into: InterfaceImport[]): void {
  const count = r.leb();
  for (let i = 0; i < count; i++) {
    const module = r.name();
    const name = r.name();
    const code = r.byte();
    const kind = KINDS[code];
    if (kind === undefined) throw new Truncated(`unknown import kind ${code}`);
    if (code === 0) r.leb(); // type index
    else if (code === 1) (r.byte(), r.limits()); // element type, limits
    else if (code === 2) {
      into.push({ module, name, kind, memory: r.limits() });
      continue;
    } else if (code === 3) (r.byte(), r.byte()); // value type, mutability
    else (r.byte(), r.leb()); // tag: attribute, type index
    into.push({ module, name, kind });
  }
}

function readExports(r: Reader, into: InterfaceExport[]): void {
  const count = r.leb();
  for (let i = 0; i < count; i++) {
    const name = r.name();
    const code = r.byte();
    const kind = KINDS[code];
    if (kind === undefined) throw new Truncated(`unknown export kind ${code}`);
    r.leb(); // index
    into.push({ name, kind });
  }
}
