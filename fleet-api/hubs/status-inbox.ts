/**
 * Hub statuses [WF-P-T-10], as the API receives them on wf/v1/hubs/+/status: size cap, JSON and
 * schema first, the payload's hub against the topic's, then stored. Whatever fails is counted
 * and logged (rate-limited), never thrown. An unknown hub's status is dropped and counted too: a
 * deleted hub's retained will must not bring it back.
 */
import type { Logger } from '../../common/logger.js';
import { describeProblems, schemaProblems } from '../../common/validate.js';
import { HubStatusSchema, parseHubTopic, type HubStatus } from '../../protocol/index.js';
import { HUB_PAYLOAD_CAPS } from '../../broker/acl.js';

export interface HubStatusCounters {
  received: number;
  accepted: number;
  malformed: number;
  unknownHub: number;
}

export interface HubStatusSink {
  /** Stores the status; false when the hub is not known. */
  store(status: HubStatus): boolean;
}

const LOGS_PER_WINDOW = 20;
const WINDOW_MS = 10_000;

export class HubStatusInbox {
  readonly counters: HubStatusCounters = { received: 0, accepted: 0, malformed: 0, unknownHub: 0 };
  private window = { start: 0, logged: 0 };

  constructor(
    private readonly sink: HubStatusSink,
    private readonly logger: Logger,
  ) {}

  /** True when the topic was a hub status (handled here, whatever came of it). */
  onMessage(topic: string, payload: Buffer): boolean {
    const parsed = parseHubTopic(topic);
    if (!parsed || parsed.channel !== 'status') return false;
    this.counters.received += 1;
    // An empty retained payload clears the topic; nothing to store.
    if (payload.byteLength === 0) return true;
    if (payload.byteLength > HUB_PAYLOAD_CAPS.hubStatus) return this.malformed(topic, `payload of ${payload.byteLength} bytes exceeds ${HUB_PAYLOAD_CAPS.hubStatus}`, 'WF_PROTO_TOO_LARGE');
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      return this.malformed(topic, (error as Error).message, 'WF_PROTO_NOT_JSON');
    }
    const problems = schemaProblems(HubStatusSchema, value);
    if (problems.length > 0) return this.malformed(topic, describeProblems(problems), 'WF_PROTO_SCHEMA');
    const status = value as HubStatus;
    if (status.hubId !== parsed.hubId) return this.malformed(topic, `payload hubId '${status.hubId}' differs from topic`, 'WF_PROTO_TOPIC_MISMATCH');
    if (!this.sink.store(status)) {
      this.counters.unknownHub += 1;
      this.log(topic, `hub '${status.hubId}' is not in the inventory`, 'WF_API_NOT_FOUND');
      return true;
    }
    this.counters.accepted += 1;
    return true;
  }

  private malformed(topic: string, reason: string, code: string): true {
    this.counters.malformed += 1;
    this.log(topic, reason, code);
    return true;
  }

  private log(topic: string, reason: string, code: string): void {
    const now = Date.now();
    if (now - this.window.start > WINDOW_MS) this.window = { start: now, logged: 0 };
    if (this.window.logged++ < LOGS_PER_WINDOW) this.logger.warn('dropped hub status', { topic, code, reason });
  }
}
