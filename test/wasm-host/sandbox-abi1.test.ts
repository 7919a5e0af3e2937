// ABI 1 binaries (private memory, one input area copied in by the worker, wf_process(count))
// still run next to the SDK's ABI 2 builds, and a binary whose memory import disagrees with its
// manifest's `abi` is refused at start with a reason that says so. The ABI 1 module is written
// in WAT here because the SDK no longer builds that ABI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import binaryen from 'binaryen';
import { startSandbox } from '../../wasm-host/module-sandbox.js';
import { effectiveConfig, importedMemory, type Manifest } from '../../protocol/index.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { batch, example, isFault } from './sandbox-helpers.js';

/**
 * Emits one `count` metric per batch: (first timestamp, number of samples). Input area at 4096,
 * one record at 1024. The name is the UTF-16LE string "count" at 16.
 */
const ABI1_WAT = `(module
  (import "env" "memory" (memory 1 16))
  (import "wasmfleet" "declare_metric" (func $declare (param i32 i32) (result i32)))
  (data (i32.const 16) "c\\00o\\00u\\00n\\00t\\00")
  (global $id (mut i32) (i32.const 0))
  (func $start (global.set $id (call $declare (i32.const 16) (i32.const 10))))
  (start $start)
  (func (export "wf_abi") (result i32) (i32.const 1))
  (func (export "wf_init") (param i32 i32) (result i32) (i32.const 4096))
  (func (export "wf_process") (param $count i32) (result i32)
    (if (i32.eqz (local.get $count)) (then (return (i32.const 0))))
    (f64.store (i32.const 1024) (f64.convert_i32_s (global.get $id)))
    (f64.store (i32.const 1032) (f64.load (i32.const 4096)))
    (f64.store (i32.const 1040) (f64.convert_i32_s (local.get $count)))
    (i32.const 1))
  (func (export "wf_output") (result i32) (i32.const 1024))
  (func (export "wf_dropped") (result i32) (i32.const 0)))`;

function abi1Binary(): Uint8Array<ArrayBuffer> {
  const module = binaryen.parseText(ABI1_WAT);
  try {
    return new Uint8Array(module.emitBinary());
  } finally {
    module.dispose();
  }
}

const MANIFEST: Manifest = {
  name: 'count-v1',
  version: '1.0.0',
  abi: 1,
  description: 'ABI 1 fixture',
  params: {},
  inputs: [{ name: 'x' }],
  metrics: [{ name: 'count' }],
  events: [],
};
const LIMITS = { memoryPages: 4, cpuMsPerBatch: 1000, maxOutputsPerBatch: 16 };

test('an ABI 1 binary runs, its batches copied into its own memory by the worker', async (t) => {
  const wasm = abi1Binary();
  assert.equal(importedMemory(wasm)?.shared, false);
  const sandbox = await startSandbox({ wasm, manifest: MANIFEST, config: {}, limits: LIMITS, batchCapacity: 128 });
  t.after(() => sandbox.close());
  // More batches than the ring has slots, in flight together: every slot is used and reused.
  const outputs = await Promise.all(Array.from({ length: 10 }, (_, i) => sandbox.process(...batch(...new Array<number>(i + 1).fill(0)))));
  outputs.forEach((output, i) => assert.deepEqual(output, { metrics: [{ name: 'count', points: [[1000, i + 1]] }], events: [], dropped: 0 }));
});

test('a binary whose memory import disagrees with its manifest abi is refused at start', async () => {
  const v1 = abi1Binary();
  await assert.rejects(
    startSandbox({ wasm: v1, manifest: { ...MANIFEST, abi: 2 }, config: {}, limits: LIMITS, batchCapacity: 128 }),
    isFault('invalid', /manifest says abi 2, but the binary is built for ABI 1/),
  );
  const built = await ensureBuilt(example('ema'));
  await assert.rejects(
    startSandbox({ wasm: built.bytes, manifest: { ...built.manifest, abi: 1 }, config: effectiveConfig(built.manifest, {}), limits: LIMITS, batchCapacity: 128 }),
    isFault('invalid', /manifest says abi 1, but the binary is built for ABI 2 \(its env.memory import is shared\)/),
  );
});
