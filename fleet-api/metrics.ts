/**
 * The fleet API's Prometheus metrics (docs/metrics.md): HTTP, ingestion, the fleet's state,
 * rollouts, scheduled jobs and the live event stream, in the process's one registry
 * (common/metrics.ts). Labels are routes, statuses, outcomes and job names: never device ids.
 */
import { counter, histogram, sourcedGauge } from '../common/metrics.js';
import type { IngestOutcome, Store } from './store/index.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpDuration = histogram('wasmfleet_http_request_duration_seconds', 'REST request duration, by method, route pattern and status', LATENCY_BUCKETS, ['method', 'route', 'status']);

const batches = counter('wasmfleet_ingest_batches_total', 'Result batches received, by outcome', ['outcome']);
const points = counter('wasmfleet_ingest_points_total', 'Result rows (metric points and events) stored');
const flushes = counter('wasmfleet_ingest_flushes_total', 'Ingest transactions committed');
const flushErrors = counter('wasmfleet_ingest_flush_errors_total', 'Ingest transactions that failed (their batches are resent by the agents)');
const writeSeconds = histogram('wasmfleet_ingest_write_duration_seconds', 'SQLite time of one ingest transaction', LATENCY_BUCKETS);
const ackSeconds = histogram('wasmfleet_ingest_ack_latency_seconds', 'From a batch entering the ingest buffer to its ack being published', LATENCY_BUCKETS);
const acks = counter('wasmfleet_ingest_acks_total', 'Ack messages published to devices');

export const ingestMetrics = {
  flushed(outcome: IngestOutcome, seconds: number): void {
    flushes.inc();
    writeSeconds.observe(seconds);
    batches.inc({ outcome: 'stored' }, outcome.stored);
    batches.inc({ outcome: 'duplicate' }, outcome.duplicates);
    batches.inc({ outcome: 'unknown_device' }, outcome.unknownDevice);
    points.inc(outcome.rows);
  },
  failed(): void {
    flushErrors.inc();
  },
  acked(seconds: number): void {
    acks.inc();
    ackSeconds.observe(seconds);
  },
};

const jobSeconds = histogram('wasmfleet_job_duration_seconds', 'Scheduled job run duration, by job', [0.001, 0.01, 0.1, 1, 10, 60, 600], ['job']);
const jobFailures = counter('wasmfleet_job_failures_total', 'Scheduled job runs that failed, by job', ['job']);
export const jobMetrics = {
  ran(job: string, seconds: number, ok: boolean): void {
    jobSeconds.observe({ job }, seconds);
    if (!ok) jobFailures.inc({ job });
  },
};

const eventsPublished = counter('wasmfleet_events_published_total', 'Events published on the live event bus, by event name', ['event']);
const streamsOpened = counter('wasmfleet_events_streams_opened_total', 'Event streams (GET /api/v1/events) opened');
const streamsEnded = counter('wasmfleet_events_streams_ended_total', 'Event streams ended, by reason (client, behind: dropped as too slow, shutdown)', ['reason']);
const eventBytes = counter('wasmfleet_events_sent_bytes_total', 'Bytes of events written to event streams');
export const eventStreamsOpen = sourcedGauge('wasmfleet_events_streams', 'Event streams open');
export const eventMetrics = {
  published(event: string): void {
    eventsPublished.inc({ event });
  },
  opened(): void {
    streamsOpened.inc();
  },
  ended(reason: string): void {
    streamsEnded.inc({ reason });
  },
  sent(bytes: number): void {
    eventBytes.inc(bytes);
  },
};

const devices = sourcedGauge('wasmfleet_devices', 'Provisioned devices, by presence', ['state']);
const inSync = sourcedGauge('wasmfleet_devices_in_sync', 'Devices whose reported revision has reached their desired revision');
const faulted = sourcedGauge('wasmfleet_devices_faulted', 'Devices reporting at least one module failed');
const rollouts = sourcedGauge('wasmfleet_rollouts', 'Deployments, by status', ['status']);
const ROLLOUT_STATUSES = ['running', 'paused', 'completed', 'aborted', 'cancelled', 'rolled-back', 'superseded'];

/** Registers a store's fleet counts as gauge sources; returns their removal. */
export function registerFleetGauges(store: Store): () => void {
  // One read per scrape, shared by the four gauges (collected in the same turn of the event loop).
  let cached: ReturnType<Store['fleetGauges']> | undefined;
  const read = () => {
    if (!store.open) return undefined;
    if (!cached) {
      cached = store.fleetGauges();
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };
  const removals = [
    devices.source(() => {
      const g = read();
      return g ? [[{ state: 'online' }, g.online], [{ state: 'offline' }, g.offline]] : [];
    }),
    inSync.source(() => [[{}, read()?.inSync ?? 0]]),
    faulted.source(() => [[{}, read()?.faulted ?? 0]]),
    rollouts.source(() => {
      const g = read();
      return g ? ROLLOUT_STATUSES.map((status) => [{ status }, g.rollouts[status] ?? 0] as [{ status: string }, number]) : [];
    }),
  ];
  return () => removals.forEach((remove) => remove());
}
