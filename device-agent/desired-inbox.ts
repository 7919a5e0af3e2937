/**
 * The agent's one door for desired states [WF-P-T-2]: a payload on its desired topic is
 * size-capped and schema-checked [WF-P-CAP-1], its fleet signature and expiry verified
 * (docs/security.md), and only then handed to the reconciler. What fails is counted, logged and
 * reported as an error; it never stops the modules that run.
 */
import type { Logger } from '../common/logger.js';
import { decodePayload, topics, type DesiredState } from '../protocol/index.js';
import { verifyDesired } from './desired-verify.js';
import { agentErrors } from './errors.js';
import type { ReportedError } from './reconciler.js';
import type { TrustKeeper } from './trust-keeper.js';

/** The slice of the reconciler the inbox drives. */
export interface DesiredSink {
  submit(state: DesiredState): Promise<void>;
  reportError(error: ReportedError): void;
}

export interface DesiredInboxOptions {
  readonly deviceId: string;
  readonly trust: TrustKeeper;
  readonly sink: DesiredSink;
  readonly logger: Logger;
  /** A refusal was recorded: the reported state should say so now. */
  readonly onRefused: () => void;
}

export class DesiredInbox {
  readonly topic: string;
  /** Payloads dropped for being oversize, not JSON or off-schema. */
  malformed = 0;
  /** Desired states refused as unsigned, badly signed or expired. */
  refused = 0;

  constructor(private readonly options: DesiredInboxOptions) {
    this.topic = topics.device(options.deviceId, 'desired');
  }

  handle(payload: Buffer): void {
    const { sink, logger } = this.options;
    // An empty retained payload is how MQTT clears a topic, and anyone with publish rights can
    // send one: it is not signed, so it stops nothing [WF-P-SIG-4].
    if (payload.byteLength === 0) {
      this.refuse(agentErrors.WF_AGENT_DESIRED_UNSIGNED_CLEAR());
      return;
    }
    const decoded = decodePayload('desired', payload);
    if (!decoded.ok) {
      this.malformed += 1;
      logger.warn('payload dropped', { what: 'desired', code: decoded.error.code, reason: decoded.error.message });
      sink.reportError(agentErrors.WF_AGENT_DESIRED_MALFORMED({ reason: `${decoded.error.code}: ${decoded.error.message}` }));
      this.options.onRefused();
      return;
    }
    const verified = verifyDesired(decoded.value, this.options.trust, logger);
    if (!verified.ok) {
      this.refuse(verified.error);
      return;
    }
    const state = decoded.value as DesiredState;
    logger.info('desired state received', { revision: state.revision, modules: state.modules.length });
    void sink.submit(state);
  }

  private refuse(error: ReportedError): void {
    this.refused += 1;
    this.options.logger.warn('desired state refused', { code: error.code, reason: error.message });
    this.options.sink.reportError(error);
    this.options.onRefused();
  }
}
