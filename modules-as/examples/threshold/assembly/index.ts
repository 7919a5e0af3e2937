// Threshold alarm with hysteresis: the gap between `low` and `high` keeps a noisy signal that
// hovers around one threshold from toggling the alarm on every sample.
import { Batch, event, metric, onBatch, param } from "@wasmfleet/sdk";
export * from "@wasmfleet/sdk/exports";

const E_LOW_ABOVE_HIGH = "threshold: param low must not exceed high";

const high = param("high");
const low = param("low");
if (low > high) throw new Error(E_LOW_ABOVE_HIGH);

const alarmOn = event("alarm_on");
const alarmOff = event("alarm_off");
const state = metric("state");

let on = false;

function step(batch: Batch, i: i32): void {
  const v = batch.value(i);
  if (!on && v >= high) {
    on = true;
    alarmOn.emit(batch.time(i), v);
  } else if (on && v <= low) {
    on = false;
    alarmOff.emit(batch.time(i), v);
  }
}

function process(batch: Batch): void {
  const n = batch.length;
  let i = 0;
  // Four samples at a time: a group where no sample reaches the threshold that would change the
  // state cannot change it, so it costs four compares and one branch (and one CPU-budget
  // checkpoint, docs/modules.md) instead of four of each; a group that might goes sample by
  // sample, in order, exactly as the loop below.
  for (; i + 4 <= n; i += 4) {
    const a = batch.value(i);
    const b = batch.value(i + 1);
    const c = batch.value(i + 2);
    const d = batch.value(i + 3);
    const mayChange = on ? (a <= low) | (b <= low) | (c <= low) | (d <= low) : (a >= high) | (b >= high) | (c >= high) | (d >= high);
    if (mayChange) {
      step(batch, i);
      step(batch, i + 1);
      step(batch, i + 2);
      step(batch, i + 3);
    }
  }
  for (; i < n; i++) step(batch, i);
  if (n > 0) state.emit(batch.lastTime(), on ? 1 : 0);
}

onBatch(process);
