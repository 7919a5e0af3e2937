/**
 * Rewrites the sections the tick import and fuel global touch: types (the tick signature),
 * imports (tick appended, shared memory optionally unshared), globals (fuel appended), exports
 * (fuel exported, function indices shifted), start, elements and code. A missing section is
 * written from an empty one.
 */
import { ByteReader, ByteWriter, encodeU32 } from './bytes.js';
import { shiftRuns, type CopiedRun } from './offset-map.js';
import { copyConstExpr, rewriteBody, type MeterPlan } from './code.js';
import { isValueType } from './instructions.js';
import { expectEnd } from './sections.js';

export const METER_IMPORT_MODULE = 'wasmfleet_meter';
export const METER_IMPORT_NAME = 'tick';
export const METER_FUEL_EXPORT = '__wf_fuel';

/** The function type `() -> i32` of the tick import. */
const TICK_TYPE = [0x60, 0x00, 0x01, 0x7f];

/** A section payload to read, or undefined when the module lacks the section. */
export type Payload = ByteReader | undefined;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Appends the tick type; returns the new payload, the type's index and each type's parameter count. */
export function rewriteTypes(r: Payload): { payload: Uint8Array; tickType: number; params: number[] } {
  const count = r ? r.u32() : 0;
  const from = r?.at ?? 0;
  const params: number[] = [];
  for (let i = 0; i < count; i++) {
    const form = r!.u8();
    if (form !== 0x60) r!.refuse(`type ${i} has form ${hex(form)} (GC types are not supported by the metering rewriter)`, r!.at - 1);
    for (let list = 0; list < 2; list++) {
      const length = r!.u32();
      if (list === 0) params.push(length);
      for (let j = 0; j < length; j++) {
        const type = r!.u8();
        if (!isValueType(type)) r!.refuse(`type ${i} uses value type ${hex(type)}, not supported by the metering rewriter`, r!.at - 1);
      }
    }
  }
  if (r) expectEnd(r);
  const w = new ByteWriter().u32(count + 1);
  if (r) w.bytes(r.since(from));
  return { payload: w.u8(...TICK_TYPE).finish(), tickType: count, params };
}

export interface ImportSummary {
  readonly functions: number;
  readonly globals: number;
  readonly payload: Uint8Array;
}

function limits(r: ByteReader, what: string, allowShared: boolean): number {
  const flagAt = r.at;
  const flags = r.u8();
  if (flags > (allowShared ? 0x03 : 0x01)) r.refuse(`${what} limits flag ${hex(flags)} is not supported by the metering rewriter`, flagAt);
  r.u32();
  if (flags & 0x01) r.u32();
  return flagAt;
}

/** Appends the tick import; with `unshare`, clears the shared bit of memory imports (0x03 -> 0x01). */
export function rewriteImports(r: Payload, tickType: number, unshare: boolean): ImportSummary {
  const count = r ? r.u32() : 0;
  const from = r?.at ?? 0;
  let functions = 0;
  let globals = 0;
  const sharedFlags: number[] = [];
  for (let i = 0; i < count; i++) {
    const module = r!.name();
    const field = r!.name();
    if (module === METER_IMPORT_MODULE) r!.refuse(`import ${module}.${field}: the binary is already metered (or imports the meter's reserved module)`);
    const kindAt = r!.at;
    const kind = r!.u8();
    switch (kind) {
      case 0x00:
        r!.u32();
        functions++;
        break;
      case 0x01: {
        const type = r!.u8();
        if (type !== 0x70 && type !== 0x6f) r!.refuse(`table import ${module}.${field} has element type ${hex(type)}, not supported by the metering rewriter`, r!.at - 1);
        limits(r!, `table import ${module}.${field}`, false);
        break;
      }
      case 0x02: {
        const flagAt = limits(r!, `memory import ${module}.${field}`, true);
        if ((r!.bytes[flagAt]! & 0x02) !== 0) sharedFlags.push(flagAt);
        break;
      }
      case 0x03: {
        const type = r!.u8();
        const mutability = r!.u8();
        if (!isValueType(type) || mutability > 1) r!.refuse(`global import ${module}.${field} has type ${hex(type)} ${hex(mutability)}, not supported by the metering rewriter`, r!.at - 2);
        globals++;
        break;
      }
      default:
        r!.refuse(`import ${module}.${field} has kind ${hex(kind)} (tags and others are not supported by the metering rewriter)`, kindAt);
    }
  }
  if (r) expectEnd(r);
  const w = new ByteWriter().u32(count + 1);
  if (r) {
    const entries = r.since(from).slice();
    if (unshare) for (const at of sharedFlags) entries[at - from]! &= ~0x02;
    w.bytes(entries);
  }
  w.name(METER_IMPORT_MODULE).name(METER_IMPORT_NAME).u8(0x00).u32(tickType);
  return { functions, globals, payload: w.finish() };
}

/** How many entries a vector-shaped section declares (0 when absent). */
export function declaredCount(r: Payload): number {
  if (!r) return 0;
  const at = r.at;
  const count = r.u32();
  r.at = at;
  return count;
}

