// Windowed downsampling: one (min, max, mean, count) summary per `window` samples, so a fast
// sensor can be shipped upstream at a fraction of its rate without hiding its extremes.
import { Batch, intParam, metric, onBatch } from "@wasmfleet/sdk";
export * from "@wasmfleet/sdk/exports";

const window = intParam("window");
const minimum = metric("min");
const maximum = metric("max");
const mean = metric("mean");
const count = metric("count");

let filled: i32 = 0;
let sum: f64 = 0;
let lo: f64 = Infinity;
let hi: f64 = -Infinity;

// The window's state lives in locals for the batch, and the loop inside a window does nothing
// but accumulate: module globals would be read and written back on every sample. Every
// operation and its order are those of modules-as/reference/downsample.ts.
function process(batch: Batch): void {
  const n = batch.length;
  let got = filled;
  let total = sum;
  // The extremes are kept as their bits: `if (x < low) low = x` exactly (a NaN or a -0 never
  // replaces `low`), chosen by an integer select. V8 turns a floating-point select back into a
  // branch, which mispredicts on noisy samples; an integer select becomes a conditional move.
  let lowBits = reinterpret<i64>(lo);
  let highBits = reinterpret<i64>(hi);
  let i = 0;
  while (i < n) {
    // Up to the sample that completes the current window, or the end of the batch.
    const stop = min(n, i + (window - got));
    for (let j = i; j < stop; j++) {
      const x = batch.value(j);
      const bits = reinterpret<i64>(x);
      total += x;
      lowBits = select<i64>(bits, lowBits, x < reinterpret<f64>(lowBits));
      highBits = select<i64>(bits, highBits, x > reinterpret<f64>(highBits));
    }
    got += stop - i;
    i = stop;
    if (got == window) {
      const t = batch.time(i - 1);
      minimum.emit(t, reinterpret<f64>(lowBits));
      maximum.emit(t, reinterpret<f64>(highBits));
      mean.emit(t, total / <f64>window);
      count.emit(t, <f64>window);
      got = 0;
      total = 0;
      lowBits = reinterpret<i64>(Infinity);
      highBits = reinterpret<i64>(-Infinity);
    }
  }
  filled = got;
  sum = total;
  lo = reinterpret<f64>(lowBits);
  hi = reinterpret<f64>(highBits);
}

onBatch(process);
