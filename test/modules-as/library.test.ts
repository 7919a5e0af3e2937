// The library modules (vibration, fft, downsample), built by asc and run in the real sandbox,
// must match their plain TypeScript references batch by batch, and every example module must
// reproduce its golden vectors (modules-as/examples/<name>/test/, written only by
// modules-as/tools/golden-from-reference.ts) in both isolations: the default metered sandbox
// (binary rewritten with CPU-budget checkpoints) must compute exactly what the worker does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ISOLATIONS, type Isolation } from '../../wasm-host/select.js';
import { SANDBOXES } from '../wasm-host/sandbox-helpers.js';
import type { BatchOutput, ModuleSandbox } from '../../wasm-host/types.js';
import { effectiveConfig, type ModuleConfig } from '../../protocol/index.js';
import { ensureBuilt, exampleModuleDirs } from '../../modules-as/tools/build-examples.js';
import type { BuiltModule } from '../../modules-as/sdk/kit/build-module.js';
import {
  GOLDEN_CASES,
  concatOutputs,
  expectedFromReference,
  formatCsv,
  readGoldenFiles,
} from '../../modules-as/tools/golden-from-reference.js';
import { batchesOf, referenceFor, temperatureSignal, vibrationSignal, type Signal } from '../../modules-as/reference/index.js';
import { assertSameOutput } from './compare.js';

const LIBRARY = ['vibration', 'fft', 'downsample'] as const;
const BATCH_SIZES = [1, 7, 64, 1024, 333, 0, 512, 2];
const CAPACITY = 1024;
const MAX_CSV_BYTES = 60_000;

const dirOf = (name: string): string => exampleModuleDirs().find((dir) => basename(dir) === name)!;

async function sandboxFor(built: BuiltModule, config: ModuleConfig, maxOutputs = 4096, isolation: Isolation = 'metered'): Promise<ModuleSandbox> {
  return SANDBOXES[isolation]({
    wasm: built.bytes,
    manifest: built.manifest,
    config: effectiveConfig(built.manifest, config),
    limits: { memoryPages: 16, cpuMsPerBatch: 2000, maxOutputsPerBatch: maxOutputs },
    batchCapacity: CAPACITY,
  });
}

/**
 * Runs Wasm and reference side by side, one awaited batch at a time, and returns the Wasm
 * output of all batches concatenated.
 */
async function runBoth(name: string, built: BuiltModule, config: ModuleConfig, signal: Signal, sizes: readonly number[], maxOutputs = 4096): Promise<BatchOutput> {
  const sandbox = await sandboxFor(built, config, maxOutputs);
  try {
    const reference = referenceFor(name, config, { maxOutputs });
    const outputs: BatchOutput[] = [];
    let batchNo = 0;
    for (const batch of batchesOf(signal, sizes)) {
      const actual = await sandbox.process(batch.timestamps, batch.values);
      assertSameOutput(actual, reference.process(batch.timestamps, batch.values), `${name} ${JSON.stringify(config)} batch ${batchNo++}`);
      outputs.push(actual);
    }
    return concatOutputs(outputs);
  } finally {
    await sandbox.close();
  }
}

const pointsOf = (output: BatchOutput, metric: string): [number, number][] =>
  output.metrics.find((m) => m.name === metric)?.points ?? [];

test('every example module has its golden cases on disk, up to date with the reference', () => {
  const names = exampleModuleDirs().map((dir) => basename(dir));
  assert.deepEqual([...names].sort(), Object.keys(GOLDEN_CASES).sort());
  for (const dir of exampleModuleDirs()) {
    const name = basename(dir);
    const stored = readGoldenFiles(dir);
    assert.deepEqual(stored.map((g) => g.name), GOLDEN_CASES[name]!.map((c) => c.name).sort(), `${name}: golden cases`);
    for (const golden of stored) {
      const where = `${name}/${golden.name}`;
      const definition = GOLDEN_CASES[name]!.find((c) => c.name === golden.name)!;
      assert.ok(statSync(join(dir, 'test', `${golden.name}.csv`)).size < MAX_CSV_BYTES, `${where}.csv size`);
      assert.equal(formatCsv(golden.signal), formatCsv(definition.signal()), `${where}.csv is stale: run golden-from-reference`);
      assert.deepEqual(golden.expected.config, definition.config, `${where}: config`);
      assert.equal(golden.expected.batchSize, definition.batchSize, `${where}: batchSize`);
      const fresh = expectedFromReference(name, golden.expected.config, golden.expected.batchSize, golden.signal);
      assert.deepEqual(fresh, golden.expected, `${where}.expected.json is stale: run golden-from-reference`);
    }
  }
});

