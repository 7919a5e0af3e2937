/**
 * Rewrites function bodies and constant expressions: shifts function indices past the tick
 * import and inserts a fuel checkpoint at every function entry and at the top of every loop body.
 */
import { ByteReader, ByteWriter, encodeS32, encodeU32 } from './bytes.js';
import { Op, isValueType, readInstruction, type FuncRef } from './instructions.js';
import type { CopiedRun } from './offset-map.js';

/** What the rewritten code refers to: the fuel global, the tick import, the function index map. */
export interface MeterPlan {
  readonly fuelGlobal: number;
  readonly tickFunction: number;
  /** Old function index -> new function index. */
  remap(index: number): number;
}

export interface Checkpoint {
  readonly bytes: number[];
  /** Offset of its `if` in `bytes`: the one branch, rarely taken, that the hint section names. */
  readonly ifAt: number;
}

/**
 * `fuel -= weight; if (fuel < 0) fuel = tick();` as instructions. It leaves the operand stack as
 * it found it, so it can sit anywhere an instruction sequence starts.
 */
export function checkpointBytes(plan: MeterPlan, weight: number): Checkpoint {
  const fuel = encodeU32(plan.fuelGlobal);
  const test = [
    0x23, ...fuel, // global.get fuel
    0x41, ...encodeS32(weight), // i32.const weight
    0x6b, // i32.sub
    0x24, ...fuel, // global.set fuel
    0x23, ...fuel, // global.get fuel
    0x41, 0x00, // i32.const 0
    0x48, // i32.lt_s
  ];
  return {
    bytes: [
      ...test,
      0x04, 0x40, // if (empty)
      0x10, ...encodeU32(plan.tickFunction), // call tick
      0x24, ...fuel, // global.set fuel
      0x0b, // end
    ],
    ifAt: test.length,
  };
}

/**
 * How an instruction whose cost grows with its length operand is charged: that operand (an
 * unsigned i32 on top of the stack) is clamped to `cap`, then shifted to fuel. One fuel unit is
 * about half a nanosecond of typical code (deadline.ts: 100,000 per ~50 µs), so:
 *  - bytes of memory.fill/copy/init: 1 fuel per 4 bytes (V8 moves ~8-20 bytes per ns);
 *  - entries of table.fill/copy/init/grow: 16 fuel per entry (each goes through the runtime and
 *    updates the indirect-call dispatch table too);
 *  - pages of memory.grow: 16,384 fuel per 64 KiB page (zeroing, as memory.fill).
 * The clamps keep every charge below 2^30, so `fuel - charge` never wraps around.
 */
const LENGTH_CHARGES = {
  [Op.MemoryBytes]: { cap: 2 ** 30, shift: -2 },
  [Op.TableEntries]: { cap: 2 ** 24, shift: 4 },
  [Op.MemoryPages]: { cap: 2 ** 16, shift: 14 },
} as const;
type ChargedOp = keyof typeof LENGTH_CHARGES;

const isCharged = (op: Op): op is ChargedOp => op === Op.MemoryBytes || op === Op.TableEntries || op === Op.MemoryPages;

/**
 * `fuel -= charge(length); if (fuel < 0) fuel = tick();` with the length kept on the stack: it
 * is teed into the function's scratch local `scratch` first.
 */
export function lengthCheckpointBytes(plan: MeterPlan, scratch: number, op: ChargedOp): Checkpoint {
  const fuel = encodeU32(plan.fuelGlobal);
  const local = encodeU32(scratch);
  const { cap, shift } = LENGTH_CHARGES[op];
  const test = [
    0x22, ...local, // local.tee scratch (the length stays on the stack)
    0x23, ...fuel, // global.get fuel
    0x20, ...local, 0x41, ...encodeS32(cap), 0x20, ...local, 0x41, ...encodeS32(cap), 0x49, 0x1b, // min_u(length, cap)
    0x41, ...encodeS32(Math.abs(shift)), shift < 0 ? 0x76 : 0x74, // i32.shr_u or i32.shl
    0x6b, // i32.sub
    0x24, ...fuel, // global.set fuel
    0x23, ...fuel, // global.get fuel
    0x41, 0x00, // i32.const 0
    0x48, // i32.lt_s
  ];
  return {
    bytes: [...test, 0x04, 0x40, 0x10, ...encodeU32(plan.tickFunction), 0x24, ...fuel, 0x0b],
    ifAt: test.length,
  };
}

/**
 * A change to the original bytes: [at, end) replaced by a new index, or a checkpoint inserted
 * at `at` (a region's, or a length charge before the instruction at `at`).
 */
interface Edit {
  readonly at: number;
  readonly end: number;
  readonly index?: number;
  readonly region?: number;
  readonly charge?: ChargedOp;
}

