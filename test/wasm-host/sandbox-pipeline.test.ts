// Pipelined batches: a caller may hand the sandbox several batches before the first settles.
// Module state is sequential, so results must be exactly those of one-at-a-time calls, settle in
// order, and a fault anywhere must reject every batch still in flight and end the worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSandbox } from '../../wasm-host/module-sandbox.js';
import { PIPELINE_DEPTH } from '../../wasm-host/worker-protocol.js';
import type { BatchOutput, SandboxLimits } from '../../wasm-host/types.js';
import { effectiveConfig } from '../../protocol/index.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { batchesOf, referenceFor, temperatureSignal } from '../../modules-as/reference/index.js';
import { assertSameOutput } from '../modules-as/compare.js';
import { batch, example, hostile, isFault, openSandbox } from './sandbox-helpers.js';
import { ModuleRunner } from '../../device-agent/module-runner.js';
import { silentLogger } from '../../common/logger.js';
import type { ResultBatch } from '../../protocol/index.js';

const LIMITS: SandboxLimits = { memoryPages: 8, cpuMsPerBatch: 300, maxOutputsPerBatch: 1024 };

const open = (t: { after(fn: () => Promise<void>): void }, dir: string, limits: SandboxLimits = LIMITS) => openSandbox(t, dir, limits);

/** Settles every promise and records, in order of settling, which index settled how. */
async function settleOrder(promises: Promise<BatchOutput>[]): Promise<{ order: number[]; results: PromiseSettledResult<BatchOutput>[] }> {
  const order: number[] = [];
  promises.forEach((promise, i) => promise.then(() => order.push(i), () => order.push(i)));
  const results = await Promise.allSettled(promises);
  return { order, results };
}

test('pipelined batches give exactly the sequential results, in order', async (t) => {
  const sequential = await open(t, example('ema'));
  const pipelined = await open(t, example('ema'));
  const signal = temperatureSignal({ samples: 20_000, seed: 5 });
  const parts = [...batchesOf(signal, [256, 100, 7, 1, 255, 64])];
  const expected: BatchOutput[] = [];
  for (const part of parts) expected.push(await sequential.process(part.timestamps, part.values));

  const inFlight: Promise<BatchOutput>[] = [];
  const actual: BatchOutput[] = [];
  for (const part of parts) {
    if (inFlight.length === PIPELINE_DEPTH) actual.push(await inFlight.shift()!);
    inFlight.push(pipelined.process(part.timestamps, part.values));
  }
  actual.push(...(await Promise.all(inFlight)));
  assert.equal(actual.length, parts.length);
  assert.deepEqual(actual, expected);

  // The same module state carries on: a reference fed every batch agrees with both.
  const reference = referenceFor('ema');
  for (const [i, part] of parts.entries()) assertSameOutput(expected[i]!, reference.process(part.timestamps, part.values), `batch ${i}`);
});

test('a full ring makes callers wait, never drops, and settles in order', async (t) => {
  const sandbox = await open(t, example('ema'));
  const reference = referenceFor('ema');
  const parts = [...batchesOf(temperatureSignal({ samples: 256 * PIPELINE_DEPTH * 3, seed: 9 }), [256])];
  assert.ok(parts.length > PIPELINE_DEPTH * 2);
  // All handed over at once, with no await in between: most must wait for a slot.
  const { order, results } = await settleOrder(parts.map((part) => sandbox.process(part.timestamps, part.values)));
  assert.deepEqual(order, parts.map((_, i) => i));
  for (const [i, result] of results.entries()) {
    assert.equal(result.status, 'fulfilled', `batch ${i}`);
    const part = parts[i]!;
    assertSameOutput((result as PromiseFulfilledResult<BatchOutput>).value, reference.process(part.timestamps, part.values), `batch ${i}`);
  }
});

test('a trap in the middle rejects every batch in flight and ends the sandbox', async (t) => {
  const sandbox = await open(t, hostile('faulty'));
  const values = [1, 2, 2e6, 3, 4, 5, 6];
  const { order, results } = await settleOrder(values.map((value) => sandbox.process(...batch(value))));
  assert.deepEqual(order, values.map((_, i) => i));
  assert.deepEqual((results[0] as PromiseFulfilledResult<BatchOutput>).value, { metrics: [{ name: 'count', points: [[1000, 1]] }], events: [], dropped: 0 });
  assert.equal(results[1]!.status, 'fulfilled');
  const reasons = results.slice(2).map((result) => (result as PromiseRejectedResult).reason as unknown);
  assert.ok(isFault('trap', /^trap: .*unreachable/)(reasons[0]));
  for (const reason of reasons.slice(1)) assert.ok(isFault('trap', /cancelled.*unreachable/)(reason));
  await assert.rejects(sandbox.process(...batch(1)), isFault('trap', /unreachable/));
});

