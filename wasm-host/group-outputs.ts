/** Turns raw (id, t, value) records into the BatchOutput shape the agent publishes. */
import { HostRefusal } from './faults.js';
import type { DeclaredOutput } from './instance.js';
import type { BatchOutput } from './types.js';

type Points = [number, number][];

/**
 * A grouper for one module's declared outputs. Metrics appear in the order of their first point
 * in the batch, events in emission order. An id the module never declared is a protocol
 * violation, not something to guess around.
 * Only what the caller keeps is allocated per batch: the lookup from id to its points array is
 * a table reused across batches, where a Map per batch would cost more than small batches do.
 */
export function createGrouper(
  outputs: readonly DeclaredOutput[],
): (records: Float64Array, count: number, dropped: number) => BatchOutput {
  const declared = outputs.length;
  const byId: (Points | undefined)[] = new Array<Points | undefined>(declared).fill(undefined);
  const used: number[] = [];
  return (records, count, dropped) => {
    const metrics: { name: string; points: Points }[] = [];
    const events: { name: string; t: number; value: number }[] = [];
    try {
      for (let i = 0, at = 0; i < count; i++, at += 3) {
        const id = records[at]!;
        // `id >>> 0 === id` admits exactly the non-negative integers below 2^32.
        const output = id >>> 0 === id && id < declared ? outputs[id]! : undefined;
        if (!output) throw new HostRefusal(`module emitted a record with undeclared output id ${id}`);
        if (output.kind === 'event') {
          events.push({ name: output.name, t: records[at + 1]!, value: records[at + 2]! });
          continue;
        }
        let points = byId[id];
        if (!points) {
          byId[id] = points = [];
          used.push(id);
          metrics.push({ name: output.name, points });
        }
        points.push([records[at + 1]!, records[at + 2]!]);
      }
    } finally {
      for (const id of used) byId[id] = undefined;
      used.length = 0;
    }
    return { metrics, events, dropped };
  };
}

/** One-off form of createGrouper, for callers that group a single batch. */
export function groupOutputs(
  records: Float64Array,
  count: number,
  outputs: readonly DeclaredOutput[],
  dropped: number,
): BatchOutput {
  return createGrouper(outputs)(records, count, dropped);
}
