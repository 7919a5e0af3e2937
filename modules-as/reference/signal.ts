/**
 * A deterministic test signal shaped like a room temperature sensor: a slow sine around
 * 21.5 °C, seeded noise and rare spikes. Used by tests, benchmarks and demos so every run sees
 * the same samples without fixture files.
 */
export interface Signal {
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

export interface SignalOptions {
  readonly samples: number;
  readonly seed?: number;
  /** First timestamp, in ms since the epoch. */
  readonly start?: number;
  readonly intervalMs?: number;
}

/** mulberry32: tiny, fast, and the same sequence on every platform. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function temperatureSignal(options: SignalOptions): Signal {
  const next = random(options.seed ?? 42);
  const start = options.start ?? 1_700_000_000_000;
  const interval = options.intervalMs ?? 1000;
  const timestamps = new Float64Array(options.samples);
  const values = new Float64Array(options.samples);
  for (let i = 0; i < options.samples; i++) {
    timestamps[i] = start + i * interval;
    const noise = (next() - 0.5) * 0.6;
    const spike = next() < 0.01 ? (next() < 0.5 ? -1 : 1) * (4 + next() * 4) : 0;
    values[i] = 21.5 + 2.5 * Math.sin((2 * Math.PI * i) / 600) + noise + spike;
  }
  return { timestamps, values };
}

/** Cuts a signal into consecutive batches of the given sizes, cycling through them. */
export function* batchesOf(signal: Signal, sizes: readonly number[]): Generator<Signal> {
  let at = 0;
  for (let k = 0; at < signal.values.length; k++) {
    const size = sizes[k % sizes.length]!;
    const end = Math.min(at + size, signal.values.length);
    yield { timestamps: signal.timestamps.subarray(at, end), values: signal.values.subarray(at, end) };
    at = end;
  }
}
