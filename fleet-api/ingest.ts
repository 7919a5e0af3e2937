/**
 * Ingestion of what devices send. Result batches are buffered briefly and written in one
 * transaction per flush (SQLite's cost is per commit, not per row); reported state and status
 * are small and written at once.
 *
 * Once a flush has committed, the seqs it holds (new or already stored) are acknowledged to each
 * device [WF-P-T-8], coalesced per device over `ackMs`. Only then does the agent forget them, so
 * a batch the broker delivered but a crash kept out of SQLite is sent again by its agent.
 */
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import { MAX_ACK_RANGES, type DeviceStatus, type ReportedState, type ResultBatch } from '../protocol/index.js';
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
  acksSent: number;
}

/** Publishes one ack: ranges [first, last] of seqs stored for a device. */
export type Acknowledger = (deviceId: string, stored: [number, number][]) => void;

export interface Ingestion {
  readonly handlers: IngestHandlers;
  /** Writes whatever is buffered now. */
  flush(): void;
  counters(): Readonly<IngestCounters>;
  close(): void;
}

const ACK_MS = 100;

/** Where ingestion's consequences go: acks to the devices, and nudges, e.g. to move rollouts without waiting for their job. */
export interface IngestHooks {
  acknowledge: Acknowledger;
  onReported?(deviceId: string): void;
}

export function createIngestion(store: Store, options: { flushMs: number; maxBatches: number }, logger: Logger, hooks: IngestHooks): Ingestion {
  const counters: IngestCounters = {
    batchesStored: 0, batchesDuplicate: 0, batchesUnknownDevice: 0, rowsStored: 0,
    reported: 0, status: 0, unknownDevice: 0, flushes: 0, flushErrors: 0, acksSent: 0,
  };
  const toAck = new Map<string, number[]>();
  let ackTimer: NodeJS.Timeout | undefined;

  const sendAcks = () => {
    clearTimeout(ackTimer);
    ackTimer = undefined;
    for (const [deviceId, seqs] of toAck) {
      const ranges = seqRanges(seqs);
      for (let i = 0; i < ranges.length; i += MAX_ACK_RANGES) {
        hooks.acknowledge(deviceId, ranges.slice(i, i + MAX_ACK_RANGES));
        counters.acksSent += 1;
      }
    }
    toAck.clear();
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
      for (const [deviceId, seqs] of outcome.inDatabase) {
        const list = toAck.get(deviceId);
        if (list) list.push(...seqs);
        else toAck.set(deviceId, seqs);
      }
      if (toAck.size > 0) ackTimer ??= setTimeout(sendAcks, ACK_MS);
      const at = new Date(now).toISOString();
      store.transaction(() => {
        for (const id of new Set(batches.map((b) => b.deviceId))) store.touchDevice(id, at);
      });
    } catch (error) {
      // Not acked, so their agents send them again; counted loudly all the same.
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
      sendAcks();
      closed = true;
    },
  };
}

function seqRanges(seqs: number[]): [number, number][] {
  const sorted = seqs.slice().sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const seq of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && seq <= last[1] + 1) last[1] = Math.max(last[1], seq);
    else ranges.push([seq, seq]);
  }
  return ranges;
}
