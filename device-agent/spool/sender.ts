/**
 * Sends spooled results over MQTT in seq order with QoS 1, and forgets them only on the fleet
 * API's ack [WF-P-T-8]. Live results (nothing waiting before them) go out one per publish on the
 * results topic [WF-P-T-5]; a backlog goes out many per publish on the spooled topic [WF-P-T-7],
 * so a reconnect flushes thousands a second without tripping the broker's per-client rate limit.
 *
 * What is published but not acked within `ackTimeoutMs`, or when the link drops, is sent again
 * from the oldest unacked result; the API stores each (device, seq) once, so a resend is harmless.
 *
 * After a (re)connect, the oldest unacked result waits only `resendAfterConnectMs` (doubling for
 * each of at most MAX_EARLY_RESENDS resends) when nothing has been acked since the connect, or
 * when a newer result has been: a broker that has just restarted (a fresh in-memory one, or one
 * process with the API) can take a device's publish before the API has subscribed and drop it
 * with a PUBACK, and the API acks a device's results in the order they were published, so an ack
 * past an older result means that one is lost. Then the sender falls back to `ackTimeoutMs`; a
 * dead API gets at most MAX_EARLY_RESENDS extra sends per connect, and connects are spaced by
 * the reconnect backoff (docs/operations.md §Restarts).
 */
import type { MqttClient } from 'mqtt';
import { reasonOf } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { decodePayload, MAX_SPOOLED_BATCHES, PAYLOAD_CAPS, PROTOCOL_VERSION, topics } from '../../protocol/index.js';
import type { BatchRefusal } from '../../protocol/index.js';
import type { Spool } from './spool.js';

/** A result the API refused and, when its payload names them, the module and deployment that produced it. */
export interface RefusedResult extends BatchRefusal {
  readonly seq: number;
  readonly module?: string;
  readonly deploymentId?: string;
}

export interface SenderOptions {
  readonly deviceId: string;
  /** Results published and not yet acked at most; past that the sender waits for acks. */
  readonly window?: number;
  readonly ackTimeoutMs?: number;
  /** After a connect, for the early resends: the first one's wait, doubled for each next one. */
  readonly resendAfterConnectMs?: number;
  /** Spooled publishes awaiting their PUBACK at most. */
  readonly maxPublishesInFlight?: number;
  readonly logger?: Logger;
  /** Results the API refused [WF-P-NACK-1], already forgotten by the spool; e.g. to count them per module. */
  readonly onRefused?: (refused: RefusedResult[]) => void;
}

export interface SenderStats {
  readonly published: number;
  readonly publishes: number;
  readonly acked: number;
  readonly resends: number;
  readonly malformedAcks: number;
  /** Results the API refused with a negative ack; never resent. */
  readonly refused: number;
}

/** Also bounds what the spool rescues in memory when it drops a segment (spool.ts). */
export const DEFAULT_WINDOW = 5_000;
export const DEFAULT_ACK_TIMEOUT_MS = 15_000;
export const DEFAULT_RESEND_AFTER_CONNECT_MS = 1_000;
/** Resends after a connect before the first ack (waits of 1, 2, 4 s by default), then ackTimeoutMs alone. */
export const MAX_EARLY_RESENDS = 3;
const DEFAULT_PUBLISHES_IN_FLIGHT = 16;
/** JSON framing of a SpooledResults around its batches, with room to spare. */
const ENVELOPE_SLACK = 1024;

export class ResultSender {
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private readonly resendAfterConnectMs: number;
  /** The newest seq acked since the last connect; -1 for none (the API may not have subscribed yet). */
  private newestAckedSinceConnect = -1;
  private earlyResends = MAX_EARLY_RESENDS;
  private readonly maxPublishes: number;
  private readonly logger: Logger;
  private readonly resultsTopic: string;
  private readonly spooledTopic: string;
  readonly ackTopic: string;
  private publishesInFlight = 0;
  private pumping = false;
  private stopped = false;
  /**
   * Armed only while results are pending (published or waiting): an idle agent has nothing to
   * check, and 1,000 simulated agents' checks twice a second were 6% of an agents process's time.
   */
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly ackCheckMs: number;
  private readonly stats_ = { published: 0, publishes: 0, acked: 0, resends: 0, malformedAcks: 0, refused: 0 };
  private readonly prefix: Buffer;

  constructor(
    private readonly client: MqttClient,
    private readonly spool: Spool,
    private readonly options: SenderOptions,
  ) {
    this.window = options.window ?? DEFAULT_WINDOW;
    this.ackTimeoutMs = options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.maxPublishes = options.maxPublishesInFlight ?? DEFAULT_PUBLISHES_IN_FLIGHT;
    this.logger = options.logger ?? silentLogger;
    this.resultsTopic = topics.device(options.deviceId, 'results');
    this.spooledTopic = topics.device(options.deviceId, 'spooled');
    this.ackTopic = topics.device(options.deviceId, 'ack');
    this.prefix = Buffer.from(`{"v":${PROTOCOL_VERSION},"deviceId":${JSON.stringify(options.deviceId)},"batches":[`);
    this.resendAfterConnectMs = Math.min(options.resendAfterConnectMs ?? DEFAULT_RESEND_AFTER_CONNECT_MS, this.ackTimeoutMs);
    this.ackCheckMs = Math.max(50, Math.floor(Math.min(this.ackTimeoutMs / 4, this.resendAfterConnectMs / 2)));
  }

