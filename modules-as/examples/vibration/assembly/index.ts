// Vibration severity over tumbling windows of `window` samples. Only running sums are kept, so
// memory does not grow with the window and a window may span any number of batches.
import { Batch, intParam, metric, onBatch } from "../../../sdk/assembly";
export * from "../../../sdk/assembly/exports";

const window = intParam("window");
const rms = metric("rms");
const peak = metric("peak");
const crest = metric("crest");

let filled: i32 = 0;
let sumSquares: f64 = 0;
let maxAbs: f64 = 0;

function process(batch: Batch): void {
  for (let i = 0; i < batch.length; i++) {
    const x = batch.value(i);
    sumSquares += x * x;
    const abs = Math.abs(x);
    if (abs > maxAbs) maxAbs = abs;
    if (++filled == window) {
      const t = batch.time(i);
      const r = Math.sqrt(sumSquares / <f64>window);
      rms.emit(t, r);
      peak.emit(t, maxAbs);
      // An all-zero window has no meaningful crest factor; 0 keeps the series finite.
      crest.emit(t, r > 0 ? maxAbs / r : 0);
      filled = 0;
      sumSquares = 0;
      maxAbs = 0;
    }
  }
}

onBatch(process);
