// Threshold alarm with hysteresis: the gap between `low` and `high` keeps a noisy signal that
// hovers around one threshold from toggling the alarm on every sample.
import { Batch, event, metric, onBatch, param } from "../../../sdk/assembly";
export * from "../../../sdk/assembly/exports";

const E_LOW_ABOVE_HIGH = "threshold: param low must not exceed high";

const high = param("high");
const low = param("low");
if (low > high) throw new Error(E_LOW_ABOVE_HIGH);

const alarmOn = event("alarm_on");
const alarmOff = event("alarm_off");
const state = metric("state");

let on = false;

function process(batch: Batch): void {
  const n = batch.length;
  for (let i = 0; i < n; i++) {
    const v = batch.value(i);
    if (!on && v >= high) {
      on = true;
      alarmOn.emit(batch.time(i), v);
    } else if (on && v <= low) {
      on = false;
      alarmOff.emit(batch.time(i), v);
    }
  }
  if (n > 0) state.emit(batch.lastTime(), on ? 1 : 0);
}

onBatch(process);
