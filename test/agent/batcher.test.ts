import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SourceBatcher } from '../../device-agent/batcher.js';
import { createSimulatedSource } from '../../device-agent/sources/index.js';
import type { SampleBlock } from '../../device-agent/sources/source.js';

const config = { kind: 'simulated' as const, id: 'temp', rateHz: 100, seed: 1, offset: 0 };
const T0 = 1_000_000;

test('batches cover every sample once, capped at maxSamples, to every consumer', async () => {
  const batcher = new SourceBatcher(createSimulatedSource(config), { intervalMs: 250, maxSamples: 20 });
  const seen: Record<string, SampleBlock[]> = { a: [], b: [] };
  for (const id of ['a', 'b']) batcher.subscribe({ id, process: async (batch) => void seen[id]!.push(batch) });
  batcher.start(T0, true);
  assert.equal(batcher.tickMs, 200, 'the source fills 20 samples in 200 ms, before the 250 ms interval');
  batcher.tick(T0 + 199);
  batcher.tick(T0 + 399);
  await new Promise((resolve) => setImmediate(resolve));
  for (const batches of Object.values(seen)) {
    assert.deepEqual(batches.map((b) => [b.firstSeq, b.values.length]), [[0, 20], [20, 20]]);
  }
  assert.notEqual(seen.a![0]!.values, seen.b![0]!.values, 'each consumer owns its arrays');
  batcher.stop();
});

test('a busy consumer gets at most maxQueued waiting batches; the oldest are dropped and counted', async () => {
  const batcher = new SourceBatcher(createSimulatedSource(config), { intervalMs: 100, maxSamples: 10, maxQueued: 2 });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const processed: number[] = [];
  const subscription = batcher.subscribe({
    id: 'slow',
    process: async (batch) => {
      processed.push(batch.firstSeq);
      if (processed.length === 1) await gate;
    },
  });
  batcher.start(T0, true);
  for (let i = 1; i <= 6; i++) batcher.tick(T0 + i * 100 - 1);
  assert.deepEqual(subscription.stats(), { delivered: 0, queued: 2, droppedBatches: 3, droppedSamples: 30 });
  release();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(processed, [0, 40, 50], 'the freshest batches survive');
  assert.equal(subscription.stats().delivered, 3);
  batcher.stop();
});

test('without consumers samples are skipped, and a stalled loop does not cause a burst', () => {
  const batcher = new SourceBatcher(createSimulatedSource(config), { intervalMs: 100, maxSamples: 10, maxCatchUpBatches: 3 });
  batcher.start(T0, true);
  batcher.tick(T0 + 999);
  assert.equal(batcher.stats().skippedSamples, 100);
  const got: number[] = [];
  batcher.subscribe({ id: 'c', process: async (batch) => void got.push(batch.firstSeq) });
  batcher.tick(T0 + 10_999);
  assert.deepEqual(got, [100]);
  assert.equal(batcher.stats().batches, 3);
  assert.equal(batcher.stats().skippedSamples, 100 + 1000 - 30);
  batcher.stop();
});
