/**
 * Plain TypeScript twin of modules-as/examples/fft: the same precomputed tables and the same
 * butterflies in the same order. The only arithmetic that could differ from the Wasm build is
 * Math.cos/Math.sin (AssemblyScript's musl port vs V8's fdlibm port); on Node 20 they agree bit
 * for bit for every window from 16 to 4096, so outputs compare with the shared 1e-9 tolerance.
 */
import type { ModuleConfig } from '../../protocol/index.js';
import { OutputCollector, numberParam, type ReferenceOptions } from './output.js';
import type { ReferenceModule } from './types.js';

export const FFT_WINDOW_NOT_POW2 = 'fft: param window must be a power of two';

export function createFft(config: ModuleConfig = {}, options: ReferenceOptions = {}): ReferenceModule {
  const window = Math.trunc(numberParam(config, 'window', 256));
  const rateHz = numberParam(config, 'rateHz', 400);
  if (window < 2 || (window & (window - 1)) !== 0) throw new RangeError(FFT_WINDOW_NOT_POW2);
  const out = new OutputCollector(options.maxOutputs);

  const n = window;
  const half = window >> 1;
  const step = (2 * Math.PI) / n;
  const bits = 31 - Math.clz32(window);
  const samples = new Float64Array(window);
  const re = new Float64Array(window);
  const im = new Float64Array(window);
  const hann = new Float64Array(window);
  const reversed = new Int32Array(window);
  const twiddleRe = new Float64Array(half);
  const twiddleIm = new Float64Array(half);
  for (let i = 0; i < window; i++) {
    hann[i] = 0.5 - 0.5 * Math.cos(i * step);
    let r = 0;
    for (let b = 0; b < bits; b++) r = (r << 1) | ((i >> b) & 1);
    reversed[i] = r;
  }
  for (let k = 0; k < half; k++) {
    const angle = k * step;
    twiddleRe[k] = Math.cos(angle);
    twiddleIm[k] = -Math.sin(angle);
  }

  let filled = 0;

  function analyse(t: number): void {
    let sum = 0;
    for (let i = 0; i < window; i++) sum += samples[i]!;
    const mean = sum / n;
    for (let i = 0; i < window; i++) {
      const j = reversed[i]!;
      re[j] = (samples[i]! - mean) * hann[i]!;
      im[j] = 0;
    }
    for (let size = 2; size <= window; size <<= 1) {
      const span = size >> 1;
      const stride = (window / size) | 0;
      for (let start = 0; start < window; start += size) {
        for (let j = 0; j < span; j++) {
          const wr = twiddleRe[j * stride]!;
          const wi = twiddleIm[j * stride]!;
          const a = start + j;
          const b = a + span;
          const br = re[b]!;
          const bi = im[b]!;
          const tr = wr * br - wi * bi;
          const ti = wr * bi + wi * br;
          const ar = re[a]!;
          const ai = im[a]!;
          re[b] = ar - tr;
          im[b] = ai - ti;
          re[a] = ar + tr;
          im[a] = ai + ti;
        }
      }
    }
    let best = 1;
    let bestPower = -1;
    for (let k = 1; k <= half; k++) {
      const power = re[k]! * re[k]! + im[k]! * im[k]!;
      if (power > bestPower) {
        bestPower = power;
        best = k;
      }
    }
    out.metric('dominant_hz', t, (best * rateHz) / n);
    out.metric('magnitude', t, Math.sqrt(bestPower) / n);
  }

  return {
    process(timestamps, values) {
      for (let i = 0; i < values.length; i++) {
        samples[filled] = values[i]!;
        if (++filled === window) {
          analyse(timestamps[i]!);
          filled = 0;
        }
      }
      return out.finish();
    },
  };
}