test('a runaway batch in the middle is stopped by the watchdog and cancels the rest', async (t) => {
  const budget = 200;
  const sandbox = await open(t, hostile('spin'), { ...LIMITS, cpuMsPerBatch: budget });
  const started = performance.now();
  const values = [1, 2, 500, 3, 4];
  const { order, results } = await settleOrder(values.map((value) => sandbox.process(...batch(value))));
  const elapsed = performance.now() - started;
  assert.deepEqual(order, values.map((_, i) => i));
  assert.equal(results[0]!.status, 'fulfilled');
  assert.equal(results[1]!.status, 'fulfilled');
  const reasons = results.slice(2).map((result) => (result as PromiseRejectedResult).reason as unknown);
  assert.ok(isFault('timeout', /^batch exceeded its budget of 200 ms/)(reasons[0]));
  for (const reason of reasons.slice(1)) assert.ok(isFault('timeout', /cancelled/)(reason));
  // Stopped after its budget, and within about twice of it (the rest is test-machine slack).
  assert.ok(elapsed >= budget, `stopped after ${elapsed} ms`);
  assert.ok(elapsed < budget * 2 + 300, `stopped after ${elapsed} ms`);
  await assert.rejects(sandbox.process(...batch(1)), isFault('timeout', /budget/));
});

test('close rejects every batch in flight or waiting for a slot', async (t) => {
  const sandbox = await open(t, hostile('spin'), { ...LIMITS, cpuMsPerBatch: 5000 });
  const settled = Promise.allSettled([500, 1, 2, 3, 4, 5].map((value) => sandbox.process(...batch(value))));
  await new Promise((resolve) => setTimeout(resolve, 50));
  await sandbox.close();
  const results = await settled;
  assert.equal(results.length, 6);
  for (const result of results) assert.ok(isFault('crash', /closed/)((result as PromiseRejectedResult).reason));
});

test('the runner drains a backlog pipelined and publishes in order with consecutive seqs', async (t) => {
  const built = await ensureBuilt(example('ema'));
  const published: ResultBatch[] = [];
  let seq = 100;
  const runner = new ModuleRunner(
    {
      desired: { name: 'ema', version: built.manifest.version, sha256: '0'.repeat(64), size: built.bytes.length, deploymentId: 'd1', config: {} },
      module: { sha256: '0'.repeat(64), manifest: built.manifest, wasm: built.bytes.slice() },
      sourceId: 'temp',
      config: effectiveConfig(built.manifest, {}),
      limits: { memoryPages: 8, cpuMsPerBatch: 2000, maxOutputsPerBatch: 1024 },
      batchCapacity: 256,
    },
    {
      deviceId: 'dev-1',
      startSandbox,
      nextResultSeq: () => seq++,
      publishResult: (batch) => published.push(batch),
      onStateChange: () => {},
      logger: silentLogger,
    },
  );
  t.after(() => runner.stop());
  assert.equal(runner.concurrency, PIPELINE_DEPTH);
  await runner.start();
  const reference = referenceFor('ema');
  const parts = [...batchesOf(temperatureSignal({ samples: 256 * 24, seed: 4 }), [256, 100])];
  let firstSeq = 0;
  const blocks = parts.map((part) => {
    const block = { sourceId: 'temp', firstSeq, timestamps: part.timestamps.slice(), values: part.values.slice() };
    firstSeq += part.values.length;
    return block;
  });
  // A backlog, as the batcher hands it over: up to `concurrency` before the first settles.
  const inFlight: Promise<void>[] = [];
  for (const block of blocks) {
    if (inFlight.length === runner.concurrency) await inFlight.shift();
    inFlight.push(runner.process(block));
  }
  await Promise.all(inFlight);
  assert.equal(runner.report().batches, blocks.length);
  assert.deepEqual(published.map((batch) => batch.seq), blocks.map((_, i) => 100 + i));
  assert.deepEqual(published.map((batch) => batch.input.firstSeq), blocks.map((block) => block.firstSeq));
  for (const [i, part] of parts.entries()) {
    const expected = reference.process(part.timestamps, part.values);
    assertSameOutput({ metrics: published[i]!.metrics, events: published[i]!.events, dropped: published[i]!.dropped }, expected, `batch ${i}`);
  }
});
