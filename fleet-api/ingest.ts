/**
 * Ingestion of what devices send. Result batches wait in a per-device queue served round-robin
 * (fair-queue.ts): each turn takes every waiting device's bounded share and writes the turn in one
 * transaction (SQLite's cost is per commit, not per row), then yields to the event loop, so one
 * device's backlog delays the others by at most one turn. Reported states and statuses are small:
 * they are written in one transaction per event-loop turn (report-queue.ts), in arrival order.
 *
 * Once a turn has committed, the seqs it holds (new or already stored) are acknowledged to each
 * device [WF-P-T-8], coalesced per device over `ackMs`. Only then does the agent forget them, so
 * a batch the broker delivered but a crash kept out of SQLite is sent again by its agent. A batch
 * that can never be stored (it fails the schema, or SQLite refuses it for itself) is answered in
 * the same ack as refused, with its reason [WF-P-NACK-1], and its agent never sends it again.
 */
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import { MAX_ACK_RANGES, MAX_ACK_REFUSALS, seqRanges, type BatchRefusal, type DeviceStatus, type ReportedState, type ResultBatch } from '../protocol/index.js';
import { ReportQueue } from './report-queue.js';
import { FairQueue, rowsOf, type FairShare } from './fair-queue.js';
import type { IngestHandlers } from './device-inbox.js';
import type { Store } from './store/index.js';
import type { IngestOutcome } from './store/results.js';
import type { IngestEventSink } from './events/sources.js';
import { ingestMetrics } from './metrics.js';
import { secondsSince } from '../common/metrics.js';

export interface IngestCounters {
  batchesStored: number;
  batchesDuplicate: number;
  batchesUnknownDevice: number;
  /** Batches answered with a negative ack [WF-P-NACK-1]: off-schema, or refused by SQLite. */
  batchesRefused: number;
  rowsStored: number;
  reported: number;
  status: number;
  unknownDevice: number;
  /** Transactions written (one per turn). */
  flushes: number;
  flushErrors: number;
  acksSent: number;
}

/** Publishes one ack: ranges [first, last] of seqs stored for a device, and/or batches refused. */
export type Acknowledger = (deviceId: string, stored: [number, number][], refused?: BatchRefusal[]) => void;

export interface Ingestion {
  readonly handlers: IngestHandlers;
  /** Writes whatever is queued now, every device's, in as many turns as it takes. */
  flush(): void;
  /**
   * Writes what is queued now for these devices only, in their shares' turns: what a reader of
   * their results waits for. Nothing queued for them costs nothing, so a query under heavy ingest
   * no longer commits a small transaction for the whole fleet.
   */
  flushDevices(deviceIds: Iterable<string>): void;
  /**
   * The same, for a reader that can wait for the rest of this event-loop turn: the queued batches
   * of every device asked for before then are written together, in as few transactions as the
   * turn's row bound allows, instead of one small commit per query. Resolves once they are
   * committed (at once when nothing of theirs is queued).
   */
  flushDevicesSoon(deviceIds: Iterable<string>): Promise<void>;
  counters(): Readonly<IngestCounters>;
  close(): void;
}

const ACK_MS = 100;
/** Last-seen is written at most once per device in each such window. */
const TOUCH_EVERY_MS = 1000;
/**
 * A device's share of one turn. 1,000 rows take a few milliseconds to insert, so a turn with one
 * device flushing a backlog costs the others that much, not the backlog's size. A turn holds at
 * most about 20,000 rows (~100 ms of SQLite): large enough that a commit's fixed cost is spread
 * thin (per row a third cheaper than 1,000-row transactions), small enough that queries and MQTT
 * input are served between turns instead of waiting for a whole fleet's queue.
 */
export const DEFAULT_FAIR_SHARE: FairShare = { maxRowsPerDevice: 1000, maxBatchesPerDevice: 100, maxRowsPerTurn: 20_000 };

/** Where ingestion's consequences go: acks to the devices, and nudges, e.g. to move rollouts without waiting for their job. */
export interface IngestHooks {
  acknowledge: Acknowledger;
  /** A reported state moved a rollout so that a step can act now (a failure, a wave's last device). */
  onRolloutSettling?(deviceId: string): void;
  /** After each turn's commit, with the batches it holds (new or already stored): the place for "new results" events. */
  onResultsCommitted?(batches: readonly ResultBatch[]): void;
  /** Told of what was stored, after the commit (the live event bus). */
  events?: IngestEventSink;
}

/** SQLite failures of the moment (disk full, busy, I/O): not the batch's fault, so it is not refused but resent. */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|NOMEM|READONLY|CANTOPEN|INTERRUPT|PROTOCOL)/;

