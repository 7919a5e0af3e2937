/**
 * What the agent tells the fleet about itself: the retained reported state [WF-P-T-3] (debounced,
 * because module state changes come in bursts), the retained online status and its heartbeat
 * [WF-P-T-4]. Publishes only while the link is up and the agent is not stopping; the shutdown
 * status is the stop sequence's to send.
 */
import type { MqttClient } from 'mqtt';
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { encodePayload, topics, type DeviceStatus, type ReportedState } from '../protocol/index.js';
import { statusMessage } from './mqtt-link.js';

export interface ReporterOptions {
  readonly deviceId: string;
  readonly heartbeatMs: number;
  readonly logger: Logger;
  /** The reported state as of now. */
  readonly snapshot: () => ReportedState;
  /** Results not yet acked: while there are any, the heartbeat also refreshes the report. */
  readonly pendingResults: () => number;
}

/** Module state changes come in bursts (an apply starts several); one publish covers a burst. */
const REPORT_DEBOUNCE_MS = 100;
/** A loss is reported soon, but a failing disk must not turn into a report per result. */
const LOSS_REPORT_DELAY_MS = 2000;

export class StateReporter {
  /**
   * The last report published, without its time: a scheduled report (a burst of changes, a loss,
   * a heartbeat while results are pending) that would say the same again is not sent. In a
   * 10,000-device rollout a device under load said `starting` twice (fetching, then
   * instantiating, each past the debounce) and refreshed unchanged spool counts every heartbeat,
   * each a message for the broker and a row write for the API.
   */
  private lastSent: string | undefined;
  /** Reports published, and scheduled ones not sent because they said nothing new. */
  private readonly counts = { published: 0, unchanged: 0 };
  private debounce: NodeJS.Timeout | undefined;
  private lossReport: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly client: MqttClient,
    private readonly options: ReporterOptions,
  ) {}

  /** Starts the heartbeat: the online status again, so the API can tell a silent device. */
  start(): void {
    this.heartbeat ??= setInterval(() => {
      if (this.client.connected && !this.closed) {
        this.publishStatus(true, 'connected').catch((error) => this.options.logger.debug('heartbeat failed', { error: reasonOf(error) }));
      }
      if (this.options.pendingResults() > 0) this.schedule();
    }, this.options.heartbeatMs);
  }

  /** Publishes the reported state now, whatever the last one said (an apply, a refusal, a connect). */
  publishNow(): void {
    this.publish(false);
  }

  /** Publishes soon, once for a burst of changes, and only if the report says something new. */
  schedule(): void {
    if (this.closed) return;
    this.debounce ??= setTimeout(() => this.publish(true), REPORT_DEBOUNCE_MS);
  }

  scheduleLossReport(): void {
    if (this.closed) return;
    this.lossReport ??= setTimeout(() => {
      this.lossReport = undefined;
      this.publish(true);
    }, LOSS_REPORT_DELAY_MS);
  }

  stats(): { published: number; unchanged: number } {
    return { ...this.counts };
  }

  private publish(onlyIfChanged: boolean): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    if (!this.client.connected || this.closed) return;
    const snapshot = this.options.snapshot();
    let payload: Buffer;
    let said: string;
    try {
      payload = encodePayload('reported', snapshot);
      said = sameButTime(snapshot);
    } catch (error) {
      this.options.logger.error('reported state not published', { error });
      return;
    }
    if (onlyIfChanged && said === this.lastSent) {
      this.counts.unchanged += 1;
      return;
    }
    this.lastSent = said;
    this.counts.published += 1;
    this.client.publish(topics.device(this.options.deviceId, 'reported'), payload, { qos: 1, retain: true }, (error) => {
      if (!error) return;
      // Not known to have arrived: the next scheduled report goes out even if it says the same.
      if (this.lastSent === said) this.lastSent = undefined;
      this.options.logger.warn('reported state publish failed', { error });
    });
  }

  /** QoS 1 and retained; resolves on the broker's PUBACK. */
  publishStatus(online: boolean, reason: Extract<DeviceStatus['reason'], 'connected' | 'shutdown'>): Promise<unknown> {
    const payload = encodePayload('status', statusMessage(this.options.deviceId, online, reason));
    return this.client.publishAsync(topics.device(this.options.deviceId, 'status'), payload, { qos: 1, retain: true });
  }

  /** No more reports or heartbeats; the shutdown status can still be sent. */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.debounce);
    clearTimeout(this.lossReport);
    this.heartbeat = this.debounce = this.lossReport = undefined;
  }
}

/** The report as JSON with its time left out: what it says, to compare with the last one sent. */
function sameButTime(state: ReportedState): string {
  return JSON.stringify({ ...state, at: '' });
}
