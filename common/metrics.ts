/**
 * The one Prometheus registry of the process (docs/metrics.md). Every part declares its metrics
 * in its own `metrics.ts` against this registry, at import, so a metric exists once however many
 * brokers or APIs a process (or a test) creates; values are process-wide, as Prometheus expects
 * of one scrape target. Gauges that read a part's state (devices online, open connections) sum
 * over the live instances that registered a source, and a closed instance unregisters.
 *
 * Names follow Prometheus conventions: `wasmfleet_` prefix, base units in the name (`_seconds`,
 * `_bytes`), `_total` for counters; labels take a few known values only, never a device id.
 * Process and Node.js runtime metrics keep their standard `process_` and `nodejs_` names, which
 * every dashboard expects.
 */
import client from 'prom-client';

export const metricsRegistry = new client.Registry();

let defaultsOn = false;
/** Process and runtime metrics (CPU, memory, event loop lag, GC), registered once per process. */
export function collectProcessMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  client.collectDefaultMetrics({ register: metricsRegistry });
}

export function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): client.Counter<L> {
  return new client.Counter({ name, help, labelNames, registers: [metricsRegistry] });
}

export function histogram<L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): client.Histogram<L> {
  return new client.Histogram({ name, help, labelNames, buckets, registers: [metricsRegistry] });
}

/** A gauge whose value is read at scrape time from every registered source, summed per label set. */
export interface SourcedGauge<L extends string> {
  /** Adds a source; returns its removal. */
  source(read: () => Iterable<[Partial<Record<L, string>>, number]>): () => void;
}

export function sourcedGauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): SourcedGauge<L> {
  const sources = new Set<() => Iterable<[Partial<Record<L, string>>, number]>>();
  new client.Gauge<L>({
    name,
    help,
    labelNames,
    registers: [metricsRegistry],
    collect() {
      this.reset();
      for (const read of sources) {
        for (const [labels, value] of read()) this.inc(labels as client.LabelValues<L>, value);
      }
    },
  });
  return {
    source(read) {
      sources.add(read);
      return () => sources.delete(read);
    },
  };
}

/** The text exposition of every metric (Prometheus text format 0.0.4). */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}

/** Seconds since `start` (a performance.now() reading), for histograms in base units. */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;
