/**
 * Revocations the fleet API sends to the broker [WF-P-T-6]: "disconnect every client of this
 * device" (wf/v1/control/revoke), or of this hub (wf/v1/control/revoke-hub). Not retained, so one that could not be sent (link down, no PUBACK) is kept and sent
 * again on the next connect: a live session can never outlast its device's deletion.
 */
import { encodePayload, HUB_REVOKE_TOPIC, PROTOCOL_VERSION, topics, type RevokeHub } from '../protocol/index.js';
import { sendInOrder, type PublishDeps } from './mqtt-publish.js';

export class Revocations {
  private readonly pending = new Set<string>();
  private readonly pendingHubs = new Set<string>();

  constructor(private readonly deps: PublishDeps) {}

  async revoke(deviceId: string): Promise<boolean> {
    this.pending.add(deviceId);
    const sent = await sendInOrder(
      this.deps,
      topics.controlRevoke,
      () => encodePayload('revoke', { v: PROTOCOL_VERSION, deviceId, at: new Date().toISOString() }),
      {},
      { message: 'revocation publish failed; retried on the next connect', fields: { deviceId } },
    );
    if (sent) this.pending.delete(deviceId);
    return sent;
  }

  async revokeHub(hubId: string): Promise<boolean> {
    this.pendingHubs.add(hubId);
    const sent = await sendInOrder(
      this.deps,
      HUB_REVOKE_TOPIC,
      () => Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, hubId, at: new Date().toISOString() } satisfies RevokeHub)),
      {},
      { message: 'hub revocation publish failed; retried on the next connect', fields: { hubId } },
    );
    if (sent) this.pendingHubs.delete(hubId);
    return sent;
  }

  /** Sends again every revocation not yet confirmed; on each (re)connect. */
  async retryPending(): Promise<void> {
    for (const deviceId of [...this.pending]) await this.revoke(deviceId);
    for (const hubId of [...this.pendingHubs]) await this.revokeHub(hubId);
  }
}
