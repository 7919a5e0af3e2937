/**
 * What devices send the fleet API, decoded and checked before ingestion sees it: the size cap and
 * schema of every payload [WF-P-CAP-1], the payload's device against its topic's (the broker's
 * ACL should already stop a device speaking for another; checked again here), and result batches
 * one by one, so a bad batch is refused alone, with its reason [WF-P-NACK-1], and its neighbours
 * in a SpooledResults are stored. Whatever fails is counted and logged (rate-limited), never thrown.
 */
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import {
  decodePayload,
  decodeResults,
  parseTopic,
  type BatchRefusal,
  type DeviceStatus,
  type ReportedState,
  type ResultBatch,
} from '../protocol/index.js';

export interface IngestHandlers {
  reported(state: ReportedState): void;
  status(status: DeviceStatus, retained: boolean): void;
  /** One message's result batches of one device: those that passed the schema, and those refused. */
  results(deviceId: string, batches: ResultBatch[], refused: BatchRefusal[]): void;
}

export interface InboxCounters {
  received: number;
  accepted: number;
  /** Messages, or result batches within one, dropped for failing the protocol. */
  malformed: number;
  topicMismatch: number;
}

const MALFORMED_LOGS_PER_WINDOW = 20;
const MALFORMED_WINDOW_MS = 10_000;

export class DeviceInbox {
  private malformedWindow = { start: 0, logged: 0 };

  constructor(
    private readonly handlers: IngestHandlers,
    private readonly counters: InboxCounters,
    private readonly logger: Logger,
  ) {}

  onMessage(topic: string, payload: Buffer, retained: boolean): void {
    this.counters.received += 1;
    // Empty retained payloads are how topics get cleared; nothing to ingest.
    if (payload.byteLength === 0) return;
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind !== 'device' || parsed.channel === 'desired' || parsed.channel === 'ack') {
      this.malformed(topic, 'not a device channel the API reads', 'WF_PROTO_TOPIC_MISMATCH');
      return;
    }
    try {
      if (parsed.channel === 'results' || parsed.channel === 'spooled') this.onResults(topic, parsed.deviceId, parsed.channel, payload);
      else if (parsed.channel === 'reported') this.onReport(topic, parsed.deviceId, 'reported', payload, retained);
      else this.onReport(topic, parsed.deviceId, 'status', payload, retained);
    } catch (error) {
      this.logger.error('ingestion failed', { topic, reason: reasonOf(error) });
    }
  }

  private onReport(topic: string, deviceId: string, channel: 'reported' | 'status', payload: Buffer, retained: boolean): void {
    const decoded = decodePayload(channel, payload);
    if (!decoded.ok) return this.malformed(topic, decoded.error.message, decoded.error.code);
    if (decoded.value.deviceId !== deviceId) return this.mismatch(topic, `payload deviceId '${decoded.value.deviceId}' differs from topic`);
    if (channel === 'reported') this.handlers.reported(decoded.value as ReportedState);
    else this.handlers.status(decoded.value as DeviceStatus, retained);
    this.counters.accepted += 1;
  }

  private onResults(topic: string, deviceId: string, channel: 'results' | 'spooled', payload: Buffer): void {
    const decoded = decodeResults(channel, payload);
    if (!decoded.ok) return this.malformed(topic, decoded.error.message, decoded.error.code);
    const { batches, refused } = decoded.value;
    if (decoded.value.deviceId !== undefined && decoded.value.deviceId !== deviceId) {
      return this.mismatch(topic, `payload deviceId '${decoded.value.deviceId}' differs from topic`);
    }
    // A bundle naming another device is refused whole: that is not a bug to answer, it is an impostor.
    if (batches.some((batch) => batch.deviceId !== deviceId)) return this.mismatch(topic, 'a spooled batch names another device');
    for (const refusal of refused) this.malformed(topic, `batch ${refusal.seq} refused (${refusal.reason}): ${refusal.message}`, 'WF_PROTO_SCHEMA');
    this.handlers.results(deviceId, batches, refused);
    this.counters.accepted += 1;
  }

  private mismatch(topic: string, reason: string): void {
    this.counters.topicMismatch += 1;
    this.log(topic, reason, 'WF_PROTO_TOPIC_MISMATCH');
  }

  private malformed(topic: string, reason: string, code: string): void {
    this.counters.malformed += 1;
    this.log(topic, reason, code);
  }

  private log(topic: string, reason: string, code: string): void {
    const now = Date.now();
    if (now - this.malformedWindow.start > MALFORMED_WINDOW_MS) this.malformedWindow = { start: now, logged: 0 };
    // A misbehaving device could otherwise flood the log; counters keep the full tally.
    if (this.malformedWindow.logged++ < MALFORMED_LOGS_PER_WINDOW) this.logger.warn('dropped malformed message', { topic, code, reason });
  }
}
