// Exponential moving average. The first sample seeds the average; every `every`-th sample
// (counted across batches) emits metric `ema` at that sample's time.
import { Batch, intParam, metric, onBatch, param } from "../../../sdk/assembly";
export * from "../../../sdk/assembly/exports";

const alpha = param("alpha");
const every = intParam("every");
const ema = metric("ema");

let average: f64 = 0;
let seeded = false;
let sinceEmit: i32 = 0;

function process(batch: Batch): void {
  for (let i = 0; i < batch.length; i++) {
    const v = batch.value(i);
    if (seeded) {
      average = alpha * v + (1 - alpha) * average;
    } else {
      average = v;
      seeded = true;
    }
    // A counter that resets instead of a sample count, so it cannot overflow on a long run.
    if (++sinceEmit == every) {
      sinceEmit = 0;
      ema.emit(batch.time(i), average);
    }
  }
}

onBatch(process);
