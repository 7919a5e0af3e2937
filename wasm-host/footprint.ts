/**
 * What a module costs in memory beyond its linear memory, read from its sections before anything
 * is compiled: its tables (at their declared maximum, which bounds every `table.grow`) and its
 * compiled code (estimated from its function count and code size). Both isolations check the
 * caps here and charge the cost against the module's memory budget (`limits.memoryPages`), so
 * its linear memory gets what is left; the API checks the same caps at upload.
 *
 * Why before compiling: V8 allocates a declared table in one piece on the JS heap at
 * instantiation (a 10-million-entry table is ~270 MiB, and a failed allocation of that size
 * aborts the whole process, worker or not), and compiles every function eagerly (60,000 empty
 * functions cost ~70 MiB, one 350 KiB function ~100 MiB). Measured on Node 20 / V8 11.
 */
import { ByteReader } from './metering/bytes.js';
import { MeteringRefusal } from './metering/refusal.js';
import { SectionId, readSections, sectionReader } from './metering/sections.js';

const PAGE_BYTES = 65536;

/** Hard caps a module must stay under wherever it runs. Far above what AssemblyScript emits (2 table entries, ~10 functions, ~1-5 KiB of code). */
export interface ModuleCaps {
  /** Entries of all tables together, at their declared maximum (a table must declare one). */
  readonly tableEntries: number;
  readonly functions: number;
  /** Bytes of the code section. */
  readonly codeBytes: number;
  /** Bytes of the largest function body: compile memory grows faster than linearly with it. */
  readonly functionBodyBytes: number;
}

export const DEFAULT_MODULE_CAPS: ModuleCaps = Object.freeze({
  tableEntries: 10_000,
  functions: 10_000,
  codeBytes: 1024 * 1024,
  functionBodyBytes: 64 * 1024,
});

/**
 * Bytes charged per table entry, per function and per byte of code. Measured RSS on Node 20:
 * a funcref entry ~27 B (a heap slot plus the indirect-call dispatch entry); compiled code
 * ~48 B per byte of code for modules like ours and ~1.2 KiB per tiny function.
 */
export const TABLE_ENTRY_COST_BYTES = 32;
export const FUNCTION_COST_BYTES = 1024;
export const CODE_BYTE_COST_BYTES = 48;

export interface ModuleFootprint {
  readonly tableEntries: number;
  readonly functions: number;
  readonly codeBytes: number;
  readonly largestBodyBytes: number;
  /** Tables plus estimated compiled code, in bytes: what the memory budget is charged besides linear memory. */
  readonly overheadBytes: number;
  /** `overheadBytes` in whole pages, rounded up. */
  readonly overheadPages: number;
}

/** Which cap a module oversteps, as data: the API names it, the sandbox formats it. */
export interface CapProblem {
  readonly limit: keyof ModuleCaps | 'tableMaximum' | 'memoryBudget' | 'binary';
  readonly reason: string;
}

function tableLimits(r: ByteReader, what: string): { initial: number; maximum: number | undefined } {
  const flagAt = r.at;
  const flags = r.u8();
  if (flags > 0x01) r.refuse(`${what} has limits flag 0x${flags.toString(16)}`, flagAt);
  const initial = r.u32();
  return { initial, maximum: flags & 0x01 ? r.u32() : undefined };
}

/**
 * Reads tables, functions and code sizes. Throws MeteringRefusal for a binary whose sections do
 * not parse (WebAssembly.validate has usually refused it already). Tables without a maximum
 * count as unbounded (Infinity).
 */
