/**
 * The metering rewriter on every example module: the instrumented binary validates, links with
 * the tick import and writes byte-identical records to the original on the same batches.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { test } from 'node:test';
import { importedMemory } from '../../../protocol/abi.js';
import { ensureBuilt, exampleModuleDirs } from '../../../modules-as/tools/build-examples.js';
import { METER_FUEL_EXPORT, METER_IMPORT_MODULE, METER_IMPORT_NAME, instrumentForMetering } from '../../../device-agent/sandbox/metering/index.js';
import { linkAbi, signal } from './metering-host.js';

const BATCHES = 4;

for (const dir of exampleModuleDirs()) {
  test(`metering keeps ${basename(dir)}'s records byte-identical`, async () => {
    const built = await ensureBuilt(dir);
    const metered = instrumentForMetering(built.bytes);
    assert.ok(WebAssembly.validate(metered.wasm), 'instrumented binary validates');
    assert.ok(metered.checkpoints > 0);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(metered.wasm));
    assert.deepEqual(imports.at(-1), { module: METER_IMPORT_MODULE, name: METER_IMPORT_NAME, kind: 'function' });

    let ticks = 0;
    const original = await linkAbi(built.bytes, built.manifest);
    const instrumented = await linkAbi(metered.wasm, built.manifest, () => {
      ticks++;
      return 10_000_000;
    });
    const unshared = await linkAbi(instrumentForMetering(built.bytes, { unshareMemory: true }).wasm, built.manifest, () => 10_000_000);
    let emitted = 0;
    for (let batch = 0; batch < BATCHES; batch++) {
      const [timestamps, values] = signal(batch);
      const expected = original.run(timestamps, values);
      emitted += expected.records.length;
      assert.deepEqual(instrumented.run(timestamps, values), expected, `batch ${batch}`);
      assert.deepEqual(unshared.run(timestamps, values), expected, `batch ${batch}, unshared memory`);
    }
    assert.ok(emitted > 0, 'the signal makes the module emit records');
    assert.ok(ticks >= 1, 'fuel starts at 0, so the first checkpoint calls tick');
    const fuel = instrumented.exports[METER_FUEL_EXPORT];
    assert.ok(fuel instanceof WebAssembly.Global);
    assert.ok(fuel.value < 10_000_000 && fuel.value > 0, `fuel was spent: ${fuel.value}`);
  });
}

test('unshareMemory turns the shared env.memory import into an unshared one', async () => {
  const built = await ensureBuilt(exampleModuleDirs()[0]!);
  assert.equal(importedMemory(built.bytes)?.shared, true, 'example modules are ABI 2 (shared memory)');
  const unshared = instrumentForMetering(built.bytes, { unshareMemory: true }).wasm;
  assert.equal(importedMemory(unshared)?.shared, false);
  assert.equal(importedMemory(instrumentForMetering(built.bytes).wasm)?.shared, true, 'kept shared unless asked');
  const memory = new WebAssembly.Memory({ initial: importedMemory(unshared)!.minimum, maximum: 256 });
  const imports = {
    env: { memory, abort: () => undefined, trace: () => undefined, seed: () => 0 },
    wasmfleet: { param: () => 1, declare_metric: () => 0, declare_event: () => 0 },
    wasmfleet_meter: { tick: () => 1000 },
  };
  await WebAssembly.instantiate(unshared, imports);
  await assert.rejects(WebAssembly.instantiate(instrumentForMetering(built.bytes).wasm, imports), WebAssembly.LinkError);
});
