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

function process(batch: Batch): void {
  for (let i = 0; i < batch.length; i++) {
    const x = batch.value(i);
    sum += x;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    if (++filled == window) {
      const t = batch.time(i);
      minimum.emit(t, lo);
      maximum.emit(t, hi);
      mean.emit(t, sum / <f64>window);
      count.emit(t, <f64>window);
      filled = 0;
      sum = 0;
      lo = Infinity;
      hi = -Infinity;
    }
  }
}

onBatch(process);
