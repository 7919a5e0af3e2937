/**
 * Revocations the fleet API sends to the broker [WF-P-T-6]: "disconnect every client of this
 * device". Not retained, so one that could not be sent (link down, no PUBACK) is kept and sent
 * again on the next connect: a live session can never outlast its device's deletion.
 */
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import { encodePayload, PROTOCOL_VERSION, topics } from '../protocol/index.js';
import { publishConfirmed, type ClientRef, type PublishCounters, type TopicQueue } from './mqtt-publish.js';

export interface RevocationsDeps {
  readonly client: ClientRef;
  readonly queue: TopicQueue;
  readonly counters: PublishCounters;
  readonly publishTimeoutMs: number;
  readonly logger: Logger;
}

export class Revocations {
  private readonly pending = new Set<string>();

  constructor(private readonly deps: RevocationsDeps) {}

  revoke(deviceId: string): Promise<boolean> {
    return this.deps.queue.run(topics.controlRevoke, async () => {
      this.pending.add(deviceId);
      const client = this.deps.client();
      if (!client?.connected) {
        this.deps.counters.deferred += 1;
        return false;
      }
      const bytes = encodePayload('revoke', { v: PROTOCOL_VERSION, deviceId, at: new Date().toISOString() });
      try {
        await publishConfirmed(client, topics.controlRevoke, bytes, {}, this.deps.publishTimeoutMs);
        this.pending.delete(deviceId);
        this.deps.counters.published += 1;
        return true;
      } catch (error) {
        this.deps.counters.publishFailed += 1;
        this.deps.logger.warn('revocation publish failed; retried on the next connect', { deviceId, reason: reasonOf(error) });
        return false;
      }
    });
  }

  /** Sends again every revocation not yet confirmed; on each (re)connect. */
  async retryPending(): Promise<void> {
    for (const deviceId of [...this.pending]) await this.revoke(deviceId);
  }
}