  /** Whether the ack timeout is being watched: only while results are pending. */
  get watchingAcks(): boolean {
    return this.ackTimer !== undefined;
  }

  /** A (re)connect: every unacked result is sent again, oldest first. */
  onConnect(): void {
    this.newestAckedSinceConnect = -1;
    this.earlyResends = 0;
    this.spool.rewind();
    this.pump();
  }

  /** Handles a message on the ack topic; true if it was one. */
  handleMessage(topic: string, payload: Buffer): boolean {
    if (topic !== this.ackTopic) return false;
    const decoded = decodePayload('ack', payload);
    if (!decoded.ok) {
      this.stats_.malformedAcks += 1;
      this.logger.warn('results ack dropped', { code: decoded.error.code, reason: decoded.error.message });
      return true;
    }
    for (const [, last] of decoded.value.stored) this.newestAckedSinceConnect = Math.max(this.newestAckedSinceConnect, last);
    this.stats_.acked += this.spool.ack(decoded.value.stored);
    if (decoded.value.refused) {
      // Forgotten, not resent: resending what the API cannot store would only hold the window [WF-P-NACK-1].
      const refused = this.spool.refuse(decoded.value.refused).map(({ payload, ...refusal }) => ({ ...refusal, ...producerOf(payload) }));
      this.stats_.refused += refused.length;
      if (refused.length > 0) this.options.onRefused?.(refused);
    }
    this.pump();
    return true;
  }

  /** Sends what the window and the link allow, in seq order. */
  pump(): void {
    if (this.pumping || this.stopped) return;
    if (!this.ackTimer && this.spool.pending > 0) {
      this.ackTimer = setInterval(() => this.checkAcks(), this.ackCheckMs);
      this.ackTimer.unref?.();
    }
    this.pumping = true;
    try {
      while (this.client.connected && this.publishesInFlight < this.maxPublishes && this.spool.unsentCount > 0) {
        const room = this.window - this.spool.inflight;
        if (room <= 0) return;
        const backlog = this.spool.unsentCount > 1 || this.publishesInFlight > 0;
        const items = this.spool.takeUnsent(backlog ? Math.min(room, MAX_SPOOLED_BATCHES) : 1, PAYLOAD_CAPS.spooled - ENVELOPE_SLACK - 600 * 1024);
        if (items.length === 0) continue;
        if (items.length === 1) this.publish(this.resultsTopic, items[0]!.payload, 1);
        else this.publish(this.spooledTopic, this.bundle(items.map((item) => item.payload)), items.length);
      }
    } finally {
      this.pumping = false;
    }
  }

  stats(): SenderStats {
    return { ...this.stats_ };
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ackTimer);
    this.ackTimer = undefined;
  }

  private bundle(payloads: Buffer[]): Buffer {
    const parts: Buffer[] = [this.prefix];
    payloads.forEach((payload, index) => {
      if (index > 0) parts.push(COMMA);
      parts.push(payload);
    });
    parts.push(CLOSE);
    return Buffer.concat(parts);
  }

  private publish(topic: string, payload: Buffer, count: number): void {
    this.publishesInFlight += 1;
    this.client.publish(topic, payload, { qos: 1 }, (error) => {
      this.publishesInFlight -= 1;
      if (error) {
        // Still in the spool: the next connect (or the ack timeout) sends it again.
        this.logger.debug('results publish failed; resent later', { error: reasonOf(error) });
      } else {
        this.stats_.published += count;
        this.stats_.publishes += 1;
      }
      this.pump();
    });
  }

  /** Nothing acked since the connect, or something newer than the oldest unacked result. */
  private lostSinceConnect(): boolean {
    if (this.newestAckedSinceConnect < 0) return true;
    const oldestSeq = this.spool.oldestInflightSeq();
    return oldestSeq !== undefined && this.newestAckedSinceConnect > oldestSeq;
  }

  private checkAcks(): void {
    if (this.spool.pending === 0) {
      clearInterval(this.ackTimer);
      this.ackTimer = undefined;
      return;
    }
    if (!this.client.connected) return;
    const oldest = this.spool.oldestInflightSentAt();
    const waited = Date.now() - oldest;
    if (oldest > 0 && this.publishesInFlight === 0 && this.earlyResends < MAX_EARLY_RESENDS && waited > this.resendAfterConnectMs * 2 ** this.earlyResends && this.lostSinceConnect()) {
      this.earlyResends += 1;
      this.stats_.resends += 1;
      this.logger.debug('no ack since the connect; resending from the oldest', { pending: this.spool.pending, resend: this.earlyResends });
      this.spool.rewind();
    } else if (oldest > 0 && waited > this.ackTimeoutMs && this.publishesInFlight === 0) {
      this.stats_.resends += 1;
      this.logger.info('results not acked in time; resending from the oldest', { pending: this.spool.pending });
      this.spool.rewind();
    }
    this.pump();
  }
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

function producerOf(payload: Buffer | undefined): { module?: string; deploymentId?: string } {
  if (!payload) return {};
  try {
    const { module, deploymentId } = JSON.parse(payload.toString('utf8')) as { module?: unknown; deploymentId?: unknown };
    return { ...(typeof module === 'string' ? { module } : {}), ...(typeof deploymentId === 'string' ? { deploymentId } : {}) };
  } catch {
    return {};
  }
}
