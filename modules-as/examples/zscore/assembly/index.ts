// Z-score anomaly detector. Each sample is scored against the statistics of the samples before
// it (so a spike does not dilute its own score), then folded into them with Welford's update,
// which stays accurate on long runs where a naive sum of squares loses precision.
import { Batch, event, intParam, metric, onBatch, param } from "@wasmfleet/sdk";
export * from "@wasmfleet/sdk/exports";

const threshold = param("threshold");
const warmup = intParam("warmup");
const anomaly = event("anomaly");
const zscoreMax = metric("zscore_max");

let seen: f64 = 0;
let mean: f64 = 0;
let m2: f64 = 0;

function process(batch: Batch): void {
  const n = batch.length;
  let maxAbs: f64 = 0;
  let scored = false;
  for (let i = 0; i < n; i++) {
    const x = batch.value(i);
    if (seen >= <f64>warmup) {
      scored = true;
      const std = Math.sqrt(m2 / (seen - 1));
      if (std > 0) {
        const z = (x - mean) / std;
        const abs = Math.abs(z);
        if (abs > maxAbs) maxAbs = abs;
        if (abs > threshold) anomaly.emit(batch.time(i), z);
      }
    }
    seen += 1;
    const delta = x - mean;
    mean += delta / seen;
    m2 += delta * (x - mean);
  }
  if (scored) zscoreMax.emit(batch.lastTime(), maxAbs);
}

onBatch(process);
