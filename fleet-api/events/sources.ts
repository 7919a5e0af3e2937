/**
 * What fleet-api parts publish on the bus: ingestion (committed result batches, reported-state
 * changes, presence) and offline detection. Each turns a stored fact into the event data of
 * docs/api.md §Live events; none of them is called before the fact is in SQLite.
 */
import type { ReportedState, ResultBatch } from '../../protocol/index.js';
import type { EventBus } from './bus.js';

export interface IngestEventSink {
  /** Result batches just committed (never a duplicate). */
  stored(batches: readonly ResultBatch[]): void;
  /** A reported state just recorded, with the one it replaced. */
  reported(state: ReportedState, previous: ReportedState | null): void;
  /** A device's presence changed (not merely repeated). */
  presence(deviceId: string, online: boolean, reason: string): void;
}

export function ingestEventSink(bus: EventBus): IngestEventSink {
  return {
    stored(batches) {
      for (const batch of batches) {
        const common = { deviceId: batch.deviceId, module: batch.module, version: batch.version, deploymentId: batch.deploymentId };
        const refs = { deviceId: batch.deviceId, deploymentId: batch.deploymentId };
        for (const metric of batch.metrics) {
          bus.publish('result', { ...common, kind: 'metric', metric: metric.name, points: metric.points, skipped: 0 }, {
            ...refs,
            sampleKey: `${batch.deviceId}\u0000${batch.module}\u0000${metric.name}`,
          });
        }
        // Events of one name in one batch travel together, like a metric's points.
        const events = new Map<string, Array<[number, number]>>();
        for (const event of batch.events) {
          const points = events.get(event.name) ?? [];
          points.push([event.t, event.value]);
          events.set(event.name, points);
        }
        for (const [name, points] of events) {
          bus.publish('result', { ...common, kind: 'event', metric: name, points, skipped: 0 }, {
            ...refs,
            sampleKey: `${batch.deviceId}\u0000${batch.module}\u0000!${name}`,
          });
        }
      }
    },
    reported(state, previous) {
      const summary = reportedSummary(state);
      if (previous && JSON.stringify(reportedSummary(previous)) === JSON.stringify(summary)) return;
      bus.publish('device.reported', { deviceId: state.deviceId, ...summary }, { deviceId: state.deviceId });
    },
    presence(deviceId, online, reason) {
      bus.publish(online ? 'device.online' : 'device.offline', { deviceId, reason }, { deviceId });
    },
  };
}

/** What an operator watches in a reported state: everything but counters that move with every batch. */
function reportedSummary(state: ReportedState) {
  return {
    revision: state.revision,
    modules: state.modules.map((m) => ({
      name: m.name,
      version: m.version,
      deploymentId: m.deploymentId,
      state: m.state,
      ...(m.reason !== undefined ? { reason: m.reason } : {}),
      ...(m.lastFault !== undefined ? { lastFault: m.lastFault } : {}),
      ...(m.faultAt !== undefined ? { faultAt: m.faultAt } : {}),
      faults: m.faults,
    })),
    errors: state.errors.map((e) => ({ code: e.code, message: e.message })),
  };
}

/** Devices offline detection marked offline. */
export function publishTimedOut(bus: EventBus, deviceIds: readonly string[]): void {
  for (const deviceId of deviceIds) bus.publish('device.offline', { deviceId, reason: 'timeout' }, { deviceId });
}
