/**
 * The metering rewriter on hand-assembled modules: checkpoints stop an infinite loop and deep
 * recursion through tick, weights count the guarded instructions, and every function reference
 * (calls, call_indirect through all element segment encodings, ref.func, start, exports, names)
 * still reaches the right function after the index shift.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METER_FUEL_EXPORT, instrumentForMetering } from '../../../wasm-host/metering/index.js';
import { FUNCREF, I32, body, exportFunc, funcType, importFunc, module, op, section, str, u32, vec } from './wasm-bytes.js';

type Fn = (...args: number[]) => number;

class BudgetExceeded extends Error {}

/** A tick that grants `grant` fuel `times` times, then throws; counts its calls. */
function meter(grant: number, times = Infinity) {
  const state = {
    calls: 0,
    tick: (): number => {
      state.calls++;
      if (state.calls > times) throw new BudgetExceeded(`budget spent after ${state.calls - 1} grants`);
      return grant;
    },
  };
  return state;
}

async function instantiate(wasm: Uint8Array, imports: WebAssembly.Imports = {}): Promise<WebAssembly.Exports> {
  assert.ok(WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>), 'binary validates');
  return (await WebAssembly.instantiate(wasm as Uint8Array<ArrayBuffer>, imports)).instance.exports;
}

test('an infinite loop reaches tick on every lap and stops when tick throws', async () => {
  const spin = module(
    section(1, vec([funcType([], [])])),
    section(3, vec([[0]])),
    section(7, vec([exportFunc('spin', 0)])),
    section(10, vec([body([], [...op.loop(), ...op.br(0), ...op.end])])),
  );
  const metered = instrumentForMetering(spin);
  assert.equal(metered.checkpoints, 2, 'function entry and loop head');
  const budget = meter(1000, 50);
  const exports = await instantiate(metered.wasm, { wasmfleet_meter: { tick: budget.tick } });
  assert.throws(() => (exports.spin as Fn)(), BudgetExceeded);
  assert.equal(budget.calls, 51);
});

test('deep recursion without loops reaches tick through function-entry checkpoints', async () => {
  // fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2)
  const fib = module(
    section(1, vec([funcType([I32], [I32])])),
    section(3, vec([[0]])),
    section(7, vec([exportFunc('fib', 0)])),
    section(10, vec([body([], [
      ...op.localGet(0), ...op.i32Const(2), ...op.i32LtS, ...op.if(I32),
      ...op.localGet(0),
      ...op.else,
      ...op.localGet(0), ...op.i32Const(1), ...op.i32Sub, ...op.call(0),
      ...op.localGet(0), ...op.i32Const(2), ...op.i32Sub, ...op.call(0),
      ...op.i32Add,
      ...op.end,
    ])])),
  );
  const metered = instrumentForMetering(fib);
  assert.equal(metered.checkpoints, 1);
  const generous = meter(1000);
  const exports = await instantiate(metered.wasm, { wasmfleet_meter: { tick: generous.tick } });
  assert.equal((exports.fib as Fn)(20), 6765, 'same result as uninstrumented');
  // fib(20) makes 21,891 calls of at least 5 instructions each: > 100 grants of 1,000.
  assert.ok(generous.calls > 100, `tick called ${generous.calls} times`);

  const strict = meter(1000, 10);
  const stopped = await instantiate(metered.wasm, { wasmfleet_meter: { tick: strict.tick } });
  assert.throws(() => (stopped.fib as Fn)(40), BudgetExceeded);
  assert.equal(strict.calls, 11);
});