export function moduleFootprint(wasm: Uint8Array): ModuleFootprint {
  const sections = readSections(wasm);
  let tableEntries = 0;
  let functions = 0;
  let codeBytes = 0;
  let largestBodyBytes = 0;
  for (const section of sections) {
    const r = sectionReader(wasm, section);
    if (section.id === SectionId.import) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        r.name();
        r.name();
        const kind = r.u8();
        if (kind === 0x00) r.u32();
        else if (kind === 0x01) {
          r.u8();
          const { maximum } = tableLimits(r, `table import ${i}`);
          tableEntries += maximum ?? Infinity;
        } else if (kind === 0x02) {
          const flags = r.u8();
          r.u32();
          if (flags & 0x01) r.u32();
        } else if (kind === 0x03) r.skip(2);
        else r.refuse(`import ${i} has kind 0x${kind.toString(16)}`);
      }
    } else if (section.id === SectionId.table) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        // 0x40 0x00 starts a table with an initialiser expression (function references), not supported here.
        if (r.bytes[r.at] === 0x40) r.refuse(`table ${i} has an initialiser expression`);
        r.u8();
        const { maximum } = tableLimits(r, `table ${i}`);
        tableEntries += maximum ?? Infinity;
      }
    } else if (section.id === SectionId.function) {
      functions = r.u32();
    } else if (section.id === SectionId.code) {
      codeBytes = section.end - section.start;
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const size = r.u32();
        largestBodyBytes = Math.max(largestBodyBytes, size);
        r.skip(size);
      }
    }
  }
  const overheadBytes = tableEntries * TABLE_ENTRY_COST_BYTES + functions * FUNCTION_COST_BYTES + codeBytes * CODE_BYTE_COST_BYTES;
  return { tableEntries, functions, codeBytes, largestBodyBytes, overheadBytes, overheadPages: Math.ceil(overheadBytes / PAGE_BYTES) };
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/** The first cap `footprint` oversteps, or undefined. */
export function capProblem(footprint: ModuleFootprint, caps: ModuleCaps = DEFAULT_MODULE_CAPS): CapProblem | undefined {
  if (footprint.tableEntries === Infinity) {
    return { limit: 'tableMaximum', reason: `a table declares no maximum size; tables must declare one (at most ${caps.tableEntries} entries in all)` };
  }
  if (footprint.tableEntries > caps.tableEntries) {
    return { limit: 'tableEntries', reason: `its tables declare ${footprint.tableEntries} entries; the cap is ${caps.tableEntries}` };
  }
  if (footprint.functions > caps.functions) {
    return { limit: 'functions', reason: `it defines ${footprint.functions} functions; the cap is ${caps.functions}` };
  }
  if (footprint.codeBytes > caps.codeBytes) {
    return { limit: 'codeBytes', reason: `its code section is ${kib(footprint.codeBytes)}; the cap is ${kib(caps.codeBytes)}` };
  }
  if (footprint.largestBodyBytes > caps.functionBodyBytes) {
    return { limit: 'functionBodyBytes', reason: `a function body is ${kib(footprint.largestBodyBytes)}; the cap is ${kib(caps.functionBodyBytes)}` };
  }
  return undefined;
}

/**
 * The pages of linear memory left once tables and code are charged to a budget of
 * `budgetPages`; undefined with the reason when they leave less than `minimumPages`.
 */
export function linearMemoryPages(footprint: ModuleFootprint, budgetPages: number, minimumPages: number): { pages: number } | CapProblem {
  const pages = budgetPages - footprint.overheadPages;
  if (pages >= Math.max(1, minimumPages)) return { pages };
  return {
    limit: 'memoryBudget',
    reason:
      `its tables and code cost ${kib(footprint.overheadBytes)} (${footprint.overheadPages} pages) of its memory budget of ${budgetPages} pages, ` +
      `leaving ${Math.max(0, pages)} pages of linear memory; it needs ${Math.max(1, minimumPages)}`,
  };
}

/** Footprint and caps together, as one refusal reason or the footprint; for the sandboxes. */
export function checkFootprint(wasm: Uint8Array, caps: ModuleCaps = DEFAULT_MODULE_CAPS): { footprint: ModuleFootprint } | CapProblem {
  let footprint: ModuleFootprint;
  try {
    footprint = moduleFootprint(wasm);
  } catch (error) {
    if (error instanceof MeteringRefusal) return { limit: 'binary', reason: `its sections cannot be read: ${error.message}` };
    throw error;
  }
  return capProblem(footprint, caps) ?? { footprint };
}
