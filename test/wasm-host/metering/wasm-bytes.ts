/**
 * A tiny Wasm binary assembler for tests that need exact bytes (index-shift cases, opcodes the
 * metering rewriter must refuse): LEB128 and vector encoders plus named opcodes.
 */
import { encodeS32, encodeU32 } from '../../../wasm-host/metering/bytes.js';

export type Bytes = number[];

// LEB128 as the rewriter writes it; the rewriter's reader, which these tests exercise, is separate code.
export const u32 = (value: number): Bytes => encodeU32(value);
export const s32 = (value: number): Bytes => encodeS32(value);

export const str = (text: string): Bytes => {
  const raw = [...new TextEncoder().encode(text)];
  return [...u32(raw.length), ...raw];
};
export const vec = (items: Bytes[]): Bytes => [...u32(items.length), ...items.flat()];
export const section = (id: number, payload: Bytes): Bytes => [id, ...u32(payload.length), ...payload];
export const module = (...sections: Bytes[]): Uint8Array<ArrayBuffer> => new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...sections.flat()]);

export const I32 = 0x7f;
export const FUNCREF = 0x70;
export const funcType = (params: Bytes, results: Bytes): Bytes => [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];
/** A code-section entry: size, local groups as [count, type] pairs, the code, its final end. */
export const body = (locals: [number, number][], code: Bytes): Bytes => {
  const inner = [...vec(locals.map(([count, type]) => [...u32(count), type])), ...code, 0x0b];
  return [...u32(inner.length), ...inner];
};
export const importFunc = (mod: string, name: string, type: number): Bytes => [...str(mod), ...str(name), 0x00, ...u32(type)];
export const exportFunc = (name: string, index: number): Bytes => [...str(name), 0x00, ...u32(index)];

export const op = {
  block: (type = 0x40): Bytes => [0x02, type],
  loop: (type = 0x40): Bytes => [0x03, type],
  if: (type = 0x40): Bytes => [0x04, type],
  else: [0x05],
  end: [0x0b],
  br: (depth: number): Bytes => [0x0c, ...u32(depth)],
  brIf: (depth: number): Bytes => [0x0d, ...u32(depth)],
  return: [0x0f],
  call: (index: number): Bytes => [0x10, ...u32(index)],
  callIndirect: (type: number, table = 0): Bytes => [0x11, ...u32(type), ...u32(table)],
  drop: [0x1a],
  localGet: (index: number): Bytes => [0x20, ...u32(index)],
  localSet: (index: number): Bytes => [0x21, ...u32(index)],
  globalGet: (index: number): Bytes => [0x23, ...u32(index)],
  globalSet: (index: number): Bytes => [0x24, ...u32(index)],
  i32Const: (value: number): Bytes => [0x41, ...s32(value)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32LtS: [0x48],
  i32Eqz: [0x45],
  refFunc: (index: number): Bytes => [0xd2, ...u32(index)],
  tableGet: (table = 0): Bytes => [0x25, ...u32(table)],
};
