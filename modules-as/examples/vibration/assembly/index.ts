// Vibration severity over tumbling windows of `window` samples. Only running sums are kept, so
// memory does not grow with the window and a window may span any number of batches.
import { Batch, intParam, metric, onBatch } from "@wasmfleet/sdk";
export * from "@wasmfleet/sdk/exports";

const window = intParam("window");
const rms = metric("rms");
const peak = metric("peak");
const crest = metric("crest");

let filled: i32 = 0;
let sumSquares: f64 = 0;
let maxAbs: f64 = 0;

// The window's state lives in locals for the batch and the loop inside a window only
// accumulates: module globals would be read and written back on every sample. The peak is kept
// as its bits and chosen by an integer select, `if (abs > peak) peak = abs` to the bit (a NaN
// never wins): V8 turns a floating-point select back into a branch, which mispredicts on noisy
// samples, while an integer select becomes a conditional move. Every operation and its order
// are those of modules-as/reference/vibration.ts.
function process(batch: Batch): void {
  const n = batch.length;
  let got = filled;
  let squares = sumSquares;
  let peakBits = reinterpret<i64>(maxAbs);
  let i = 0;
  while (i < n) {
    // Up to the sample that completes the current window, or the end of the batch.
    const stop = min(n, i + (window - got));
    for (let j = i; j < stop; j++) {
      const x = batch.value(j);
      squares += x * x;
      const abs = Math.abs(x);
      peakBits = select<i64>(reinterpret<i64>(abs), peakBits, abs > reinterpret<f64>(peakBits));
    }
    got += stop - i;
    i = stop;
    if (got == window) {
      const t = batch.time(i - 1);
      const r = Math.sqrt(squares / <f64>window);
      const peakValue = reinterpret<f64>(peakBits);
      rms.emit(t, r);
      peak.emit(t, peakValue);
      // An all-zero window has no meaningful crest factor; 0 keeps the series finite.
      crest.emit(t, r > 0 ? peakValue / r : 0);
      got = 0;
      squares = 0;
      peakBits = 0; // the bits of +0.0
    }
  }
  filled = got;
  sumSquares = squares;
  maxAbs = reinterpret<f64>(peakBits);
}

onBatch(process);