export interface RewrittenBody {
  readonly bytes: Uint8Array;
  readonly checkpoints: number;
  /** Length charges inserted before bulk memory and table instructions and memory.grow. */
  readonly charges: number;
  /** Offsets in `bytes` (locals included) of the checkpoints' `if` instructions. */
  readonly unlikely: number[];
  /** The original instructions' runs: `to` relative to `bytes`, `from` absolute in `module`. */
  readonly copied: CopiedRun[];
}

/**
 * Rewrites the body spanning [start, end) of `module` (locals and expression, without its size).
 * `label` names the function in refusals.
 */
export function rewriteBody(module: Uint8Array, start: number, end: number, label: string, plan: MeterPlan, params: number): RewrittenBody {
  const r = new ByteReader(module, start, end, label);
  const groups = r.u32();
  const groupsAt = r.at;
  let locals = params;
  for (let i = 0; i < groups; i++) {
    locals += r.u32();
    const type = r.u8();
    if (!isValueType(type)) r.refuse(`local type 0x${type.toString(16)} is not supported by the metering rewriter`, r.at - 1);
  }
  const localsEnd = r.at;

  // Region 0 is the function body; each loop opens a region for its own body. A region's
  // weight counts the instructions it runs straight through, nested loop bodies excluded.
  const weights = [0];
  const edits: Edit[] = [{ at: r.at, end: r.at, region: 0 }];
  const regionOf: number[] = [0]; // per open block: the region its instructions count to
  const funcRef: FuncRef = { start: 0, end: 0, index: 0 };
  while (regionOf.length > 0) {
    if (r.done) r.refuse('function body ends inside an open block');
    const region = regionOf[regionOf.length - 1]!;
    weights[region]! += 1;
    const at = r.at;
    const op = readInstruction(r, funcRef);
    if (isCharged(op)) edits.push({ at, end: at, charge: op });
    switch (op) {
      case Op.Loop:
        weights.push(0);
        edits.push({ at: r.at, end: r.at, region: weights.length - 1 });
        regionOf.push(weights.length - 1);
        break;
      case Op.Block:
      case Op.If:
        regionOf.push(region);
        break;
      case Op.End:
        regionOf.pop();
        break;
      case Op.Call:
      case Op.RefFunc:
        edits.push({ at: funcRef.start, end: funcRef.end, index: plan.remap(funcRef.index) });
        break;
    }
  }
  if (r.at !== end) r.refuse(`function body continues ${end - r.at} bytes after its final end`);

  const w = new ByteWriter();
  const unlikely: number[] = [];
  const runs: CopiedRun[] = [];
  let copied = start;
  // A length charge needs one scratch i32 local, declared after all others.
  const charges = edits.some((edit) => edit.charge !== undefined);
  if (charges) {
    w.u32(groups + 1).bytes(module.subarray(groupsAt, localsEnd)).u32(1).u8(0x7f);
    copied = localsEnd;
  }
  for (const edit of edits) {
    runs.push({ to: w.length, from: copied, length: edit.at - copied });
    w.bytes(module.subarray(copied, edit.at));
    if (edit.region !== undefined || edit.charge !== undefined) {
      const checkpoint = edit.charge !== undefined ? lengthCheckpointBytes(plan, locals, edit.charge) : checkpointBytes(plan, Math.max(1, weights[edit.region!]!));
      unlikely.push(w.length + checkpoint.ifAt);
      w.u8(...checkpoint.bytes);
    } else {
      runs.push({ to: w.length, from: edit.at, length: 0 });
      w.u32(edit.index!);
    }
    copied = edit.end;
  }
  runs.push({ to: w.length, from: copied, length: end - copied });
  w.bytes(module.subarray(copied, end));
  return { bytes: w.finish(), checkpoints: weights.length, charges: edits.filter((edit) => edit.charge !== undefined).length, unlikely, copied: runs };
}

/**
 * Copies a constant expression (global initialiser, segment offset, element item) up to and
 * including its final `end`, shifting `ref.func` indices.
 */
export function copyConstExpr(r: ByteReader, w: ByteWriter, plan: MeterPlan): void {
  const funcRef: FuncRef = { start: 0, end: 0, index: 0 };
  let depth = 1;
  let copied = r.at;
  while (depth > 0) {
    switch (readInstruction(r, funcRef)) {
      case Op.Block:
      case Op.Loop:
      case Op.If:
        depth++;
        break;
      case Op.End:
        depth--;
        break;
      case Op.Call:
      case Op.RefFunc:
        w.bytes(r.bytes.subarray(copied, funcRef.start)).u32(plan.remap(funcRef.index));
        copied = funcRef.end;
        break;
    }
  }
  w.bytes(r.bytes.subarray(copied, r.at));
}
