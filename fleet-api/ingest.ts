/**
 * Ingestion of what devices send. Result batches are buffered briefly and written in one
 * transaction per flush (SQLite's cost is per commit, not per row); reported state and status
 * are small and written at once.
 */
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import type { DeviceStatus, ReportedState, ResultBatch } from '../protocol/index.js';
import { recordReportedState } from './deployments/progress.js';
import type { IngestHandlers } from './mqtt-link.js';
import type { Store } from './store/index.js';

export interface IngestCounters {
  batchesStored: number;
  batchesDuplicate: number;
  batchesUnknownDevice: number;
  rowsStored: number;
  reported: number;
  status: number;
  unknownDevice: number;
  flushes: number;
  flushErrors: number;
}

export interface Ingestion {
  readonly handlers: IngestHandlers;
  /** Writes whatever is buffered now. */
  flush(): void;
  counters(): Readonly<IngestCounters>;
  close(): void;
}

/** Optional callbacks after something is stored, e.g. to move rollouts without waiting for their job. */
export interface IngestHooks {
  onReported?(deviceId: string): void;
}

export function createIngestion(store: Store, options: { flushMs: number; maxBatches: number }, logger: Logger, hooks: IngestHooks = {}): Ingestion {
  const counters: IngestCounters = {
    batchesStored: 0, batchesDuplicate: 0, batchesUnknownDevice: 0, rowsStored: 0,
    reported: 0, status: 0, unknownDevice: 0, flushes: 0, flushErrors: 0,
  };
  let buffer: ResultBatch[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0 || !store.open) return;
    const batches = buffer;
    buffer = [];
    const now = Date.now();
    try {
      const outcome = store.ingestResultBatches(batches, now);
      counters.flushes += 1;
      counters.batchesStored += outcome.stored;
      counters.batchesDuplicate += outcome.duplicates;
      counters.batchesUnknownDevice += outcome.unknownDevice;
      counters.rowsStored += outcome.rows;
      const at = new Date(now).toISOString();
      store.transaction(() => {
        for (const id of new Set(batches.map((b) => b.deviceId))) store.touchDevice(id, at);
      });
    } catch (error) {
      // mqtt.js has already acknowledged these batches, so a failed write loses them: count it loudly.
      counters.flushErrors += 1;
      logger.error('results flush failed', { batches: batches.length, reason: reasonOf(error) });
    }
  };

  const handlers: IngestHandlers = {
    results(batch: ResultBatch) {
      if (closed) return;
      buffer.push(batch);
      if (buffer.length >= options.maxBatches) flush();
      else timer ??= setTimeout(flush, options.flushMs);
    },
    reported(state: ReportedState) {
      const known = store.getDevice(state.deviceId) !== undefined;
      if (!known) {
        counters.unknownDevice += 1;
        return;
      }
      recordReportedState(store, state);
      counters.reported += 1;
      hooks.onReported?.(state.deviceId);
    },
    status(status: DeviceStatus, retained: boolean) {
      const now = Date.now();
      // A retained status is history replayed on subscribe: its own time, never the future.
      const at = retained ? new Date(Math.min(Date.parse(status.at), now)).toISOString() : new Date(now).toISOString();
      if (store.setPresence(status.deviceId, status.online, at)) counters.status += 1;
      else counters.unknownDevice += 1;
    },
  };

  return {
    handlers,
    flush,
    counters: () => ({ ...counters }),
    close() {
      flush();
      closed = true;
    },
  };
}
