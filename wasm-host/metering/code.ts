/**
 * Rewrites function bodies and constant expressions: shifts function indices past the tick
 * import and inserts a fuel checkpoint at every function entry and at the top of every loop body.
 */
import { ByteReader, ByteWriter, encodeS32, encodeU32 } from './bytes.js';
import { Op, isValueType, readInstruction, type FuncRef } from './instructions.js';

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

/** A change to the original bytes: [at, end) replaced by a new index, or a checkpoint inserted at `at`. */
interface Edit {
  readonly at: number;
  readonly end: number;
  readonly index?: number;
  readonly region?: number;
}

export interface RewrittenBody {
  readonly bytes: Uint8Array;
  readonly checkpoints: number;
  /** Offsets in `bytes` (locals included) of the checkpoints' `if` instructions. */
  readonly unlikely: number[];
}

/**
 * Rewrites the body spanning [start, end) of `module` (locals and expression, without its size).
 * `label` names the function in refusals.
 */
export function rewriteBody(module: Uint8Array, start: number, end: number, label: string, plan: MeterPlan): RewrittenBody {
  const r = new ByteReader(module, start, end, label);
  const groups = r.u32();
  for (let i = 0; i < groups; i++) {
    r.u32();
    const type = r.u8();
    if (!isValueType(type)) r.refuse(`local type 0x${type.toString(16)} is not supported by the metering rewriter`, r.at - 1);
  }

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
    switch (readInstruction(r, funcRef)) {
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
  let copied = start;
  for (const edit of edits) {
    w.bytes(module.subarray(copied, edit.at));
    if (edit.region !== undefined) {
      const checkpoint = checkpointBytes(plan, Math.max(1, weights[edit.region]!));
      unlikely.push(w.length + checkpoint.ifAt);
      w.u8(...checkpoint.bytes);
    } else w.u32(edit.index!);
    copied = edit.end;
  }
  w.bytes(module.subarray(copied, end));
  return { bytes: w.finish(), checkpoints: weights.length, unlikely };
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