test('checkpoint weights count the instructions of the region they guard', async () => {
  // countdown(n): loop { n = n - 1; br_if 0 (n) } — entry region: loop + final end = 2;
  // loop region: 6 instructions and the loop's end = 7.
  const countdown = module(
    section(1, vec([funcType([I32], [])])),
    section(3, vec([[0]])),
    section(7, vec([exportFunc('countdown', 0)])),
    section(10, vec([body([], [
      ...op.loop(),
      ...op.localGet(0), ...op.i32Const(1), ...op.i32Sub, ...op.localSet(0), ...op.localGet(0), ...op.brIf(0),
      ...op.end,
    ])])),
  );
  const exports = await instantiate(instrumentForMetering(countdown).wasm, { wasmfleet_meter: { tick: meter(1).tick } });
  const fuel = exports[METER_FUEL_EXPORT] as WebAssembly.Global;
  fuel.value = 1_000_000;
  (exports.countdown as Fn)(5);
  assert.equal(1_000_000 - fuel.value, 2 + 5 * 7);
});

/**
 * Two imported functions (indices 0, 1) and eight defined ones (2..9), referenced through every
 * path: direct calls, a start function, exports, element segments in all eight encodings, ref.func
 * in code and in a global initialiser, table.init from a passive segment, and the name section.
 */
function indexShiftModule(): Uint8Array<ArrayBuffer> {
  const [NUMBER, UNARY, VOID] = [0, 1, 2];
  const [BASE, OTHER, SEVEN, CALLS_IMPORT, DIRECT, INDIRECT, FILL, START, INIT, BOOM] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const constExpr = (...code: number[][]): number[] => [...code.flat(), 0x0b];
  const elements = [
    [0, ...constExpr(op.i32Const(0)), ...vec([u32(SEVEN), u32(CALLS_IMPORT)])], // table[0..1]
    [1, 0x00, ...vec([u32(DIRECT)])], // passive, indices
    [2, ...u32(0), ...constExpr(op.i32Const(7)), 0x00, ...vec([u32(SEVEN)])], // table[7]
    [3, 0x00, ...vec([u32(INDIRECT)])], // declarative, indices
    [4, ...constExpr(op.i32Const(4)), ...vec([constExpr(op.refFunc(CALLS_IMPORT)), constExpr(op.refFunc(OTHER))])], // table[4..5]
    [5, FUNCREF, ...vec([constExpr(op.refFunc(SEVEN)), constExpr([0xd0, FUNCREF])])], // passive, expressions
    [6, ...u32(0), ...constExpr(op.i32Const(6)), FUNCREF, ...vec([constExpr(op.refFunc(DIRECT))])], // table[6]
    [7, FUNCREF, ...vec([constExpr(op.refFunc(FILL))])], // declarative, expressions
  ];
  const names = [...str('name'), ...section(1, vec([[...u32(SEVEN), ...str('seven')], [...u32(INIT), ...str('init')], [...u32(BOOM), ...str('boom')]]))];
  return module(
    section(1, vec([funcType([], [I32]), funcType([I32], [I32]), funcType([], [])])),
    section(2, vec([importFunc('env', 'base', UNARY), importFunc('env', 'other', NUMBER)])),
    section(3, vec([[NUMBER], [NUMBER], [NUMBER], [UNARY], [VOID], [VOID], [VOID], [VOID]])),
    section(4, vec([[FUNCREF, 0x00, 8]])),
    section(6, vec([
      [I32, 0x01, ...constExpr(op.i32Const(0))], // global 0: set by the start function
      [FUNCREF, 0x00, ...constExpr(op.refFunc(SEVEN))], // global 1: a function reference
    ])),
    section(7, vec([
      exportFunc('seven', SEVEN), exportFunc('callsImport', CALLS_IMPORT), exportFunc('direct', DIRECT), exportFunc('indirect', INDIRECT),
      exportFunc('fill', FILL), exportFunc('init', INIT), exportFunc('boom', BOOM),
      [...str('started'), 0x03, 0x00], [...str('table'), 0x01, 0x00],
    ])),
    section(8, u32(START)),
    section(9, vec(elements)),
    section(10, vec([
      body([], op.i32Const(7)),
      body([], [...op.i32Const(5), ...op.call(BASE)]),
      body([], [...op.call(SEVEN), ...op.call(CALLS_IMPORT), ...op.i32Add]),
      body([], [...op.localGet(0), ...op.callIndirect(NUMBER)]),
      body([], [...op.i32Const(2), ...op.globalGet(1), 0x26, 0x00, ...op.i32Const(3), ...op.refFunc(DIRECT), 0x26, 0x00]),
      body([], [...op.call(SEVEN), ...op.i32Const(35), ...op.i32Add, ...op.globalSet(0)]),
      body([], [...op.i32Const(1), ...op.i32Const(0), ...op.i32Const(1), 0xfc, 12, 5, 0, 0xfc, 13, 5]), // table.init seg 5 -> table[1]
      body([], [0x00]), // unreachable
    ])),
    section(0, names),
  );
}

