import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadProfile, type SimulatedSource } from '../../firmware-profiles/index.js';
import { createSignal, createSimulatedSource, sampleTime } from '../../device-agent/sources/index.js';

const temperature = loadProfile('sim-x86-64').sources[0] as SimulatedSource;

test('devices sharing a profile get their own signal, each still replayable', () => {
  const north = createSignal(temperature, 'gw-north').valuesFrom(0, 2000);
  assert.deepEqual(createSignal(temperature, 'gw-north').valuesFrom(0, 2000), north);
  assert.notDeepEqual(createSignal(temperature, 'gw-south').valuesFrom(0, 2000), north);
  assert.notDeepEqual(createSignal(temperature).valuesFrom(0, 2000), north);
});

test('the same config gives the same values; another seed does not', () => {
  const a = createSignal(temperature).valuesFrom(0, 5000);
  const b = createSignal(temperature).valuesFrom(0, 5000);
  assert.deepEqual(a, b);
  const c = createSignal({ ...temperature, seed: 99 }).valuesFrom(0, 5000);
  assert.notDeepEqual(a, c);
  assert.ok(a.every(Number.isFinite));
});

test('a replayed window equals the values generated in sequence, in any order of access', () => {
  const live = createSignal(temperature).valuesFrom(0, 200_000);
  const replay = createSignal(temperature);
  // Far window first (forces the walk forward), then an early one (restarts from a checkpoint).
  assert.deepEqual(replay.valuesFrom(150_000, 1000), live.subarray(150_000, 151_000));
  assert.deepEqual(replay.valuesFrom(70_000, 500), live.subarray(70_000, 70_500));
  assert.deepEqual(replay.valuesFrom(3, 10), live.subarray(3, 13));
  assert.equal(replay.value(199_999), live[199_999]);
});

test('components behave: offset only, sine period, spikes at their rate', () => {
  const flat = createSignal({ kind: 'simulated', id: 'x', rateHz: 10, seed: 1, offset: 5 });
  assert.deepEqual([...flat.valuesFrom(0, 4)], [5, 5, 5, 5]);
  const sine = createSignal({ kind: 'simulated', id: 'x', rateHz: 100, seed: 1, offset: 0, sine: { amplitude: 2, periodS: 1 } });
  assert.ok(Math.abs(sine.value(25) - 2) < 1e-12, 'a quarter period is the peak');
  const spiky = createSignal({ kind: 'simulated', id: 'x', rateHz: 100, seed: 7, offset: 0, spikes: { probability: 0.1, magnitude: 3 } });
  const spikes = spiky.valuesFrom(0, 20_000).filter((v) => v !== 0).length;
  assert.ok(spikes > 1700 && spikes < 2300, `about 10% spikes, got ${spikes}`);
});

test('a source hands out each due sample once, timestamped start + seq * 1000 / rateHz', () => {
  const source = createSimulatedSource(temperature);
  const t0 = 1_700_000_000_000;
  source.start(t0);
  const first = source.take(t0 + 95, 1000)!;
  assert.equal(first.firstSeq, 0);
  assert.equal(first.values.length, 10, 'samples 0..9 are due at 95 ms at 100 Hz');
  assert.equal(first.timestamps[9], t0 + 90);
  assert.equal(source.take(t0 + 95, 1000), undefined);
  const capped = source.take(t0 + 995, 30)!;
  assert.equal(capped.firstSeq, 10);
  assert.equal(capped.values.length, 30);
  assert.equal(source.skip(t0 + 995), 60);
  const next = source.take(t0 + 1000, 1000)!;
  assert.equal(next.firstSeq, 100);
  assert.equal(next.timestamps[0], sampleTime(t0, 100, 100));
  assert.deepEqual(next.values, createSignal(temperature).valuesFrom(100, 1));
});
