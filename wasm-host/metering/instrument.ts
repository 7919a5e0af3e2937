/**
 * Rewrites a verified module so it meters its own CPU use: walks every section, lets each
 * rewriter produce its new payload, and reassembles the binary in the spec's section order.
 */
import { ByteReader, ByteWriter, encodeU32 } from './bytes.js';
import { CodeOffsetMap, shiftRuns, type CopiedRun } from './offset-map.js';
import type { MeterPlan } from './code.js';
import {
  declaredCount,
  functionParams,
  rewriteCode,
  rewriteElements,
  rewriteExports,
  rewriteGlobals,
  rewriteImports,
  rewriteStart,
  rewriteTypes,
  type Payload,
} from './module-sections.js';
import { rewriteNames } from './names.js';
import { MeteringRefusal } from './refusal.js';
import { SECTION_ORDER, SectionId, readSections, sectionReader, writeSection, type Section } from './sections.js';

export interface MeteredBinary {
  readonly wasm: Uint8Array<ArrayBuffer>;
  /** Checkpoints inserted: one per function body and one per loop. */
  readonly checkpoints: number;
  /** Length charges inserted: one before each bulk memory or table instruction and each memory.grow. */
  readonly charges: number;
  /** Offsets in `wasm` back to offsets in the original binary, for a trap's source line (wasm-host/source-locator.ts). */
  readonly codeOffsets: CodeOffsetMap;
}

export interface MeteringOptions {
  /** Turn an imported shared memory into an unshared one (nothing else writes it on the agent's thread). */
  readonly unshareMemory?: boolean;
}

/**
 * Code metadata marking every checkpoint's branch as rarely taken, so an engine that reads it
 * lays the tick call out of line and keeps it out of the loop's register allocation (V8 does
 * with --experimental-wasm-branch-hinting; see deadline.ts). An engine that does not ignores it.
 */
const BRANCH_HINT_SECTION = 'metadata.code.branch_hint';

/** Sections the rewritten module always has, created empty-then-extended when missing. */
const ALWAYS_PRESENT: readonly number[] = [SectionId.type, SectionId.import, SectionId.global, SectionId.export];

export function instrumentForMetering(wasm: Uint8Array, options: MeteringOptions = {}): MeteredBinary {
  if (!(wasm instanceof Uint8Array)) throw new MeteringRefusal('module bytes must be a Uint8Array');
  const sections = readSections(wasm);
  const find = (id: number): Section | undefined => sections.find((s) => s.id === id);
  const reader = (id: number): Payload => {
    const section = find(id);
    return section && sectionReader(wasm, section);
  };

  const types = rewriteTypes(reader(SectionId.type));
  const imports = rewriteImports(reader(SectionId.import), types.tickType, options.unshareMemory === true);
  const plan: MeterPlan = {
    fuelGlobal: imports.globals + declaredCount(reader(SectionId.global)),
    tickFunction: imports.functions,
    remap: (index) => (index < imports.functions ? index : index + 1),
  };
  const params = functionParams(reader(SectionId.function), types.params);
  const declaredFunctions = params.length;
  const payloads = new Map<number, Uint8Array>([
    [SectionId.type, types.payload],
    [SectionId.import, imports.payload],
    [SectionId.global, rewriteGlobals(reader(SectionId.global), plan)],
    [SectionId.export, rewriteExports(reader(SectionId.export), plan)],
  ]);
  const start = reader(SectionId.start);
  if (start) payloads.set(SectionId.start, rewriteStart(start, plan));
  const elements = reader(SectionId.element);
  if (elements) payloads.set(SectionId.element, rewriteElements(elements, plan));
  const code = reader(SectionId.code);
  let checkpoints = 0;
  let charges = 0;
  let branchHints: Uint8Array | undefined;
  let copied: CopiedRun[] = [];
  if (code) {
    const rewritten = rewriteCode(code, plan, imports.functions, params);
    payloads.set(SectionId.code, rewritten.payload);
    checkpoints = rewritten.checkpoints;
    charges = rewritten.charges;
    branchHints = rewritten.branchHints;
    copied = rewritten.copied;
  } else if (declaredFunctions > 0) {
    throw new MeteringRefusal(`function section declares ${declaredFunctions} functions but the code section is missing`);
  }

  const dataCount = reader(SectionId.dataCount);
  if (dataCount && dataCount.u32() !== declaredCount(reader(SectionId.data))) {
    throw new MeteringRefusal('data count section disagrees with the number of data segments');
  }

  const out = new ByteWriter().bytes(wasm.subarray(0, 8));
  const missing = ALWAYS_PRESENT.filter((id) => !find(id));
  const writeMissingBefore = (rank: number): void => {
    while (missing.length > 0 && SECTION_ORDER.indexOf(missing[0]!) < rank) {
      const id = missing.shift()!;
      writeSection(out, id, payloads.get(id)!);
    }
  };
  for (const section of sections) {
    if (section.id === SectionId.custom) {
      writeCustom(out, wasm, section, plan);
      continue;
    }
    writeMissingBefore(SECTION_ORDER.indexOf(section.id));
    // The hints must precede the code they describe.
    if (section.id === SectionId.code && branchHints) writeSection(out, SectionId.custom, new ByteWriter().name(BRANCH_HINT_SECTION).bytes(branchHints).finish());
    const payload = payloads.get(section.id) ?? wasm.subarray(section.start, section.end);
    // The payload starts after the section's id byte and its size.
    if (section.id === SectionId.code) copied = shiftRuns(copied, out.length + 1 + encodeU32(payload.length).length);
    writeSection(out, section.id, payload);
  }
  writeMissingBefore(Infinity);
  return { wasm: out.finish(), checkpoints, charges, codeOffsets: new CodeOffsetMap(copied) };
}

function writeCustom(out: ByteWriter, wasm: Uint8Array, section: Section, plan: MeterPlan): void {
  const r = new ByteReader(wasm, section.start, section.end, 'custom section');
  const name = r.name();
  if (name !== 'name') {
    writeSection(out, SectionId.custom, wasm.subarray(section.start, section.end));
    return;
  }
  const names = rewriteNames(wasm, r.at, section.end, plan.remap);
  if (names) writeSection(out, SectionId.custom, new ByteWriter().name('name').bytes(names).finish());
}
