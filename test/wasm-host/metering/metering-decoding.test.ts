/**
 * What the metering rewriter decodes and what it refuses: instructions of every supported
 * proposal pass through intact; truncated or random bytes, unknown opcodes and unsupported
 * proposals (exceptions, tail calls, GC, multi-memory) are refused with a readable reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeteringRefusal, instrumentForMetering } from '../../../wasm-host/metering/index.js';
import { ensureBuilt, exampleModuleDirs } from '../../../modules-as/tools/build-examples.js';
import { FUNCREF, I32, body, exportFunc, funcType, module, op, section, str, u32, vec, type Bytes } from './wasm-bytes.js';

const V128 = 0x7b;
const simd = (sub: number, ...immediates: number[]): Bytes => [0xfd, ...u32(sub), ...immediates];
const lanes = (): Bytes => Array.from({ length: 16 }, (_, i) => i);

/** One function `() -> ()` with `code`, a shared memory import, a table and a passive data segment. */
function withBody(code: Bytes): Uint8Array<ArrayBuffer> {
  return module(
    section(1, vec([funcType([], [])])),
    section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x03, 1, 1]])),
    section(3, vec([[0]])),
    section(4, vec([[FUNCREF, 0x00, 1]])),
    section(7, vec([exportFunc('run', 0)])),
    section(12, u32(1)),
    section(10, vec([body([[1, I32], [1, V128]], code)])),
    section(11, vec([[0x01, ...vec([[1], [2]])]])),
  );
}

function refusal(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof MeteringRefusal, `expected a MeteringRefusal, got ${String(error)}`);
    assert.equal(error.code, 'WF_METERING_REFUSED');
    assert.match(error.message, pattern);
    return true;
  };
}

test('instructions of every supported proposal are decoded and kept intact', async () => {
  const code: Bytes = [
    // MVP: typed block by type index, br_table, 64-bit and float constants, typed select.
    0x02, 0x00, ...op.i32Const(1), 0x0e, ...vec([u32(0), u32(0)]), 0, ...op.end,
    0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x1a, // i64.const -2^63 (10 bytes)
    0x43, 0, 0, 0x80, 0x3f, 0x1a, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a,
    ...op.i32Const(1), ...op.i32Const(2), ...op.i32Const(0), 0x1c, ...vec([[I32]]), 0x1a,
    // Sign extension and non-trapping float-to-int.
    ...op.i32Const(-1), 0xc0, 0x1a, 0x43, 0, 0, 0, 0, 0xfc, 0x00, 0x1a,
    // Reference types.
    0xd0, FUNCREF, 0xd1, 0x1a, ...op.i32Const(0), ...op.tableGet(), 0x1a, 0xfc, 16, 0, 0x1a,
    // Bulk memory.
    ...op.i32Const(0), ...op.i32Const(0), ...op.i32Const(2), 0xfc, 8, 0, 0, 0xfc, 9, 0,
    ...op.i32Const(8), ...op.i32Const(0), ...op.i32Const(4), 0xfc, 10, 0, 0,
    ...op.i32Const(0), ...op.i32Const(7), ...op.i32Const(4), 0xfc, 11, 0,
    // SIMD: memarg load, const, shuffle, lane ops, load lane, multi-byte sub-opcodes.
    ...op.i32Const(0), ...simd(0x00, 4, 0), ...simd(0x0c, ...lanes()), ...simd(0x0d, ...lanes()),
    ...simd(0x1b, 3), 0x1a,
    ...op.i32Const(0), ...simd(0x0c, ...lanes()), ...simd(0x56, 2, 0, 1), 0x21, 1, ...op.localGet(1),
    ...simd(0x0c, ...lanes()), ...simd(0x82), ...simd(0xff), ...simd(0x53), 0x1a,
    ...op.i32Const(0), ...simd(0x5d, 3, 0), 0x1a,
    // Threads.
    ...op.i32Const(0), 0xfe, 0x10, 2, 0, 0x1a, 0xfe, 0x03, 0x00,
    ...op.i32Const(0), ...op.i32Const(1), 0xfe, 0x00, 2, 0, 0x1a,
    ...op.i32Const(4), ...op.i32Const(0), ...op.i32Const(5), 0xfe, 0x48, 2, 0, 0x1a,
  ];
  const original = withBody(code);
  assert.ok(WebAssembly.validate(original), 'the test module itself is valid');
  const metered = instrumentForMetering(original);
  assert.ok(WebAssembly.validate(metered.wasm));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const { instance } = await WebAssembly.instantiate(metered.wasm, { env: { memory }, wasmfleet_meter: { tick: () => 100 } });
  (instance.exports.run as () => void)();
  assert.deepEqual([...new Uint8Array(memory.buffer, 0, 12)], [7, 7, 7, 7, 5, 0, 0, 0, 1, 2, 0, 0]);
});

