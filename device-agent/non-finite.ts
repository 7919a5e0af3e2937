/**
 * The agent's half of [WF-P-R-2]: JSON has no NaN or ±Infinity (JSON.stringify writes null, which
 * the API would refuse), so a module's non-finite outputs are taken out before the batch gets a
 * seq and is spooled, and counted per module as lost with reason `nonFinite`. The other outputs
 * of the batch go on. -0 is finite and kept, though JSON carries it as 0 (docs/protocol.md).
 */
import type { BatchOutput } from '../wasm-host/types.js';

export interface ScreenedOutput {
  readonly metrics: BatchOutput['metrics'];
  readonly events: BatchOutput['events'];
  /** Metric points and events dropped for a non-finite time or value. */
  readonly nonFinite: number;
}

/** Allocates nothing when every output is finite, the common case. */
export function dropNonFinite(metrics: BatchOutput['metrics'], events: BatchOutput['events']): ScreenedOutput {
  if (allFinite(metrics, events)) return { metrics, events, nonFinite: 0 };
  let nonFinite = 0;
  const keptMetrics: BatchOutput['metrics'] = [];
  for (const metric of metrics) {
    const points = metric.points.filter(([t, value]) => Number.isFinite(t) && Number.isFinite(value));
    nonFinite += metric.points.length - points.length;
    if (points.length > 0) keptMetrics.push({ name: metric.name, points });
  }
  const keptEvents = events.filter((event) => Number.isFinite(event.t) && Number.isFinite(event.value));
  nonFinite += events.length - keptEvents.length;
  return { metrics: keptMetrics, events: keptEvents, nonFinite };
}

function allFinite(metrics: BatchOutput['metrics'], events: BatchOutput['events']): boolean {
  for (const metric of metrics) {
    for (const [t, value] of metric.points) if (!Number.isFinite(t) || !Number.isFinite(value)) return false;
  }
  for (const event of events) if (!Number.isFinite(event.t) || !Number.isFinite(event.value)) return false;
  return true;
}