test('every function reference still reaches the right function after the index shift', async () => {
  const original = indexShiftModule();
  const metered = instrumentForMetering(original);
  assert.equal(metered.checkpoints, 8);
  const env = { base: (x: number): number => x * 10, other: (): number => 99 };
  for (const [label, wasm, extra] of [
    ['original', original, {}],
    ['instrumented', metered.wasm, { wasmfleet_meter: { tick: meter(1_000_000).tick } }],
  ] as const) {
    const exports = await instantiate(wasm, { env, ...extra });
    const call = (name: string, ...args: number[]): number => (exports[name] as Fn)(...args);
    assert.equal((exports.started as WebAssembly.Global).value, 42, `${label}: start function ran`);
    assert.equal(call('seven'), 7, label);
    assert.equal(call('callsImport'), 50, label);
    assert.equal(call('direct'), 57, label);
    const table = exports.table as WebAssembly.Table;
    const viaTable = [7, 50, null, null, 50, 99, 57, 7];
    viaTable.forEach((expected, slot) => {
      if (expected === null) assert.equal(table.get(slot), null, `${label}: table[${slot}] empty`);
      else assert.equal(call('indirect', slot), expected, `${label}: table[${slot}]`);
    });
    call('fill'); // table[2] = global 1 (ref.func seven), table[3] = ref.func direct
    assert.equal(call('indirect', 2), 7, `${label}: ref.func in a global initialiser`);
    assert.equal(call('indirect', 3), 57, `${label}: ref.func in code`);
    call('init'); // table[1] = passive expression segment item 0 (seven)
    assert.equal(call('indirect', 1), 7, `${label}: table.init from a passive segment`);
    assert.throws(() => call('boom'), (error: Error) => {
      assert.match(error.stack ?? '', /boom/, `${label}: the name section still names the trapping function`);
      return error instanceof WebAssembly.RuntimeError;
    });
  }
});

test('a module without imports, globals or exports gets those sections in spec order', async () => {
  // Only a type, a function and a data count + data section (passive): the rewriter must
  // create import, global and export sections between them, data count before code.
  const bare = module(
    section(1, vec([funcType([], [])])),
    section(3, vec([[0]])),
    section(5, vec([[0x00, 1]])),
    section(12, u32(1)),
    section(10, vec([body([], [...op.i32Const(0), ...op.i32Const(0), ...op.i32Const(1), 0xfc, 8, 0, 0, 0xfc, 9, 0])])),
    section(11, vec([[0x01, ...vec([[0x2a]])]])),
  );
  const metered = instrumentForMetering(bare);
  const exports = await instantiate(metered.wasm, { wasmfleet_meter: { tick: meter(10).tick } });
  assert.ok(exports[METER_FUEL_EXPORT] instanceof WebAssembly.Global);
  assert.equal((exports[METER_FUEL_EXPORT] as WebAssembly.Global).value, 0);
  const empty = instrumentForMetering(module());
  assert.ok(WebAssembly.validate(empty.wasm));
  assert.equal(empty.checkpoints, 0);
});