export function createIngestion(
  store: Store,
  options: { flushMs: number; maxBatches: number; fairShare?: FairShare },
  logger: Logger,
  hooks: IngestHooks,
): Ingestion {
  const counters: IngestCounters = {
    batchesStored: 0, batchesDuplicate: 0, batchesUnknownDevice: 0, batchesRefused: 0, rowsStored: 0,
    reported: 0, status: 0, unknownDevice: 0, flushes: 0, flushErrors: 0, acksSent: 0,
  };
  const toAck = new Map<string, number[]>();
  const toRefuse = new Map<string, BatchRefusal[]>();
  // When the oldest batch now waiting for its ack, and the oldest one queued, arrived (performance.now()).
  let ackWaitingSince: number | undefined;
  let queuedSince: number | undefined;
  let ackTimer: NodeJS.Timeout | undefined;
  const queue = new FairQueue(options.fairShare ?? DEFAULT_FAIR_SHARE);
  let timer: NodeJS.Timeout | undefined;
  let turnScheduled: NodeJS.Immediate | undefined;
  let closed = false;
  const reports = new ReportQueue(
    store,
    {
      reported(state, previous, settling) {
        counters.reported += 1;
        hooks.events?.reported(state, previous);
        if (settling) hooks.onRolloutSettling?.(state.deviceId);
      },
      status(status, wasOnline) {
        counters.status += 1;
        if (wasOnline !== status.online) hooks.events?.presence(status.deviceId, status.online, status.reason);
      },
      unknownDevice() {
        counters.unknownDevice += 1;
      },
    },
    logger,
    hooks.events !== undefined,
  );

  const sendAcks = () => {
    clearTimeout(ackTimer);
    ackTimer = undefined;
    for (const [deviceId, seqs] of toAck) {
      const ranges = seqRanges(seqs);
      for (let i = 0; i < ranges.length; i += MAX_ACK_RANGES) {
        send(deviceId, ranges.slice(i, i + MAX_ACK_RANGES));
        if (ackWaitingSince !== undefined) ingestMetrics.acked(secondsSince(ackWaitingSince));
      }
    }
    // In acks of their own, so ranges and refusals never add up past the ack's cap.
    for (const [deviceId, refused] of toRefuse) {
      for (let i = 0; i < refused.length; i += MAX_ACK_REFUSALS) send(deviceId, [], refused.slice(i, i + MAX_ACK_REFUSALS));
    }
    toAck.clear();
    toRefuse.clear();
    ackWaitingSince = undefined;
  };
  const send = (deviceId: string, stored: [number, number][], refused?: BatchRefusal[]) => {
    hooks.acknowledge(deviceId, stored, refused);
    counters.acksSent += 1;
  };
  const ackSoon = () => {
    ackTimer ??= setTimeout(sendAcks, ACK_MS);
  };

  const refuse = (deviceId: string, refusals: readonly BatchRefusal[]) => {
    if (refusals.length === 0) return;
    counters.batchesRefused += refusals.length;
    const list = toRefuse.get(deviceId);
    if (list) list.push(...refusals);
    else toRefuse.set(deviceId, [...refusals]);
    ackSoon();
  };

  const noteStored = (outcome: IngestOutcome, writeStarted: number) => {
    ingestMetrics.flushed(outcome, secondsSince(writeStarted));
    if (outcome.fresh.length > 0) hooks.events?.stored(outcome.fresh);
    counters.batchesStored += outcome.stored;
    counters.batchesDuplicate += outcome.duplicates;
    counters.batchesUnknownDevice += outcome.unknownDevice;
    counters.rowsStored += outcome.rows;
    for (const [deviceId, seqs] of outcome.inDatabase) {
      const list = toAck.get(deviceId);
      if (list) list.push(...seqs);
      else toAck.set(deviceId, seqs);
    }
    if (toAck.size > 0) ackSoon();
  };

  /** One batch at a time, after a turn failed for something other than the moment: finds the batch SQLite refuses. */
  const isolate = (batches: readonly ResultBatch[], now: number): ResultBatch[] => {
    const committed: ResultBatch[] = [];
    for (const batch of batches) {
      try {
        const writeStarted = performance.now();
        noteStored(store.ingestResultBatches([batch], now), writeStarted);
        committed.push(batch);
      } catch (error) {
        if (isTransient(error) || !store.open) continue;
        logger.warn('result batch refused by SQLite', { deviceId: batch.deviceId, seq: batch.seq, reason: reasonOf(error) });
        refuse(batch.deviceId, [{ seq: batch.seq, reason: 'store', message: reasonOf(error).slice(0, 500) }]);
      }
    }
    return committed;
  };

  // Devices whose last-seen this second has already written: a device in every turn (several a
  // second under load) costs one UPDATE of its row and its last-seen index entry a second, not one
  // a turn. Offline detection allows twice the heartbeat interval (seconds), so a second is nothing.
  let touchedSecond = 0;
  const touchedThisSecond = new Set<string>();
  /** A failed last-seen update costs only itself: the statement is undone, the transaction goes on. */
  const touchAll = (deviceIds: Iterable<string>, at: string, now: number) => {
    const second = Math.floor(now / TOUCH_EVERY_MS);
    if (second !== touchedSecond) {
      touchedSecond = second;
      touchedThisSecond.clear();
    }
    try {
      for (const id of deviceIds) {
        if (touchedThisSecond.has(id)) continue;
        store.touchDevice(id, at);
        touchedThisSecond.add(id);
      }
    } catch (error) {
      logger.warn('last-seen not updated', { reason: reasonOf(error) });
    }
  };

  const runTurn = () => write(queue.takeTurn());

  const write = (batches: ResultBatch[]) => {
    if (batches.length === 0 || !store.open) return;
    const now = Date.now();
    ackWaitingSince ??= queuedSince;
    if (queue.size === 0) queuedSince = undefined;
    const at = new Date(now).toISOString();
    let committed: readonly ResultBatch[] = batches;
    try {
      const writeStarted = performance.now();
      // Last-seen in the same commit as the rows: one commit per turn, not two.
      const outcome = store.transaction(() => {
        const stored = store.ingestResultBatches(batches, now);
        touchAll(stored.inDatabase.keys(), at, now);
        return stored;
      });
      noteStored(outcome, writeStarted);
      counters.flushes += 1;
    } catch (error) {
      // Not acked, so their agents send them again; counted loudly all the same.
      counters.flushErrors += 1;
      ingestMetrics.failed();
      logger.error('results flush failed', { batches: batches.length, reason: reasonOf(error) });
      committed = isTransient(error) || !store.open ? [] : isolate(batches, now);
      if (committed.length === 0) return;
      try {
        store.transaction(() => touchAll(new Set(committed.map((b) => b.deviceId)), at, now));
      } catch (touchError) {
        logger.warn('last-seen not updated', { reason: reasonOf(touchError) });
      }
    }
    try {
      hooks.onResultsCommitted?.(committed);
    } catch (error) {
      logger.error('results hook failed', { reason: reasonOf(error) });
    }
  };

  /** Turns until the queue is empty, each on its own event-loop tick so MQTT input keeps flowing between them. */
  const nextTurn = () => {
    turnScheduled = undefined;
    clearTimeout(timer);
    timer = undefined;
    runTurn();
    if (queue.size > 0 && !closed) turnScheduled = setImmediate(nextTurn);
  };

  const flush = () => {
    reports.flush();
    clearTimeout(timer);
    timer = undefined;
    if (turnScheduled) clearImmediate(turnScheduled);
    turnScheduled = undefined;
    while (queue.size > 0 && store.open) runTurn();
  };

  const flushDevices = (deviceIds: Iterable<string>) => {
    for (const deviceId of deviceIds) {
      while (queue.sizeOf(deviceId) > 0 && store.open) write(queue.takeDeviceShare(deviceId));
    }
  };

  // Devices whose readers wait for the next check phase, and those readers.
  const soonDevices = new Set<string>();
  let soonWaiters: Array<() => void> = [];
  let soonScheduled: NodeJS.Immediate | undefined;
  const rowsPerTurn = (options.fairShare ?? DEFAULT_FAIR_SHARE).maxRowsPerTurn ?? Number.POSITIVE_INFINITY;
  const writeSoon = () => {
    soonScheduled = undefined;
    const waiters = soonWaiters;
    soonWaiters = [];
    const deviceIds = [...soonDevices];
    soonDevices.clear();
    try {
      let batches: ResultBatch[] = [];
      let rows = 0;
      for (const deviceId of deviceIds) {
        while (queue.sizeOf(deviceId) > 0 && store.open) {
          for (const batch of queue.takeDeviceShare(deviceId)) {
            batches.push(batch);
            rows += rowsOf(batch);
          }
          if (rows >= rowsPerTurn) {
            write(batches);
            batches = [];
            rows = 0;
          }
        }
      }
      write(batches);
    } finally {
      for (const resolve of waiters) resolve();
    }
  };
  const flushDevicesSoon = (deviceIds: Iterable<string>): Promise<void> => {
    let queued = false;
    for (const deviceId of deviceIds) {
      if (queue.sizeOf(deviceId) === 0) continue;
      soonDevices.add(deviceId);
      queued = true;
    }
    if (!queued) return Promise.resolve();
    return new Promise((resolve) => {
      soonWaiters.push(resolve);
      soonScheduled ??= setImmediate(writeSoon);
    });
  };

  const handlers: IngestHandlers = {
    results(deviceId, batches, refused) {
      if (closed) return;
      refuse(deviceId, refused);
      if (batches.length === 0) return;
      queuedSince ??= performance.now();
      queue.push(deviceId, batches);
      if (turnScheduled) return;
      if (queue.size >= options.maxBatches) turnScheduled = setImmediate(nextTurn);
      else timer ??= setTimeout(nextTurn, options.flushMs);
    },
    reported(state: ReportedState) {
      if (closed) return;
      reports.reported(state);
    },
    status(status: DeviceStatus, retained: boolean) {
      if (closed) return;
      const now = Date.now();
      // A retained status is history replayed on subscribe: its own time, never the future.
      const at = retained ? new Date(Math.min(Date.parse(status.at), now)).toISOString() : new Date(now).toISOString();
      reports.status(status, at);
    },
  };

  return {
    handlers,
    flush,
    flushDevices,
    flushDevicesSoon,
    counters: () => ({ ...counters }),
    close() {
      if (soonScheduled) {
        clearImmediate(soonScheduled);
        writeSoon();
      }
      flush();
      sendAcks();
      closed = true;
    },
  };
}

function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT.test(code);
}