for (const dir of exampleModuleDirs()) {
  const name = basename(dir);
  for (const isolation of ISOLATIONS) test(`${name}: Wasm in the ${isolation} sandbox reproduces the golden vectors`, async () => {
    const built = await ensureBuilt(dir);
    for (const golden of readGoldenFiles(dir)) {
      const { config, batchSize, output } = golden.expected;
      const sandbox = await sandboxFor(built, config, 4096, isolation);
      try {
        const outputs: BatchOutput[] = [];
        for (const batch of batchesOf(golden.signal, [batchSize])) outputs.push(await sandbox.process(batch.timestamps, batch.values));
        assertSameOutput(concatOutputs(outputs), output, `${name}/${golden.name}`);
      } finally {
        await sandbox.close();
      }
    }
  });
}

// fft included: its twiddles come from Math.cos/sin on both sides, which agree bit for bit on
// Node 20, so the absolute 1e-9 of compare.ts holds. Should a runtime's libm ever differ in the
// last bits, compare fft with a relative 1e-9 here rather than loosening compare.ts.
for (const name of LIBRARY) {
  test(`${name}: Wasm matches the reference per batch on the golden inputs, in batches of varying size`, async () => {
    const built = await ensureBuilt(dirOf(name));
    assert.equal(built.manifest.name, name);
    assert.equal(built.manifest.inputs.length, 1);
    for (const golden of readGoldenFiles(dirOf(name))) {
      const whole = await runBoth(name, built, golden.expected.config, golden.signal, BATCH_SIZES);
      // Windows span batches, so the concatenated output does not depend on how input was cut.
      assertSameOutput(whole, golden.expected.output, `${name}/${golden.name} in varying batches`);
      assert.ok(whole.metrics.length > 0 && whole.metrics[0]!.points.length > 0, `${name}/${golden.name} emitted`);
    }
  });
}

test('library modules at the edges of their params match the reference', async () => {
  const temperature = temperatureSignal({ samples: 6000, seed: 7 });
  const tones = vibrationSignal({ samples: 12_000, tones: [{ hz: 37.5, amplitude: 1 }, { hz: 150, amplitude: 0.4 }], seed: 5 });
  const cases: [name: string, config: ModuleConfig, signal: Signal, maxOutputs?: number][] = [
    ['vibration', {}, temperature],
    ['vibration', { window: 8 }, tones],
    ['vibration', { window: 65536 }, tones],
    ['fft', { window: 16, rateHz: 400 }, tones],
    ['fft', { window: 4096, rateHz: 400 }, tones],
    ['fft', {}, temperature],
    ['downsample', { window: 65536 }, temperature],
    ['downsample', { window: 3 }, tones],
    // four records per sample, so batches of 1024 overflow the 100-record output area
    ['downsample', { window: 1 }, temperature, 100],
    // Threshold checks four samples at a time: crossings (the signal swings 19-24 °C with
    // spikes) fall at every position in a group and in the tail of odd-sized batches.
    ['threshold', {}, temperature],
    ['threshold', { high: 21.6, low: 21.4 }, temperature],
    ['threshold', { high: 21.5, low: 21.5 }, temperature],
    ['threshold', { high: 0.2, low: -0.2 }, tones],
  ];
  for (const [name, config, signal, maxOutputs] of cases) {
    const whole = await runBoth(name, await ensureBuilt(dirOf(name)), config, signal, BATCH_SIZES, maxOutputs);
    if (maxOutputs !== undefined) assert.ok(whole.dropped > 0, `${name} ${JSON.stringify(config)} dropped records`);
    if (name === 'threshold') assert.ok(whole.events.length > 20, `threshold ${JSON.stringify(config)} crossed often (${whole.events.length} events)`);
  }
});

