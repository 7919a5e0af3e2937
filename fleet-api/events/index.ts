/**
 * The live event stream's parts, built once per fleet-api: the bus, the SSE streams reading it,
 * the sink ingestion tells of stored facts, and the rollout observer the engine calls.
 */
import type { FleetApiOptions } from '../config.js';
import { eventMetrics, eventStreamsOpen } from '../metrics.js';
import type { Store } from '../store/index.js';
import { createEventBus, type EventBus } from './bus.js';
import { createRolloutObserver, type RolloutObserver } from './rollout-observer.js';
import { ingestEventSink, publishTimedOut, type IngestEventSink } from './sources.js';
import { createEventStreams, type EventStreams, type StreamHooks } from './streams.js';

export { EVENT_NAMES, EVENT_FAMILIES, parseEventId, type EventBus, type FleetEvent, type FleetEventName } from './bus.js';
export { parseEventFilter, type EventFilter, type EventFilterQuery } from './filter.js';
export type { EventStreams, StreamEnd, StreamHooks } from './streams.js';

export interface FleetEvents {
  readonly bus: EventBus;
  readonly streams: EventStreams;
  readonly ingest: IngestEventSink;
  readonly rollouts: RolloutObserver;
  /** Offline detection's verdicts. */
  timedOut(deviceIds: readonly string[]): void;
  /** Ends every stream and leaves the metrics. */
  close(): void;
}

export function createFleetEvents(store: Store, options: FleetApiOptions['events'], hooks: StreamHooks = {}): FleetEvents {
  const bus = createEventBus({ bufferSize: options.bufferSize });
  bus.subscribe(() => eventMetrics.published(bus.get(bus.lastSeq)!.name));
  const streams = createEventStreams(
    bus,
    { maxQueuedBytes: options.maxQueuedBytes, maxStreams: options.maxStreams, keepAliveMs: options.keepAliveMs, tagRefreshMs: options.tagRefreshMs, retryMs: 2000 },
    (tags) => new Set(store.selectDevices({ tags }, { by: 'none' }).map(([id]) => id)),
    {
      onOpen: () => {
        eventMetrics.opened();
        hooks.onOpen?.();
      },
      onEnd: (reason) => {
        eventMetrics.ended(reason);
        hooks.onEnd?.(reason);
      },
      onEvent: (bytes) => {
        eventMetrics.sent(bytes);
        hooks.onEvent?.(bytes);
      },
    },
  );
  const leaveMetrics = eventStreamsOpen.source(() => [[{}, streams.open]]);
  return {
    bus,
    streams,
    ingest: ingestEventSink(bus),
    rollouts: createRolloutObserver(store, bus),
    timedOut: (ids) => publishTimedOut(bus, ids),
    close() {
      streams.closeAll();
      leaveMetrics();
    },
  };
}
