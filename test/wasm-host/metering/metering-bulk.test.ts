/**
 * Length charges: every instruction whose cost grows with an operand (memory.fill/copy/init,
 * table.fill/copy/init/grow, memory.grow) spends fuel in proportion to that operand before it
 * runs, keeps the operand stack and the function's own locals intact, and cannot wrap the fuel
 * around with a huge length.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METER_FUEL_EXPORT, instrumentForMetering } from '../../../wasm-host/metering/index.js';
import { FUNCREF, I32, body, exportFunc, funcType, module, op, section, str, u32, vec, type Bytes } from './wasm-bytes.js';

const fill = (length: Bytes): Bytes => [...op.i32Const(0), ...op.i32Const(0), ...length, 0xfc, ...u32(11), 0x00];

/** (param n i32) (local i32): runs `code`, then returns local 1 (set to 77 first) to show it survived. */
function oneFunction(code: Bytes, withTable = false): Uint8Array<ArrayBuffer> {
  return module(
    section(1, vec([funcType([I32], [I32])])),
    section(3, vec([[0]])),
    ...(withTable ? [section(4, vec([[FUNCREF, 0x01, ...u32(100), ...u32(1000)]]))] : []),
    section(5, vec([[0x00, ...u32(1)]])),
    section(7, vec([exportFunc('f', 0)])),
    section(10, vec([body([[1, I32]], [...op.i32Const(77), ...op.localSet(1), ...code, ...op.localGet(1)])])),
  );
}

async function run(wasm: Uint8Array<ArrayBuffer>, n: number, grant = 10_000_000): Promise<{ spent: number; ticks: number; result: number }> {
  const metered = instrumentForMetering(wasm);
  assert.ok(metered.charges >= 1, 'a length charge went in');
  let ticks = 0;
  const { instance } = await WebAssembly.instantiate(metered.wasm, { wasmfleet_meter: { tick: () => (ticks++, grant) } });
  const fuel = instance.exports[METER_FUEL_EXPORT] as WebAssembly.Global;
  fuel.value = grant;
  const result = (instance.exports.f as (n: number) => number)(n);
  return { spent: grant - (fuel.value as number), ticks, result };
}

test('memory.fill is charged one fuel per 4 bytes of its length, the stack and locals intact', async () => {
  const wasm = oneFunction(fill(op.localGet(0)));
  const small = await run(wasm, 0);
  const big = await run(wasm, 65536);
  assert.equal(big.spent - small.spent, 65536 / 4);
  assert.equal(big.result, 77, 'the function\'s own local survives the scratch local');
});

test('memory.copy and memory.grow are charged by their length', async () => {
  const copy = oneFunction([...op.i32Const(0), ...op.i32Const(0), ...op.localGet(0), 0xfc, ...u32(10), 0x00, 0x00]);
  assert.equal((await run(copy, 40000)).spent - (await run(copy, 0)).spent, 10000);
  const grow = oneFunction([...op.localGet(0), 0x40, 0x00, ...op.drop]);
  assert.equal((await run(grow, 3)).spent - (await run(grow, 0)).spent, 3 * 16384);
});

test('table.fill and table.grow are charged 16 fuel per entry and still return their results', async () => {
  const tableFill = oneFunction([...op.i32Const(0), 0xd0, FUNCREF, ...op.localGet(0), 0xfc, ...u32(17), 0x00], true);
  assert.equal((await run(tableFill, 100)).spent - (await run(tableFill, 0)).spent, 1600);
  // table.grow returns the old size: the value it leaves must be the engine's, not the charge's.
  const tableGrow = module(
    section(1, vec([funcType([I32], [I32])])),
    section(3, vec([[0]])),
    section(4, vec([[FUNCREF, 0x01, ...u32(100), ...u32(1000)]])),
    section(7, vec([exportFunc('f', 0)])),
    section(10, vec([body([], [0xd0, FUNCREF, ...op.localGet(0), 0xfc, ...u32(15), 0x00])])),
  );
  const grown = await run(tableGrow, 50);
  assert.equal(grown.result, 100, 'table.grow returned the previous size');
  assert.equal(grown.spent - (await run(tableGrow, 0)).spent, 800);
});

test('a huge length is clamped, never wraps the fuel around into a gift, and reaches tick', async () => {
  // memory.fill of 0xffffffff bytes traps (out of bounds), but only after it was charged.
  const wasm = oneFunction(fill(op.localGet(0)));
  const metered = instrumentForMetering(wasm);
  let ticks = 0;
  const { instance } = await WebAssembly.instantiate(metered.wasm, { wasmfleet_meter: { tick: () => (ticks++, 1000) } });
  (instance.exports[METER_FUEL_EXPORT] as WebAssembly.Global).value = 1000;
  assert.throws(() => (instance.exports.f as (n: number) => number)(-1), WebAssembly.RuntimeError);
  assert.equal(ticks, 1, 'the charge ran the fuel out and called tick before the fill');
});

test('a loop of table.fill reaches tick on every lap once a lap costs more than a grant', async () => {
  const wasm = module(
    section(1, vec([funcType([], [])])),
    section(2, vec([[...str('m'), ...str('unused'), 0x03, I32, 0x00]])),
    section(3, vec([[0]])),
    section(4, vec([[FUNCREF, 0x01, ...u32(8192), ...u32(8192)]])),
    section(7, vec([exportFunc('spin', 0)])),
    section(10, vec([body([], [...op.loop(), ...op.i32Const(0), 0xd0, FUNCREF, ...op.i32Const(8192), 0xfc, ...u32(17), 0x00, ...op.br(0), ...op.end])])),
  );
  const metered = instrumentForMetering(wasm);
  let ticks = 0;
  const { instance } = await WebAssembly.instantiate(metered.wasm, {
    m: { unused: new WebAssembly.Global({ value: 'i32' }, 0) },
    wasmfleet_meter: {
      tick: () => {
        if (++ticks > 50) throw new Error('stop');
        return 100_000;
      },
    },
  });
  assert.throws(() => (instance.exports.spin as () => void)(), /stop/);
  assert.equal(ticks, 51, 'one tick per lap: each table.fill of 8192 entries costs 131,072 fuel');
});