test('vibration reports crest 0, not NaN, for an all-zero window', async () => {
  const built = await ensureBuilt(dirOf('vibration'));
  const signal = { timestamps: Float64Array.from({ length: 16 }, (_, i) => i), values: new Float64Array(16) };
  const whole = await runBoth('vibration', built, { window: 8 }, signal, [5]);
  assert.deepEqual(pointsOf(whole, 'crest'), [[7, 0], [15, 0]]);
  assert.deepEqual(pointsOf(whole, 'rms'), [[7, 0], [15, 0]]);
});

test('fft finds the strongest known tone of the golden inputs', () => {
  const expectedHz: Record<string, number> = { 'sines-50hz': 50, 'sines-100hz-offset': 100 };
  const stored = readGoldenFiles(dirOf('fft'));
  assert.deepEqual(stored.map((g) => g.name).sort(), Object.keys(expectedHz).sort());
  for (const golden of stored) {
    const dominant = pointsOf(golden.expected.output, 'dominant_hz');
    assert.equal(dominant.length, Math.floor(golden.signal.values.length / Number(golden.expected.config.window)));
    for (const [, hz] of dominant) assert.equal(hz, expectedHz[golden.name], `${golden.name}: dominant frequency`);
  }
});

test('fft refuses a window that is not a power of two at start, like its reference', async () => {
  const built = await ensureBuilt(dirOf('fft'));
  await assert.rejects(sandboxFor(built, { window: 100 }), (error: Error & { kind?: string }) => {
    assert.equal(error.kind, 'invalid', String(error));
    assert.match(error.message, /fft: param window must be a power of two/);
    return true;
  });
  assert.throws(() => referenceFor('fft', { window: 100 }), /fft: param window must be a power of two/);
});

test('downsample and vibration pick extremes exactly as their references: -0 against 0, NaN, infinities', async () => {
  // Their extremes are chosen by integer selects on the samples' bits (no branch to mispredict);
  // `if (x < low) low = x` must still hold to the bit: a -0 never replaces a 0, a NaN never wins.
  const values = [0, -0, NaN, 5, -0, 0, -Infinity, 2, Infinity, NaN, NaN, NaN, -0, -0, 0, 0, 7, -7, NaN, 1];
  const signal = { timestamps: Float64Array.from(values, (_, i) => 1000 + i), values: Float64Array.from(values) };
  const cases: [name: string, config: ModuleConfig, metrics: string[]][] = [
    ['downsample', { window: 2 }, ['min', 'max']],
    ['downsample', { window: 3 }, ['min', 'max']],
    ['downsample', { window: 4 }, ['min', 'max']],
    ['vibration', { window: 2 }, ['peak']],
    ['vibration', { window: 4 }, ['peak']],
  ];
  for (const [name, config, metrics] of cases) {
    const built = await ensureBuilt(dirOf(name));
    for (const isolation of ISOLATIONS) {
      const sandbox = await sandboxFor(built, config, 4096, isolation);
      try {
        const expected = referenceFor(name, config).process(signal.timestamps, signal.values);
        const actual = await sandbox.process(signal.timestamps, signal.values);
        for (const metric of metrics) {
          const got = pointsOf(actual, metric);
          const want = pointsOf(expected, metric);
          assert.equal(got.length, want.length, `${name} ${JSON.stringify(config)} ${isolation}: ${metric} points`);
          want.forEach(([t, value], i) => {
            assert.equal(got[i]![0], t);
            assert.ok(Object.is(got[i]![1], value), `${name} ${JSON.stringify(config)} ${isolation}: ${metric}[${i}] is ${got[i]![1]}, reference ${value}`);
          });
        }
      } finally {
        await sandbox.close();
      }
    }
  }
});
