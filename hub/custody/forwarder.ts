/**
 * Sends held batches upstream on their device's own topic: oldest first, each device's in seq
 * order, several per SpooledResults [WF-P-T-7] (a lone batch that fits goes on `results` with its
 * exact bytes), QoS 1 through the caller's `send`, which resolves on PUBACK. A PUBACK does not
 * settle anything: only the API's ResultsAck does (custody.ts), as for the agents' spool.
 *
 * Bounded: at most `window` batches sent and not yet acknowledged upstream, and at most
 * `maxPublishesInFlight` publishes awaiting their PUBACK. What is not acknowledged within
 * `ackTimeoutMs`, what a failed publish carried, and everything in flight when forwarding stops
 * (the uplink dropped) is sent again; `(deviceId, seq)` makes the resend harmless upstream.
 */
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { MAX_SPOOLED_BATCHES, PAYLOAD_CAPS, PROTOCOL_VERSION, topics } from '../../protocol/index.js';
import type { HeldEntry, HeldIndex } from './held.js';

export type Send = (topic: string, payload: Buffer) => Promise<void>;

export interface ForwardOptions {
  /** Batches sent and not yet acknowledged upstream, at most. */
  readonly window: number;
  readonly maxPublishesInFlight: number;
  /**
   * Batches of one device per publish, at most. The API's ingest takes at most 100 batches of a
   * device per turn (fleet-api/fair-queue.ts), so 1,000 of one device in one SpooledResults only
   * wait there, turn after turn, while the window holds five devices instead of fifty: the full
   * hub-backlog bench (50 devices, a 10-minute cut) saw those acks pass the ack timeout and 70 %
   * of the batches sent twice. A window spread over many devices fills every turn instead.
   */
  readonly maxBatchesPerPublish: number;
  readonly ackTimeoutMs: number;
  /** Wait after a failed publish before trying again. */
  readonly retryMs: number;
}

export const FORWARD_DEFAULTS: ForwardOptions = { window: 5_000, maxPublishesInFlight: 8, maxBatchesPerPublish: 100, ackTimeoutMs: 15_000, retryMs: 1_000 };

export interface ForwardCounters {
  publishes: number;
  batchesSent: number;
  /** Batches sent again: ack overdue, publish failed, or forwarding restarted. */
  resends: number;
  publishFailures: number;
}

/** JSON framing of a SpooledResults around its batches, with room to spare. */
const ENVELOPE_SLACK = 1024;

export class Forwarder {
  private send: Send | undefined;
  /** Changes on every start and stop, so a late PUBACK of an earlier link changes nothing. */
  private generation = 0;
  private publishes = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private overdueTimer: NodeJS.Timeout | undefined;
  /** Sent at least once, so sending it again counts as a resend. */
  private readonly everSent = new WeakSet<HeldEntry>();

  constructor(
    private readonly held: HeldIndex,
    /** The batch's bytes, or undefined when its record is unreadable (custody has then counted it lost). */
    private readonly readBatch: (entry: HeldEntry) => Buffer | undefined,
    private readonly options: ForwardOptions,
    readonly counters: ForwardCounters,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  get forwarding(): boolean {
    return this.send !== undefined;
  }

  start(send: Send): void {
    this.stop();
    this.send = send;
    const every = Math.max(10, Math.floor(this.options.ackTimeoutMs / 4));
    this.overdueTimer = setInterval(() => this.resendOverdue(), every);
    this.overdueTimer.unref();
    this.pump();
  }

  stop(): void {
    this.send = undefined;
    this.generation += 1;
    this.publishes = 0;
    clearInterval(this.overdueTimer);
    clearTimeout(this.retryTimer);
    this.overdueTimer = undefined;
    this.retryTimer = undefined;
    this.held.rewind();
  }

  /** Sends while the window has room; called again whenever an ack or PUBACK frees some. */
  pump(): void {
    while (this.send && !this.retryTimer && this.publishes < this.options.maxPublishesInFlight) {
      const room = this.options.window - this.held.inflight.size;
      if (room <= 0) return;
      const entries = this.held.nextToSend(Math.min(room, this.options.maxBatchesPerPublish, MAX_SPOOLED_BATCHES), PAYLOAD_CAPS.spooled - ENVELOPE_SLACK);
      if (entries.length === 0) return;
      const parts: Buffer[] = [];
      const sent: HeldEntry[] = [];
      const at = this.now();
      for (const entry of entries) {
        const bytes = this.readBatch(entry);
        if (!bytes) continue;
        parts.push(bytes);
        sent.push(entry);
        this.held.markSent(entry, at);
        if (this.everSent.has(entry)) this.counters.resends += 1;
        this.everSent.add(entry);
      }
      if (sent.length === 0) continue;
      const deviceId = sent[0]!.deviceId;
      const lone = parts.length === 1 && parts[0]!.byteLength <= PAYLOAD_CAPS.results;
      const topic = topics.device(deviceId, lone ? 'results' : 'spooled');
      const payload = lone ? parts[0]! : spooledPayload(deviceId, parts);
      this.publish(topic, payload, sent);
    }
  }

  private publish(topic: string, payload: Buffer, sent: HeldEntry[]): void {
    const send = this.send!;
    const generation = this.generation;
    this.publishes += 1;
    this.counters.publishes += 1;
    this.counters.batchesSent += sent.length;
    let settled = false;
    const settle = (error: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (generation !== this.generation) return;
      this.publishes -= 1;
      if (error === undefined) {
        this.pump();
        return;
      }
      this.counters.publishFailures += 1;
      for (const entry of sent) if (!entry.done && entry.inflight) this.held.markUnsent(entry);
      this.logger.warn('custody publish upstream failed; sent again later', { topic, batches: sent.length, error: reasonOf(error) });
      this.retryLater();
    };
    // A PUBACK that never comes (a client queueing while it reconnects) must not hold a slot for ever.
    const timer = setTimeout(() => settle(new Error(`no PUBACK within ${this.options.ackTimeoutMs} ms`)), this.options.ackTimeoutMs);
    timer.unref();
    Promise.resolve()
      .then(() => send(topic, payload))
      .then(
        () => settle(undefined),
        (error: unknown) => settle(error ?? new Error('publish failed')),
      );
  }

  private retryLater(): void {
    if (this.retryTimer || !this.send) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, this.options.retryMs);
    this.retryTimer.unref();
  }

  private resendOverdue(): void {
    const cutoff = this.now() - this.options.ackTimeoutMs;
    let overdue = 0;
    for (const entry of this.held.inflight) {
      if (entry.sentAt <= cutoff) {
        this.held.markUnsent(entry);
        overdue += 1;
      }
    }
    if (overdue === 0) return;
    this.logger.warn('custody batches not acknowledged upstream in time; sending them again', { batches: overdue, ackTimeoutMs: this.options.ackTimeoutMs });
    this.pump();
  }
}

function spooledPayload(deviceId: string, batches: Buffer[]): Buffer {
  const head = Buffer.from(`{"v":${PROTOCOL_VERSION},"deviceId":${JSON.stringify(deviceId)},"batches":[`, 'utf8');
  const parts: Buffer[] = [head];
  batches.forEach((batch, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(batch);
  });
  parts.push(TAIL);
  return Buffer.concat(parts);
}

const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']}');
