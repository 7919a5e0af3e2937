/**
 * A deterministic accelerometer-like signal: a sum of sines at known frequencies plus seeded
 * noise, sampled like the sim-x86-64 `vibration` source (400 Hz). Known tones let a test assert
 * what an FFT must find, not only that Wasm and reference agree.
 */
import { random, type Signal } from './signal.js';

export interface Tone {
  readonly hz: number;
  readonly amplitude: number;
}

export interface VibrationSignalOptions {
  readonly samples: number;
  readonly tones: readonly Tone[];
  readonly rateHz?: number;
  /** Peak-to-peak of the uniform noise. */
  readonly noise?: number;
  readonly offset?: number;
  readonly seed?: number;
  /** First timestamp, in ms since the epoch. */
  readonly start?: number;
  /** Decimal places kept, so the values survive a round trip through a CSV file exactly. */
  readonly decimals?: number;
}

export function vibrationSignal(options: VibrationSignalOptions): Signal {
  const next = random(options.seed ?? 2);
  const rateHz = options.rateHz ?? 400;
  const start = options.start ?? 1_700_000_000_000;
  const noise = options.noise ?? 0.05;
  const decimals = options.decimals ?? 6;
  const timestamps = new Float64Array(options.samples);
  const values = new Float64Array(options.samples);
  for (let i = 0; i < options.samples; i++) {
    const seconds = i / rateHz;
    timestamps[i] = start + (i * 1000) / rateHz;
    let x = options.offset ?? 0;
    for (const tone of options.tones) x += tone.amplitude * Math.sin(2 * Math.PI * tone.hz * seconds);
    x += (next() - 0.5) * noise;
    values[i] = Number(x.toFixed(decimals));
  }
  return { timestamps, values };
}