test('an unknown opcode is refused, naming the opcode, the function and the offset', () => {
  assert.throws(() => instrumentForMetering(withBody([0x27])), refusal(/function 0 at offset 0x[0-9a-f]+: instruction 0x27: unknown opcode/));
  assert.throws(() => instrumentForMetering(withBody([...simd(0x9a)])), refusal(/instruction 0xfd 0x9a/));
  assert.throws(() => instrumentForMetering(withBody([...simd(0x100)])), refusal(/instruction 0xfd 0x100/));
  assert.throws(() => instrumentForMetering(withBody([0xfc, 0x20])), refusal(/instruction 0xfc 0x20/));
  assert.throws(() => instrumentForMetering(withBody([0xfe, 0x04])), refusal(/instruction 0xfe 0x04/));
});

test('unsupported proposals are refused by name', () => {
  assert.throws(() => instrumentForMetering(withBody([0x06, 0x40, ...op.end])), refusal(/0x06: try \(exception handling\)/));
  assert.throws(() => instrumentForMetering(withBody([0x08, 0x00])), refusal(/exception handling/));
  assert.throws(() => instrumentForMetering(withBody([0x12, 0x00])), refusal(/return_call \(tail calls\)/));
  assert.throws(() => instrumentForMetering(withBody([0x3f, 0x01, 0x1a])), refusal(/multi-memory/));
  assert.throws(() => instrumentForMetering(withBody([...op.i32Const(0), 0x28, 0x42, 0x01, 0x00, 0x1a])), refusal(/multi-memory/));
  const gcType = module(section(1, vec([[0x5f, ...vec([])]])));
  assert.throws(() => instrumentForMetering(gcType), refusal(/type section .*GC types/));
  const tags = module(section(1, vec([funcType([], [])])), section(13, vec([[0x00, 0x00]])));
  assert.throws(() => instrumentForMetering(tags), refusal(/tag section \(exception handling\)/));
});

test('an already metered binary is refused instead of metered twice', () => {
  const once = instrumentForMetering(withBody([])).wasm;
  assert.throws(() => instrumentForMetering(once), refusal(/already metered/));
});

test('truncated binaries are refused unless the cut left a valid module', async () => {
  const built = await ensureBuilt(exampleModuleDirs()[0]!);
  let refused = 0;
  for (let length = 0; length < built.bytes.length; length += 7) {
    const cut = built.bytes.slice(0, length);
    if (WebAssembly.validate(cut)) continue; // a cut at a section boundary can be a whole module
    assert.throws(() => instrumentForMetering(cut), refusal(/./), `cut at ${length} bytes`);
    refused++;
  }
  assert.ok(refused > 400, `${refused} truncations refused`);
  assert.throws(() => instrumentForMetering(built.bytes.slice(0, built.bytes.length - 1)), refusal(/truncated/));
});

test('random bytes are refused, with or without a Wasm header', () => {
  let state = 7;
  const random = (length: number): number[] =>
    Array.from({ length }, () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state >>> 23;
    });
  assert.throws(() => instrumentForMetering(new Uint8Array(random(64))), refusal(/not a WebAssembly 1.0 binary/));
  for (let trial = 0; trial < 200; trial++) {
    const bytes = module(random(1 + (trial % 64)));
    if (WebAssembly.validate(bytes)) continue;
    assert.throws(() => instrumentForMetering(bytes), refusal(/./), `trial ${trial}`);
  }
});

test('mutated binaries are refused or rewritten into valid ones, never anything else', async () => {
  const built = await ensureBuilt(exampleModuleDirs()[0]!);
  let state = 99;
  const random = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  let rewritten = 0;
  for (let trial = 0; trial < 1000; trial++) {
    const bytes = Uint8Array.from(built.bytes);
    for (let flips = 1 + random(3); flips > 0; flips--) bytes[8 + random(bytes.length - 8)] = random(256);
    const valid = WebAssembly.validate(bytes);
    let metered: Uint8Array<ArrayBuffer>;
    try {
      metered = instrumentForMetering(bytes).wasm;
    } catch (error) {
      assert.ok(error instanceof MeteringRefusal, `trial ${trial}: ${String(error)}`);
      assert.ok(!valid, `trial ${trial}: a valid binary was refused: ${error.message}`);
      continue;
    }
    rewritten++;
    if (valid) assert.ok(WebAssembly.validate(metered), `trial ${trial}: valid input, invalid output`);
  }
  assert.ok(rewritten > 100, `${rewritten} mutants rewritten`);
});
