// __NAME__: a wasmfleet analytics module. Edit process() and manifest.json together: every param,
// metric and event used here must be declared there. `npm test` builds and runs the golden case.
import { Batch, event, metric, onBatch, param } from "@wasmfleet/sdk";
export * from "@wasmfleet/sdk/exports";

// Params are read once, when the module starts.
const gain = param("gain");
const offset = param("offset");
const limit = param("limit");

const scaled = metric("scaled");
const max = metric("max");
const above = event("above");

function process(batch: Batch): void {
  const n = batch.length;
  if (n == 0) return;
  let largest = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = gain * batch.value(i) + offset;
    scaled.emit(batch.time(i), v);
    if (v > largest) largest = v;
    if (v > limit) above.emit(batch.time(i), v);
  }
  max.emit(batch.lastTime(), largest);
}

onBatch(process);
