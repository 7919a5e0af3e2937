/**
 * Collects a reference module's outputs into the sandbox's BatchOutput shape, in the same order
 * and with the same capacity rule as the SDK (records past `maxOutputs` are counted as dropped),
 * so reference and Wasm outputs compare with deepEqual.
 */
import type { BatchOutput } from '../../wasm-host/types.js';

export interface ReferenceOptions {
  /** Output records kept per batch, as SandboxLimits.maxOutputsPerBatch. Unlimited by default. */
  readonly maxOutputs?: number;
}

export class OutputCollector {
  private metrics = new Map<string, [number, number][]>();
  private events: { name: string; t: number; value: number }[] = [];
  private written = 0;
  private dropped = 0;

  constructor(private readonly maxOutputs = Number.POSITIVE_INFINITY) {}

  private admit(): boolean {
    if (this.written < this.maxOutputs) {
      this.written++;
      return true;
    }
    this.dropped++;
    return false;
  }

  metric(name: string, t: number, value: number): void {
    if (!this.admit()) return;
    let points = this.metrics.get(name);
    if (!points) this.metrics.set(name, (points = []));
    points.push([t, value]);
  }

  event(name: string, t: number, value: number): void {
    if (this.admit()) this.events.push({ name, t, value });
  }

  /** The batch's output; the collector is reset for the next batch. */
  finish(): BatchOutput {
    const output: BatchOutput = {
      metrics: [...this.metrics].map(([name, points]) => ({ name, points })),
      events: this.events,
      dropped: this.dropped,
    };
    this.metrics = new Map();
    this.events = [];
    this.written = 0;
    this.dropped = 0;
    return output;
  }
}

/** A param from the effective config, or the manifest default when the caller omitted it. */
export function numberParam(config: Readonly<Record<string, number | boolean>>, name: string, fallback: number): number {
  const value = config[name];
  if (value === undefined) return fallback;
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
