/**
 * Decodes one instruction with all its immediates, so the rewriter knows exactly where each
 * instruction ends. Supported: MVP, sign extension, non-trapping float-to-int, bulk memory and
 * table (0xFC), reference types, SIMD (0xFD) and threads (0xFE). Anything else is refused with
 * the opcode named: the rewriter never copies bytes it could not walk.
 */
import type { ByteReader } from './bytes.js';

/** What the walker needs to know about an instruction beyond its length. */
export const enum Op {
  Other,
  Block,
  Loop,
  If,
  Else,
  End,
  /** `call f`: the function index immediate is at `funcRef`. */
  Call,
  /** `ref.func f`: the function index immediate is at `funcRef`. */
  RefFunc,
  /** memory.fill/copy/init: the i32 on top of the stack is a length in bytes. */
  MemoryBytes,
  /** table.fill/copy/init/grow: the i32 on top of the stack is a count of table entries. */
  TableEntries,
  /** memory.grow: the i32 on top of the stack is a count of pages. */
  MemoryPages,
}

/** Where a function-index immediate sits, filled by `readInstruction` for Call and RefFunc. */
export interface FuncRef {
  start: number;
  end: number;
  index: number;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** Opcodes of proposals the rewriter does not support, named so the refusal can say which. */
const UNSUPPORTED: Record<number, string> = {
  0x06: 'try (exception handling)',
  0x07: 'catch (exception handling)',
  0x08: 'throw (exception handling)',
  0x09: 'rethrow (exception handling)',
  0x0a: 'throw_ref (exception handling)',
  0x12: 'return_call (tail calls)',
  0x13: 'return_call_indirect (tail calls)',
  0x14: 'call_ref (typed function references)',
  0x15: 'return_call_ref (tail calls)',
  0x18: 'delegate (exception handling)',
  0x19: 'catch_all (exception handling)',
  0x1f: 'try_table (exception handling)',
  0xd3: 'ref.eq (GC)',
  0xd4: 'ref.as_non_null (typed function references)',
  0xd5: 'br_on_null (typed function references)',
  0xd6: 'br_on_non_null (typed function references)',
  0xfb: 'GC prefix',
};

/** Value types the rewriter accepts: numbers, v128, funcref, externref. */
export function isValueType(byte: number): boolean {
  return (byte >= 0x7b && byte <= 0x7f) || byte === 0x70 || byte === 0x6f;
}

export function refuseInstruction(r: ByteReader, start: number, opcode: string, what = 'not supported by the metering rewriter'): never {
  return r.refuse(`instruction ${opcode}: ${what}`, start);
}

function blockType(r: ByteReader, start: number, opcode: number): void {
  const first = r.bytes[r.at];
  if (first === 0x40 || (first !== undefined && isValueType(first))) {
    r.at++;
    return;
  }
  if (first !== undefined && first >= 0x40 && first < 0x80) {
    refuseInstruction(r, start, hex(opcode), `block type ${hex(first)} is not supported by the metering rewriter`);
  }
  const index = r.s(33);
  if (index < 0) refuseInstruction(r, start, hex(opcode), `negative block type index ${index}`);
}

function memarg(r: ByteReader, start: number, opcode: string): void {
  const align = r.u32();
  // Bit 6 announces an explicit memory index (multi-memory), which the host never provides.
  if (align >= 0x40) refuseInstruction(r, start, opcode, 'memory index immediate (multi-memory) is not supported by the metering rewriter');
  r.u32();
}

function zeroByte(r: ByteReader, start: number, opcode: string): void {
  const b = r.u8();
  if (b !== 0) refuseInstruction(r, start, opcode, `memory/table index ${b} (multi-memory) is not supported by the metering rewriter`);
}

/** SIMD opcodes below 0x100 that the final SIMD spec leaves unassigned. */
const SIMD_GAPS = new Set([0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee]);

function simd(r: ByteReader, start: number): void {
  const sub = r.u32();
  const name = `0xfd ${hex(sub)}`;
  if (sub <= 0x0b || sub === 0x5c || sub === 0x5d) return memarg(r, start, name); // loads, store, load_zero
  if (sub === 0x0c || sub === 0x0d) return r.skip(16); // v128.const, i8x16.shuffle
  if (sub >= 0x15 && sub <= 0x22) return r.skip(1); // extract/replace lane
  if (sub >= 0x54 && sub <= 0x5b) {
    memarg(r, start, name); // load/store lane
    return r.skip(1);
  }
  if (sub <= 0xff && !SIMD_GAPS.has(sub)) return; // the rest carry no immediate
  refuseInstruction(r, start, name);
}

/** Reads a 0xFC instruction; tells which ones take a length operand on top of the stack. */
function bulk(r: ByteReader, start: number): Op {
  const sub = r.u32();
  const name = `0xfc ${hex(sub)}`;
  if (sub <= 7) return Op.Other; // trunc_sat
  switch (sub) {
    case 8: // memory.init data
      r.u32();
      zeroByte(r, start, name);
      return Op.MemoryBytes;
    case 9: // data.drop
    case 13: // elem.drop
    case 16: // table.size
      r.u32();
      return Op.Other;
    case 15: // table.grow
    case 17: // table.fill
      r.u32();
      return Op.TableEntries;
    case 10: // memory.copy
      zeroByte(r, start, name);
      zeroByte(r, start, name);
      return Op.MemoryBytes;
    case 11: // memory.fill
      zeroByte(r, start, name);
      return Op.MemoryBytes;
    case 12: // table.init elem table
    case 14: // table.copy table table
      r.u32();
      r.u32();
      return Op.TableEntries;
    default:
      return refuseInstruction(r, start, name);
  }
}

function atomic(r: ByteReader, start: number): void {
  const sub = r.u32();
  const name = `0xfe ${hex(sub)}`;
  if (sub <= 0x02 || (sub >= 0x10 && sub <= 0x4e)) return memarg(r, start, name);
  if (sub === 0x03) return zeroByte(r, start, name); // atomic.fence
  refuseInstruction(r, start, name);
}

/** Reads one instruction at `r.at`, leaving `r.at` after its immediates. */
export function readInstruction(r: ByteReader, funcRef: FuncRef): Op {
  const start = r.at;
  const op = r.u8();
  switch (op) {
    case 0x02:
      blockType(r, start, op);
      return Op.Block;
    case 0x03:
      blockType(r, start, op);
      return Op.Loop;
    case 0x04:
      blockType(r, start, op);
      return Op.If;
    case 0x05:
      return Op.Else;
    case 0x0b:
      return Op.End;
    case 0x10:
    case 0xd2:
      funcRef.start = r.at;
      funcRef.index = r.u32();
      funcRef.end = r.at;
      return op === 0x10 ? Op.Call : Op.RefFunc;
  }
  if (op <= 0x01 || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) || op === 0xd1) {
    return Op.Other; // no immediate
  }
  if (op === 0x0c || op === 0x0d || (op >= 0x20 && op <= 0x26)) {
    r.u32(); // br, br_if, local.*, global.*, table.get/set
    return Op.Other;
  }
  if (op >= 0x28 && op <= 0x3e) {
    memarg(r, start, hex(op));
    return Op.Other;
  }
  switch (op) {
    case 0x0e: {
      const labels = r.u32();
      for (let i = 0; i <= labels; i++) r.u32();
      return Op.Other;
    }
    case 0x11: // call_indirect type table
      r.u32();
      r.u32();
      return Op.Other;
    case 0x1c: {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const type = r.u8();
        if (!isValueType(type)) refuseInstruction(r, start, hex(op), `select type ${hex(type)} is not supported by the metering rewriter`);
      }
      return Op.Other;
    }
    case 0x3f:
      zeroByte(r, start, hex(op));
      return Op.Other;
    case 0x40:
      zeroByte(r, start, hex(op));
      return Op.MemoryPages;
    case 0x41:
      r.s(32);
      return Op.Other;
    case 0x42:
      r.s(64);
      return Op.Other;
    case 0x43:
      r.skip(4);
      return Op.Other;
    case 0x44:
      r.skip(8);
      return Op.Other;
    case 0xd0: {
      const type = r.u8();
      if (type !== 0x70 && type !== 0x6f) refuseInstruction(r, start, hex(op), `ref.null type ${hex(type)} is not supported by the metering rewriter`);
      return Op.Other;
    }
    case 0xfc:
      return bulk(r, start);
    case 0xfd:
      simd(r, start);
      return Op.Other;
    case 0xfe:
      atomic(r, start);
      return Op.Other;
  }
  const known = UNSUPPORTED[op];
  return refuseInstruction(r, start, hex(op), known ? `${known} is not supported by the metering rewriter` : 'unknown opcode, not supported by the metering rewriter');
}
