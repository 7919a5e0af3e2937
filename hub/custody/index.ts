/**
 * Result custody at a site hub (issue 14, docs/federation.md, README.md here): the hub takes
 * custody of its devices' result batches on its own disk, acknowledges a device only once they
 * are durable, and forwards them upstream until the fleet API acknowledges them in turn.
 */
import type { Logger } from '../../common/logger.js';
import type { ResultsAck } from '../../protocol/index.js';
import { ResultCustodyStore } from './custody.js';
import type { ForwardOptions } from './forwarder.js';

export interface ResultCustody {
  /**
   * Validates and stores a device's ResultBatch or SpooledResults payload durably; resolves with
   * the ResultsAck to publish to that device once it is on disk (acks, or negative acks for what the
   * API would refuse), or undefined when there is nothing to publish: the payload is dropped as
   * malformed (counted, logged), or custody is full or its disk failed (the device keeps the
   * batches in its own spool and sends them again).
   */
  receive(deviceId: string, channel: 'results' | 'spooled', payload: Buffer): Promise<ResultsAck | undefined>;
  /** Forwards held batches upstream oldest first (per device in seq order) through `send`, which
   *  resolves on PUBACK; a bounded window of batches in flight; resends what is unacked on restart. */
  startForwarding(send: (topic: string, payload: Buffer) => Promise<void>): void;
  stopForwarding(): void;
  /** An upstream ResultsAck for a device: drops the acked seqs; refused ones are counted lost with the reason. */
  upstreamAck(deviceId: string, ack: ResultsAck): void;
  backlog(): { batches: number; bytes: number; oldestAt: string | null };
  lost(): Record<string, number>;
  /** Added to the contract: what custody did, for logs, metrics and tests (not losses). */
  counters(): CustodyCounters;
  close(): Promise<void>;
}

export interface CustodyCounters {
  /** Payloads received. */
  received: number;
  /** Payloads dropped whole: cap, JSON, envelope, or naming another device. */
  malformed: number;
  /** Batches stored durably. */
  stored: number;
  /** Batches received again while held or after they left custody: acknowledged, not stored twice. */
  duplicates: number;
  /** Batches answered with a negative ack, never held [WF-P-NACK-1]. */
  refusedAtIntake: number;
  /** Batches not taken because custody was full: not acknowledged, so their device keeps and resends them. */
  deferredFull: number;
  /** Payloads not even read while custody stayed full (until 10% of maxBytes is free again): not acknowledged either. */
  skippedFull: number;
  /** Appends or fdatasyncs that failed: those batches were not acknowledged. */
  writeFailures: number;
  /** Segments whose torn tail (a write cut by a crash) was cut off on opening. */
  tornTails: number;
  publishes: number;
  batchesSent: number;
  resends: number;
  publishFailures: number;
  /** Batches acknowledged upstream. */
  forwarded: number;
}

export interface ResultCustodyOptions {
  dir: string;
  /** Disk the custody log may take, dead records in partly emptied segments included. */
  maxBytes: number;
  /** A batch held longer than this is dropped, counted `droppedAge`. */
  maxAgeMs: number;
  logger: Logger;
  now?: () => number;
  /** Added to the contract: the forwarding window and timeouts (defaults in forwarder.ts). */
  forward?: Partial<ForwardOptions>;
}

export function openResultCustody(options: ResultCustodyOptions): Promise<ResultCustody> {
  return ResultCustodyStore.open(options);
}

export { FORWARD_DEFAULTS, type ForwardOptions } from './forwarder.js';
export { LOSS_REASONS } from './custody.js';
