// The sandbox under hostile modules (AssemblyScript fixtures in test/fixtures/hostile): traps,
// aborts, runaway loops and unbounded allocation each end that sandbox with the right fault
// kind, while a healthy sandbox next to it keeps producing correct results. Every test runs
// for both isolations: metered (agent thread, checkpoints) and worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromRoot } from '../../common/paths.js';
import { ISOLATIONS } from '../../wasm-host/select.js';
import type { SandboxLimits } from '../../wasm-host/types.js';
import { effectiveConfig, type Manifest } from '../../protocol/index.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { referenceFor, temperatureSignal, batchesOf } from '../../modules-as/reference/index.js';
import { assertSameOutput } from '../modules-as/compare.js';
import { batch, example, hostile, isFault, openSandbox, SANDBOXES } from './sandbox-helpers.js';

const LIMITS: SandboxLimits = { memoryPages: 8, cpuMsPerBatch: 300, maxOutputsPerBatch: 64 };

for (const isolation of ISOLATIONS) {
  const open = (t: { after(fn: () => Promise<void>): void }, dir: string, limits: SandboxLimits = LIMITS, patch?: (m: Manifest) => Manifest) =>
    openSandbox(t, dir, limits, patch, isolation);

  test(`${isolation}: a healthy batch, then a trap ends the sandbox`, async (t) => {
    const sandbox = await open(t, hostile('faulty'));
    const ok = await sandbox.process(...batch(1, 2, 3));
    assert.deepEqual(ok, { metrics: [{ name: 'count', points: [[1002, 3]] }], events: [], dropped: 0 });
    await assert.rejects(sandbox.process(...batch(2e6)), isFault('trap', /unreachable/));
    await assert.rejects(sandbox.process(...batch(1)), isFault('trap', /unreachable/));
  });

  test(`${isolation}: an abort carries the module message, file and line`, async (t) => {
    // Builds name files relative to the module folder (asc baseDir), wherever they are built from.
    const sandbox = await open(t, hostile('faulty'));
    await assert.rejects(sandbox.process(...batch(-1)), isFault('abort', /faulty: negative input at assembly\/index\.ts:\d+/));
  });

  test(`${isolation}: a runaway loop is stopped by the watchdog`, async (t) => {
    const sandbox = await open(t, hostile('spin'));
    assert.equal((await sandbox.process(...batch(1))).metrics.length, 1);
    await assert.rejects(sandbox.process(...batch(500)), isFault('timeout', /budget of 300 ms/));
  });

  // 8 pages budgeted, one of them charged for the module's tables and code (footprint.ts).
  test(`${isolation}: unbounded allocation stops at the memory maximum`, async (t) => {
    const sandbox = await open(t, hostile('grow'));
    await assert.rejects(sandbox.process(...batch(500)), isFault('memory', /memory limit of 7 pages/));
  });

  test(`${isolation}: a module whose memory grows on every batch still gets its input and has its results read`, async (t) => {
    // Growth detaches a private memory's buffer: the host's views of the input slot and the
    // output area must follow it, for batches of the same size (same output place and length)
    // and of new sizes alike.
    const sandbox = await open(t, fromRoot('test', 'fixtures', 'sandbox', 'creep'), { memoryPages: 16, cpuMsPerBatch: 2000, maxOutputsPerBatch: 64 });
    let round = 0;
    for (const size of [5, 5, 5, 3, 3, 7, 1]) {
      round += 1;
      const values = Array.from({ length: size }, (_, i) => round * 100 + i);
      const output = await sandbox.process(...batch(...values));
      assert.deepEqual(output, {
        metrics: [
          { name: 'value', points: values.map((value, i) => [1000 + i, value]) },
          { name: 'sum', points: [[1000 + size - 1, values.reduce((a, b) => a + b, 0)]] },
        ],
        events: [],
        dropped: 0,
      }, `batch ${round}`);
    }
  });

  test(`${isolation}: a healthy sandbox keeps working while another one is faulting`, async (t) => {
    const spin = await open(t, hostile('spin'), { ...LIMITS, cpuMsPerBatch: 500 });
    const ema = await open(t, example('ema'), { memoryPages: 8, cpuMsPerBatch: 2000, maxOutputsPerBatch: 1024 });
    const reference = referenceFor('ema');
    const runaway = assert.rejects(spin.process(...batch(500)), isFault('timeout', /budget/));
    const signal = temperatureSignal({ samples: 4000, seed: 3 });
    for (const part of batchesOf(signal, [256, 100])) {
      const actual = await ema.process(part.timestamps, part.values);
      assertSameOutput(actual, reference.process(part.timestamps, part.values), 'ema beside spin');
    }
    await runaway;
    const last = batch(20, 21);
    assertSameOutput(await ema.process(...last), reference.process(...last), 'ema after spin died');
  });

  test(`${isolation}: start refuses invalid binaries and modules that overstep their manifest`, async (t) => {
    const built = await ensureBuilt(example('ema'));
    const start = (wasm: Uint8Array, manifest: Manifest = built.manifest) =>
      SANDBOXES[isolation]({ wasm, manifest, config: effectiveConfig(manifest, {}), limits: LIMITS, batchCapacity: 16 });
    await assert.rejects(start(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99])), isFault('invalid', /not a valid WebAssembly/));
    await assert.rejects(start(built.bytes, { ...built.manifest, metrics: [] }), isFault('invalid', /metric 'ema' is not declared/));
    await assert.rejects(start(built.bytes, { ...built.manifest, params: {} }), isFault('invalid', /param 'alpha' is not declared in manifest ema/));
    const tiny = SANDBOXES[isolation]({ wasm: built.bytes, manifest: built.manifest, config: {}, limits: { ...LIMITS, memoryPages: 1 }, batchCapacity: 8192 });
    await assert.rejects(tiny, isFault('invalid', /memory/));
  });

  test(`${isolation}: misuse is a RangeError; close is idempotent and final`, async (t) => {
    const sandbox = await open(t, example('ema'));
    await assert.rejects(sandbox.process(new Float64Array(2), new Float64Array(3)), RangeError);
    await assert.rejects(sandbox.process(new Float64Array(257), new Float64Array(257)), RangeError);
    await sandbox.close();
    await sandbox.close();
    await assert.rejects(sandbox.process(...batch(1)), isFault('crash', /closed/));
  });
}
