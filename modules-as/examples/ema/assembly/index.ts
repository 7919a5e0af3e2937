// Exponential moving average. The first sample seeds the average; every `every`-th sample
// (counted across batches) emits metric `ema` at that sample's time.
import { Batch, intParam, metric, onBatch, param } from "@wasmfleet/sdk";
export * from "@wasmfleet/sdk/exports";

const alpha = param("alpha");
const every = intParam("every");
const ema = metric("ema");

let average: f64 = 0;
let seeded = false;
let sinceEmit: i32 = 0;

// The state lives in locals for the batch and the loop between two emits does nothing but the
// recurrence: module globals would be read and written back on every sample. Every operation
// and its order are those of modules-as/reference/ema.ts.
function process(batch: Batch): void {
  const n = batch.length;
  let i = 0;
  let avg = average;
  let since = sinceEmit;
  if (!seeded && n > 0) {
    avg = batch.value(0);
    seeded = true;
    i = 1;
    if (++since == every) {
      since = 0;
      ema.emit(batch.time(0), avg);
    }
  }
  const keep = 1 - alpha;
  while (i < n) {
    // Up to the sample that completes the current group of `every`, or the end of the batch.
    const stop = min(n, i + (every - since));
    for (let j = i; j < stop; j++) avg = alpha * batch.value(j) + keep * avg;
    since += stop - i;
    i = stop;
    // A counter that resets instead of a sample count, so it cannot overflow on a long run.
    if (since == every) {
      since = 0;
      ema.emit(batch.time(i - 1), avg);
    }
  }
  average = avg;
  sinceEmit = since;
}

onBatch(process);
