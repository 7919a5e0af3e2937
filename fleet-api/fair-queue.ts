/**
 * Result batches waiting for SQLite, one FIFO per device, served round-robin: each turn takes from
 * every device with work at most `maxRowsPerDevice` rows (at least one batch, at most
 * `maxBatchesPerDevice`). So a device flushing a backlog of days, or sending heavy batches, gets
 * its share of each turn and no more, and every other device's batches are in the next turn
 * whatever the size of that backlog (docs/operations.md §Fair ingestion).
 *
 * A turn also stops taking shares once it holds `maxRowsPerTurn` rows: a whole fleet's queue in
 * one transaction holds the event loop (MQTT input, HTTP queries) for seconds. Devices served go
 * to the back of the line, so the ones the bound left out are first in the next turn.
 */
import type { ResultBatch } from '../protocol/index.js';

export interface FairShare {
  readonly maxRowsPerDevice: number;
  readonly maxBatchesPerDevice: number;
  /** Rows after which a turn takes no further device's share (unbounded when absent). */
  readonly maxRowsPerTurn?: number;
}

/** Rows a batch becomes in SQLite: one per metric point and per event. */
export function rowsOf(batch: ResultBatch): number {
  let rows = batch.events.length;
  for (const metric of batch.metrics) rows += metric.points.length;
  return rows;
}

export class FairQueue {
  private readonly queues = new Map<string, { batches: ResultBatch[]; head: number }>();
  private count = 0;

  constructor(private readonly share: FairShare) {}

  /** Batches waiting, all devices together. */
  get size(): number {
    return this.count;
  }

  push(deviceId: string, batches: readonly ResultBatch[]): void {
    if (batches.length === 0) return;
    let queue = this.queues.get(deviceId);
    if (!queue) this.queues.set(deviceId, (queue = { batches: [], head: 0 }));
    for (const batch of batches) queue.batches.push(batch);
    this.count += batches.length;
  }

  /** Batches waiting from one device. */
  sizeOf(deviceId: string): number {
    const queue = this.queues.get(deviceId);
    return queue ? queue.batches.length - queue.head : 0;
  }

  /** One turn: the share of every waiting device, longest unserved first, up to the turn's rows; oldest first within a device. */
  takeTurn(): ResultBatch[] {
    const turn: ResultBatch[] = [];
    const limit = this.share.maxRowsPerTurn ?? Number.POSITIVE_INFINITY;
    const served: string[] = [];
    let rows = 0;
    // Deleting the key being visited is safe in a Map iteration; re-adding is not, so that waits.
    for (const deviceId of this.queues.keys()) {
      if (rows >= limit) break;
      rows += this.takeShare(deviceId, turn);
      served.push(deviceId);
    }
    for (const deviceId of served) {
      const queue = this.queues.get(deviceId);
      if (!queue) continue;
      this.queues.delete(deviceId);
      this.queues.set(deviceId, queue);
    }
    return turn;
  }

  /** One device's share alone, oldest first: what a reader of that device waits for, without everyone else's. */
  takeDeviceShare(deviceId: string): ResultBatch[] {
    const turn: ResultBatch[] = [];
    this.takeShare(deviceId, turn);
    return turn;
  }

  /** Moves the device's share into `into`; returns its rows. */
  private takeShare(deviceId: string, into: ResultBatch[]): number {
    const queue = this.queues.get(deviceId);
    if (!queue) return 0;
    let rows = 0;
    let taken = 0;
    while (queue.head < queue.batches.length && taken < this.share.maxBatchesPerDevice && (taken === 0 || rows < this.share.maxRowsPerDevice)) {
      const batch = queue.batches[queue.head]!;
      queue.head += 1;
      rows += rowsOf(batch);
      taken += 1;
      into.push(batch);
    }
    this.count -= taken;
    if (queue.head === queue.batches.length) this.queues.delete(deviceId);
    else if (queue.head > 1024) {
      queue.batches.splice(0, queue.head);
      queue.head = 0;
    }
    return rows;
  }
}
