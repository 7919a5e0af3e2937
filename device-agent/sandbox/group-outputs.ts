/** Turns raw (id, t, value) records into the BatchOutput shape the agent publishes. */
import { HostRefusal } from './faults.js';
import type { DeclaredOutput } from './instance.js';
import type { BatchOutput } from './types.js';

/**
 * Metrics appear in the order of their first point in the batch, events in emission order.
 * An id the module never declared is a protocol violation, not something to guess around.
 */
export function groupOutputs(
  records: Float64Array,
  count: number,
  outputs: readonly DeclaredOutput[],
  dropped: number,
): BatchOutput {
  const metrics = new Map<string, [number, number][]>();
  const events: { name: string; t: number; value: number }[] = [];
  for (let i = 0; i < count; i++) {
    const id = records[i * 3]!;
    const t = records[i * 3 + 1]!;
    const value = records[i * 3 + 2]!;
    const output = Number.isInteger(id) ? outputs[id] : undefined;
    if (!output) throw new HostRefusal(`module emitted a record with undeclared output id ${id}`);
    if (output.kind === 'event') {
      events.push({ name: output.name, t, value });
      continue;
    }
    let points = metrics.get(output.name);
    if (!points) metrics.set(output.name, (points = []));
    points.push([t, value]);
  }
  return { metrics: [...metrics].map(([name, points]) => ({ name, points })), events, dropped };
}
