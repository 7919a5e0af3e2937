/**
 * Seeded synthetic signal for `kind: "simulated"` profile sources. value(i) depends only on the
 * source config and the sample index i, so any result can be replayed from (source, firstSeq,
 * count): offset + sine + noise + random walk + spikes. Noise, walk steps and spikes come from a
 * hash of (seed, index, stream) rather than a running PRNG, so a window can be regenerated on its
 * own; only the random walk is cumulative, and its partial sums are checkpointed.
 */
import type { SimulatedSource } from '../../firmware-profiles/index.js';
import type { SampleBlock, Source } from './source.js';

const TWO_POW_32 = 4294967296;
/** Walk partial sums are kept every this many samples, so a replay restarts near its window. */
const WALK_CHECKPOINT_EVERY = 65536;

const enum Stream {
  NoiseA = 1,
  NoiseB = 2,
  Walk = 3,
  SpikeDraw = 4,
  SpikeSign = 5,
}

/** murmur3's 32-bit finaliser: a cheap, well-mixed hash. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in (0, 1), a pure function of (seed, index, stream). Indexes past 2^32 stay distinct. */
export function uniformAt(seed: number, index: number, stream: number): number {
  const lo = index >>> 0;
  const hi = Math.floor(index / TWO_POW_32) >>> 0;
  let h = fmix32((seed >>> 0) ^ Math.imul(stream, 0x9e3779b1));
  h = fmix32(h ^ lo);
  h = fmix32(h ^ Math.imul(hi + 1, 0x27d4eb2f));
  return (h + 0.5) / TWO_POW_32;
}

/** Standard normal via Box-Muller on two index-keyed uniforms. */
function gaussianAt(seed: number, index: number): number {
  const u1 = uniformAt(seed, index, Stream.NoiseA);
  const u2 = uniformAt(seed, index, Stream.NoiseB);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export interface Signal {
  readonly config: SimulatedSource;
  value(index: number): number;
  /** `count` consecutive values starting at `firstSeq`. */
  valuesFrom(firstSeq: number, count: number): Float64Array;
}

/**
 * The seed a device actually uses: the profile's seed mixed with the device id, so every device
 * of a profile has its own signal (a fleet of identical sensors would hide per-device bugs)
 * while each stays replayable from (profile, device id, index).
 */
export function deviceSeed(seed: number, deviceId: string | undefined): number {
  if (deviceId === undefined) return seed >>> 0;
  let h = 0x811c9dc5; // FNV-1a over the id's UTF-16 code units
  for (let i = 0; i < deviceId.length; i += 1) h = Math.imul(h ^ deviceId.charCodeAt(i), 0x01000193);
  return fmix32((seed >>> 0) ^ h);
}

/** The pure generator behind a simulated source; tests use it to replay exact sample values. */
export function createSignal(config: SimulatedSource, deviceId?: string): Signal {
  const seed = deviceSeed(config.seed ?? 1, deviceId);
  const offset = config.offset ?? 0;
  const samplesPerPeriod = config.sine ? config.sine.periodS * config.rateHz : 0;
  const walkStep = config.randomWalk?.step ?? 0;
  // checkpoints[k] = walk at index k * WALK_CHECKPOINT_EVERY; walk(0) = 0.
  const checkpoints: number[] = [0];
  let cursorIndex = 0;
  let cursorWalk = 0;

  const stepAt = (index: number): number => (uniformAt(seed, index, Stream.Walk) < 0.5 ? -walkStep : walkStep);

  /** walk(i) = sum of steps 1..i, always summed in the same order so every path agrees bit for bit. */
  const walkAt = (index: number): number => {
    if (walkStep === 0) return 0;
    if (index < cursorIndex) {
      const k = Math.min(Math.floor(index / WALK_CHECKPOINT_EVERY), checkpoints.length - 1);
      cursorIndex = k * WALK_CHECKPOINT_EVERY;
      cursorWalk = checkpoints[k]!;
    }
    while (cursorIndex < index) {
      cursorIndex += 1;
      cursorWalk += stepAt(cursorIndex);
      if (cursorIndex % WALK_CHECKPOINT_EVERY === 0 && cursorIndex / WALK_CHECKPOINT_EVERY === checkpoints.length) {
        checkpoints.push(cursorWalk);
      }
    }
    return cursorWalk;
  };

  const value = (index: number): number => {
    let v = offset;
    if (config.sine) v += config.sine.amplitude * Math.sin((2 * Math.PI * index) / samplesPerPeriod);
    if (config.noise && config.noise.stddev > 0) v += config.noise.stddev * gaussianAt(seed, index);
    v += walkAt(index);
    if (config.spikes && uniformAt(seed, index, Stream.SpikeDraw) < config.spikes.probability) {
      v += uniformAt(seed, index, Stream.SpikeSign) < 0.5 ? -config.spikes.magnitude : config.spikes.magnitude;
    }
    return v;
  };

  return {
    config,
    value,
    valuesFrom(firstSeq, count) {
      if (!Number.isSafeInteger(firstSeq) || firstSeq < 0) throw new RangeError(`firstSeq must be a non-negative integer, got ${firstSeq}`);
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = value(firstSeq + i);
      return out;
    },
  };
}

/** Timestamp of sample `seq` of a source started at `startedAt` (epoch ms). */
export function sampleTime(startedAt: number, rateHz: number, seq: number): number {
  return startedAt + (seq * 1000) / rateHz;
}

/** A simulated source: sample `seq` is due at sampleTime(startedAt, rateHz, seq). */
export function createSimulatedSource(config: SimulatedSource, deviceId?: string): Source {
  const signal = createSignal(config, deviceId);
  let startedAt: number | undefined;
  let nextSeq = 0;

  /** Number of samples due by `now` (seq 0 is due at the start instant). */
  const dueBy = (now: number): number =>
    startedAt === undefined || now < startedAt ? 0 : Math.floor(((now - startedAt) * config.rateHz) / 1000) + 1;

  return {
    id: config.id,
    kind: 'simulated',
    rateHz: config.rateHz,
    start(at) {
      startedAt = at;
      nextSeq = 0;
    },
    stop() {
      startedAt = undefined;
    },
    take(now, max): SampleBlock | undefined {
      if (startedAt === undefined) return undefined;
      const count = Math.min(max, dueBy(now) - nextSeq);
      if (count <= 0) return undefined;
      const firstSeq = nextSeq;
      const timestamps = new Float64Array(count);
      for (let i = 0; i < count; i++) timestamps[i] = sampleTime(startedAt, config.rateHz, firstSeq + i);
      nextSeq += count;
      return { sourceId: config.id, firstSeq, timestamps, values: signal.valuesFrom(firstSeq, count) };
    },
    skip(now) {
      const skipped = Math.max(0, dueBy(now) - nextSeq);
      nextSeq += skipped;
      return skipped;
    },
  };
}
