// Windowed downsampling: one (min, max, mean, count) summary per `window` samples, so a fast
// sensor can be shipped upstream at a fraction of its rate without hiding its extremes.
import { Batch, intParam, metric, onBatch } from "../../../sdk/assembly";
export * from "../../../sdk/assembly/exports";

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
  let low = lo;
  let high = hi;
  let i = 0;
  while (i < n) {
    // Up to the sample that completes the current window, or the end of the batch.
    const stop = min(n, i + (window - got));
    for (let j = i; j < stop; j++) {
      const x = batch.value(j);
      total += x;
      if (x < low) low = x;
      if (x > high) high = x;
    }
    got += stop - i;
    i = stop;
    if (got == window) {
      const t = batch.time(i - 1);
      minimum.emit(t, low);
      maximum.emit(t, high);
      mean.emit(t, total / <f64>window);
      count.emit(t, <f64>window);
      got = 0;
      total = 0;
      low = Infinity;
      high = -Infinity;
    }
  }
  filled = got;
  sum = total;
  lo = low;
  hi = high;
}

onBatch(process);
