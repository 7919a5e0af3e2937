// Dominant frequency by FFT over tumbling windows of `window` samples. Everything that depends
// only on the window size (Hann weights, twiddles, bit-reversal order) is computed once at start
// into buffers allocated at top level: the stub runtime never frees, so a window must not allocate.
// modules-as/reference/fft.ts repeats this arithmetic in the same order.
import { Batch, intParam, metric, onBatch, param } from "@wasmfleet/sdk";
export * from "@wasmfleet/sdk/exports";

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

// Loops are unrolled by hand where that keeps every operation and its order: each loop
// iteration on the agent costs a CPU-budget checkpoint (docs/modules.md, metering), and the
// butterflies of the first stages are too small to pay for one each.

/** One radix-2 butterfly on re/im[a] and re/im[b] with twiddle (wr, wi). */
// @ts-ignore: decorator
@inline
function butterfly(a: i32, b: i32, wr: f64, wi: f64): void {
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

function analyse(t: f64): void {
  // window is a power of two >= 2: every loop below runs an even number of times.
  let sum: f64 = 0;
  for (let i = 0; i < window; i += 2) {
    sum += unchecked(samples[i]);
    sum += unchecked(samples[i + 1]);
  }
  const mean = sum / n;
  // Loading in bit-reversed order lets the butterflies below run in place in natural order.
  for (let i = 0; i < window; i += 2) {
    const j = unchecked(reversed[i]);
    unchecked((re[j] = (unchecked(samples[i]) - mean) * unchecked(hann[i])));
    unchecked((im[j] = 0));
    const k = unchecked(reversed[i + 1]);
    unchecked((re[k] = (unchecked(samples[i + 1]) - mean) * unchecked(hann[i + 1])));
    unchecked((im[k] = 0));
  }
  // Stage 1 (size 2): one butterfly per pair, all with twiddle 0.
  const w0r = unchecked(twiddleRe[0]);
  const w0i = unchecked(twiddleIm[0]);
  for (let start = 0; start < window; start += 2) butterfly(start, start + 1, w0r, w0i);
  for (let size = 4; size <= window; size <<= 1) {
    const span = size >> 1;
    const stride = window / size;
    for (let start = 0; start < window; start += size) {
      for (let j = 0; j < span; j += 2) {
        butterfly(start + j, start + j + span, unchecked(twiddleRe[j * stride]), unchecked(twiddleIm[j * stride]));
        butterfly(start + j + 1, start + j + 1 + span, unchecked(twiddleRe[(j + 1) * stride]), unchecked(twiddleIm[(j + 1) * stride]));
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
  const length = batch.length;
  let i = 0;
  while (i < length) {
    const take = min(length - i, window - filled);
    batch.copyValues(i, take, changetype<usize>(samples) + (<usize>filled << 3));
    filled += take;
    i += take;
    if (filled == window) {
      analyse(batch.time(i - 1));
      filled = 0;
    }
  }
}

onBatch(process);
