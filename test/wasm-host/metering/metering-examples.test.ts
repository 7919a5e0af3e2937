/**
 * The metering rewriter on every example module: the instrumented binary validates, links with
 * the tick import and writes byte-identical records to the original on the same batches.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { test } from 'node:test';
import { importedMemory } from '../../../protocol/abi.js';
import { ensureBuilt, exampleModuleDirs } from '../../../modules-as/tools/build-examples.js';
import { buildModule } from '../../../modules-as/sdk/kit/build-module.js';
import { METER_FUEL_EXPORT, METER_IMPORT_MODULE, METER_IMPORT_NAME, instrumentForMetering } from '../../../wasm-host/metering/index.js';
import { readSections, SectionId, sectionReader } from '../../../wasm-host/metering/sections.js';
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

test('a debug build keeps its name and source map sections and its behaviour', async () => {
  const debug = await buildModule(exampleModuleDirs()[0]!, { target: 'debug' });
  const metered = instrumentForMetering(debug.bytes).wasm;
  const before = new WebAssembly.Module(debug.bytes);
  const after = new WebAssembly.Module(metered);
  assert.equal(WebAssembly.Module.customSections(before, 'name').length, 1, 'debug builds carry a name section');
  assert.equal(WebAssembly.Module.customSections(after, 'name').length, 1, 'name section kept');
  assert.deepEqual(WebAssembly.Module.customSections(after, 'sourceMappingURL'), WebAssembly.Module.customSections(before, 'sourceMappingURL'));
  const original = await linkAbi(debug.bytes, debug.manifest);
  const instrumented = await linkAbi(metered, debug.manifest, () => 10_000_000);
  const [timestamps, values] = signal(0);
  assert.deepEqual(instrumented.run(timestamps, values), original.run(timestamps, values));
});

test('the branch-hint section marks exactly the checkpoints\' branches, each at an `if` of its function body', async () => {
  const built = await ensureBuilt(exampleModuleDirs().find((dir) => basename(dir) === 'fft')!);
  const metered = instrumentForMetering(built.bytes);
  const sections = readSections(metered.wasm);
  const hintAt = sections.findIndex((s) => s.id === SectionId.custom && sectionReader(metered.wasm, s).name() === 'metadata.code.branch_hint');
  const codeAt = sections.findIndex((s) => s.id === SectionId.code);
  assert.ok(hintAt >= 0 && hintAt < codeAt, 'hint section present, before the code section');

  // Function index -> the bytes of its body (locals included), from the rewritten code section.
  const imported = WebAssembly.Module.imports(new WebAssembly.Module(metered.wasm)).filter((i) => i.kind === 'function').length;
  const code = sectionReader(metered.wasm, sections[codeAt]!);
  const bodies: Uint8Array[] = [];
  for (let i = 0, count = code.u32(); i < count; i++) {
    const size = code.u32();
    bodies.push(metered.wasm.subarray(code.at, code.at + size));
    code.skip(size);
  }
  const hints = sectionReader(metered.wasm, sections[hintAt]!);
  hints.name();
  let total = 0;
  let previousFunction = -1;
  for (let i = 0, functions = hints.u32(); i < functions; i++) {
    const index = hints.u32();
    assert.ok(index > previousFunction, 'functions in increasing order');
    previousFunction = index;
    const body = bodies[index - imported]!;
    let previous = -1;
    for (let j = 0, count = hints.u32(); j < count; j++) {
      const offset = hints.u32();
      assert.equal(hints.u32(), 1, 'hint payload size');
      assert.equal(hints.u8(), 0x00, 'unlikely');
      assert.ok(offset > previous, 'offsets in increasing order');
      previous = offset;
      assert.deepEqual([body[offset], body[offset + 1]], [0x04, 0x40], `function ${index}: offset ${offset} is an if`);
      total++;
    }
  }
  assert.equal(total, metered.checkpoints + metered.charges, 'one hint per checkpoint and per length charge');
});
