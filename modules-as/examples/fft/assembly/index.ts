// Dominant frequency by FFT over tumbling windows of `window` samples. Everything that depends
// only on the window size (Hann weights, twiddles, bit-reversal order) is computed once at start
// into buffers allocated at top level: the stub runtime never frees, so a window must not allocate.
// modules-as/reference/fft.ts repeats this arithmetic in the same order.
import { Batch, intParam, metric, onBatch, param } from "../../../sdk/assembly";
export * from "../../../sdk/assembly/exports";

const E_WINDOW_NOT_POW2 = "fft: param window must be a power of two";

const window = intParam("window");
const rateHz = param("rateHz");
if (window < 2 || (window & (window - 1)) != 0) throw new Error(E_WINDOW_NOT_POW2);

const dominantHz = metric("dominant_hz");
const magnitude = metric("magnitude");

const n = <f64>window;
const half = window >> 1;
const step = (2 * Math.PI) / n;
const bits = ctz(window);

const samples = new StaticArray<f64>(window);
const re = new StaticArray<f64>(window);
const im = new StaticArray<f64>(window);
const hann = new StaticArray<f64>(window);
const reversed = new StaticArray<i32>(window);
const twiddleRe = new StaticArray<f64>(half);
const twiddleIm = new StaticArray<f64>(half);

for (let i = 0; i < window; i++) {
  unchecked((hann[i] = 0.5 - 0.5 * Math.cos(<f64>i * step)));
  let r = 0;
  for (let b = 0; b < bits; b++) r = (r << 1) | ((i >> b) & 1);
  unchecked((reversed[i] = r));
}
for (let k = 0; k < half; k++) {
  const angle = <f64>k * step;
  unchecked((twiddleRe[k] = Math.cos(angle)));
  unchecked((twiddleIm[k] = -Math.sin(angle)));
}

let filled: i32 = 0;

function analyse(t: f64): void {
  let sum: f64 = 0;
  for (let i = 0; i < window; i++) sum += unchecked(samples[i]);
  const mean = sum / n;
  // Loading in bit-reversed order lets the butterflies below run in place in natural order.
  for (let i = 0; i < window; i++) {
    const j = unchecked(reversed[i]);
    unchecked((re[j] = (unchecked(samples[i]) - mean) * unchecked(hann[i])));
    unchecked((im[j] = 0));
  }
  for (let size = 2; size <= window; size <<= 1) {
    const span = size >> 1;
    const stride = window / size;
    for (let start = 0; start < window; start += size) {
      for (let j = 0; j < span; j++) {
        const wr = unchecked(twiddleRe[j * stride]);
        const wi = unchecked(twiddleIm[j * stride]);
        const a = start + j;
        const b = a + span;
        const br = unchecked(re[b]);
        const bi = unchecked(im[b]);
        const tr = wr * br - wi * bi;
        const ti = wr * bi + wi * br;
        const ar = unchecked(re[a]);
        const ai = unchecked(im[a]);
        unchecked((re[b] = ar - tr));
        unchecked((im[b] = ai - ti));
        unchecked((re[a] = ar + tr));
        unchecked((im[a] = ai + ti));
      }
    }
  }
  // Bin 0 is excluded: after removing the mean it holds only rounding noise.
  let best = 1;
  let bestPower: f64 = -1;
  for (let k = 1; k <= half; k++) {
    const power = unchecked(re[k]) * unchecked(re[k]) + unchecked(im[k]) * unchecked(im[k]);
    if (power > bestPower) {
      bestPower = power;
      best = k;
    }
  }
  dominantHz.emit(t, (<f64>best * rateHz) / n);
  magnitude.emit(t, Math.sqrt(bestPower) / n);
}

function process(batch: Batch): void {
  for (let i = 0; i < batch.length; i++) {
    unchecked((samples[filled] = batch.value(i)));
    if (++filled == window) {
      analyse(batch.time(i));
      filled = 0;
    }
  }
}

onBatch(process);
