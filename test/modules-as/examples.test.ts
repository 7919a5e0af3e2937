// Every example module, built by asc and run in the real sandbox, must produce the outputs of
// its plain TypeScript reference on the same deterministic signal, batch by batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { startSandbox } from '../../wasm-host/module-sandbox.js';
import { effectiveConfig, type ModuleConfig } from '../../protocol/index.js';
import { ensureBuilt, exampleModuleDirs } from '../../modules-as/tools/build-examples.js';
import { batchesOf, hasReference, referenceFor, temperatureSignal } from '../../modules-as/reference/index.js';
import { assertSameOutput } from './compare.js';

const BATCH_SIZES = [1, 7, 64, 1024, 333, 0, 512, 2];
const CAPACITY = 1024;

interface Case {
  readonly config: ModuleConfig;
  readonly maxOutputs: number;
}

const CASES: Record<string, Case[]> = {
  ema: [
    { config: {}, maxOutputs: 4096 },
    { config: { alpha: 0.35, every: 3 }, maxOutputs: 4096 },
    // every sample emits, so batches of 1024 overflow the 100-record output area
    { config: { alpha: 1, every: 1 }, maxOutputs: 100 },
  ],
  threshold: [
    { config: {}, maxOutputs: 4096 },
    { config: { high: 22, low: 21.9 }, maxOutputs: 5 },
  ],
  zscore: [
    { config: {}, maxOutputs: 4096 },
    { config: { threshold: 1.5, warmup: 2 }, maxOutputs: 8 },
  ],
  vibration: [
    { config: {}, maxOutputs: 4096 },
    { config: { window: 8 }, maxOutputs: 16 },
  ],
  fft: [
    { config: {}, maxOutputs: 4096 },
    { config: { window: 16, rateHz: 100 }, maxOutputs: 8 },
  ],
  downsample: [
    { config: {}, maxOutputs: 4096 },
    { config: { window: 1 }, maxOutputs: 100 },
  ],
};

test('there is a reference and a test case for every example module', () => {
  const names = exampleModuleDirs().map((dir) => basename(dir));
  assert.deepEqual(names, Object.keys(CASES).sort());
  for (const name of names) assert.ok(hasReference(name), `reference for ${name}`);
});

for (const dir of exampleModuleDirs()) {
  const name = basename(dir);
  test(`${name}: Wasm in the sandbox matches the reference`, async (t) => {
    const built = await ensureBuilt(dir);
    assert.equal(built.manifest.name, name);
    const signal = temperatureSignal({ samples: 6000, seed: 7 });
    for (const [index, { config, maxOutputs }] of (CASES[name] ?? []).entries()) {
      const sandbox = await startSandbox({
        wasm: built.bytes,
        manifest: built.manifest,
        config: effectiveConfig(built.manifest, config),
        limits: { memoryPages: 16, cpuMsPerBatch: 2000, maxOutputsPerBatch: maxOutputs },
        batchCapacity: CAPACITY,
      });
      t.after(() => sandbox.close());
      // The reference gets the raw config: its own defaults must equal the manifest's.
      const reference = referenceFor(name, config, { maxOutputs });
      let batchNo = 0;
      let emitted = 0;
      for (const batch of batchesOf(signal, BATCH_SIZES)) {
        const actual = await sandbox.process(batch.timestamps, batch.values);
        const expected = reference.process(batch.timestamps, batch.values);
        assertSameOutput(actual, expected, `${name} case ${index} batch ${batchNo++}`);
        emitted += actual.events.length + actual.metrics.reduce((sum, m) => sum + m.points.length, 0);
      }
      assert.ok(emitted > 0, `${name} case ${index} emitted something`);
      await sandbox.close();
    }
  });
}

test('threshold refuses low above high at start, like its reference', async () => {
  const dir = exampleModuleDirs().find((d) => basename(d) === 'threshold')!;
  const built = await ensureBuilt(dir);
  await assert.rejects(
    startSandbox({
      wasm: built.bytes,
      manifest: built.manifest,
      config: { high: 20, low: 25 },
      limits: { memoryPages: 4, cpuMsPerBatch: 1000, maxOutputsPerBatch: 10 },
      batchCapacity: 16,
    }),
    (error: Error & { kind?: string }) => error.kind === 'invalid' && /low must not exceed high/.test(error.message),
  );
  assert.throws(() => referenceFor('threshold', { high: 20, low: 25 }), /low must not exceed high/);
});