/** Shifts `ref.func` in initialisers and appends the fuel global: mutable i32, initially 0. */
export function rewriteGlobals(r: Payload, plan: MeterPlan): Uint8Array {
  const count = r ? r.u32() : 0;
  const w = new ByteWriter().u32(count + 1);
  for (let i = 0; i < count; i++) {
    const typeAt = r!.at;
    const type = r!.u8();
    const mutability = r!.u8();
    if (!isValueType(type) || mutability > 1) r!.refuse(`global ${i} has type ${hex(type)} ${hex(mutability)}, not supported by the metering rewriter`, typeAt);
    w.u8(type, mutability);
    copyConstExpr(r!, w, plan);
  }
  if (r) expectEnd(r);
  return w.u8(0x7f, 0x01, 0x41, 0x00, 0x0b).finish();
}

/** Shifts exported function indices and exports the fuel global. */
export function rewriteExports(r: Payload, plan: MeterPlan): Uint8Array {
  const count = r ? r.u32() : 0;
  const w = new ByteWriter().u32(count + 1);
  for (let i = 0; i < count; i++) {
    const name = r!.name();
    if (name === METER_FUEL_EXPORT) r!.refuse(`the binary already exports '${name}', the meter's reserved export name`);
    const kindAt = r!.at;
    const kind = r!.u8();
    if (kind > 0x03) r!.refuse(`export '${name}' has kind ${hex(kind)}, not supported by the metering rewriter`, kindAt);
    const index = r!.u32();
    w.name(name).u8(kind).u32(kind === 0x00 ? plan.remap(index) : index);
  }
  if (r) expectEnd(r);
  return w.name(METER_FUEL_EXPORT).u8(0x03).u32(plan.fuelGlobal).finish();
}

export function rewriteStart(r: ByteReader, plan: MeterPlan): Uint8Array {
  const index = r.u32();
  expectEnd(r);
  return new ByteWriter().u32(plan.remap(index)).finish();
}

/** Element segments in all eight encodings; function indices and `ref.func` items shifted. */
export function rewriteElements(r: ByteReader, plan: MeterPlan): Uint8Array {
  const count = r.u32();
  const w = new ByteWriter().u32(count);
  for (let i = 0; i < count; i++) {
    const flagsAt = r.at;
    const flags = r.u32();
    if (flags > 7) r.refuse(`element segment ${i} has flags ${flags}, not supported by the metering rewriter`, flagsAt);
    w.u32(flags);
    const active = (flags & 0x01) === 0;
    const explicitTable = (flags & 0x02) !== 0;
    const expressions = (flags & 0x04) !== 0;
    if (active && explicitTable) w.u32(r.u32()); // table index
    if (active) copyConstExpr(r, w, plan); // offset
    if (!active || explicitTable) {
      const kind = r.u8(); // elemkind 0x00 for indices, a reference type for expressions
      const ok = expressions ? kind === 0x70 || kind === 0x6f : kind === 0x00;
      if (!ok) r.refuse(`element segment ${i} has element type ${hex(kind)}, not supported by the metering rewriter`, r.at - 1);
      w.u8(kind);
    }
    const items = r.u32();
    w.u32(items);
    for (let j = 0; j < items; j++) {
      if (expressions) copyConstExpr(r, w, plan);
      else w.u32(plan.remap(r.u32()));
    }
  }
  expectEnd(r);
  return w.finish();
}

export interface RewrittenCode {
  readonly payload: Uint8Array;
  readonly checkpoints: number;
  /** Length charges before bulk memory and table instructions and memory.grow. */
  readonly charges: number;
  /** The `metadata.code.branch_hint` payload: every checkpoint's branch marked unlikely. */
  readonly branchHints: Uint8Array;
  /** The original code's runs, `to` relative to `payload`. */
  readonly copied: CopiedRun[];
}

/** The parameter count of each declared function, from the function section and the types' parameter counts. */
export function functionParams(r: Payload, typeParams: readonly number[]): number[] {
  const count = r ? r.u32() : 0;
  const params: number[] = [];
  for (let i = 0; i < count; i++) {
    const typeAt = r!.at;
    const type = r!.u32();
    const length = typeParams[type];
    if (length === undefined) return r!.refuse(`function ${i} has type ${type}, beyond the ${typeParams.length} types`, typeAt);
    params.push(length);
  }
  if (r) expectEnd(r);
  return params;
}

/** Rewrites every function body; returns the new payload, how many checkpoints went in and their hints. */
export function rewriteCode(r: ByteReader, plan: MeterPlan, importedFunctions: number, params: readonly number[]): RewrittenCode {
  const declaredFunctions = params.length;
  const count = r.u32();
  if (count !== declaredFunctions) r.refuse(`${count} function bodies for ${declaredFunctions} declared functions`, r.at);
  const w = new ByteWriter().u32(count);
  const hints = new ByteWriter().u32(count);
  let checkpoints = 0;
  let charges = 0;
  const copied: CopiedRun[] = [];
  for (let i = 0; i < count; i++) {
    const size = r.u32();
    const start = r.at;
    r.skip(size);
    const body = rewriteBody(r.bytes, start, r.at, `function ${importedFunctions + i}`, plan, params[i]!);
    checkpoints += body.checkpoints;
    charges += body.charges;
    copied.push(...shiftRuns(body.copied, w.length + encodeU32(body.bytes.length).length));
    w.sized(body.bytes);
    // Hint entries: function index (after the shift), then (offset, size 1, 0x00 = unlikely).
    hints.u32(plan.remap(importedFunctions + i)).u32(body.unlikely.length);
    for (const at of body.unlikely) hints.u32(at).u32(1).u8(0x00);
  }
  expectEnd(r);
  return { payload: w.finish(), checkpoints, charges, branchHints: hints.finish(), copied };
}
