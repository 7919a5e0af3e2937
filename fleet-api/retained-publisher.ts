/**
 * What the fleet API keeps retained on the broker: module envelopes [WF-P-T-1] and each device's
 * signed desired state [WF-P-T-2]. Always read from SQLite at send time and serialised per topic,
 * so a re-sync racing a new deployment can never leave an older desired state retained; signed as
 * it is sent, so the expiry counts from the moment the message reaches the broker.
 */
import { encodePayload, hubTopics, topics, type DesiredState, type HubSite, type ModuleEnvelope, type SignedDesiredState } from '../protocol/index.js';
import { HUB_PAYLOAD_CAPS } from '../broker/acl.js';
import { sendInOrder, type PublishDeps } from './mqtt-publish.js';

/** What the link re-derives retained messages from: SQLite, through the store. */
export interface RetainedSource {
  moduleShas(): string[];
  moduleEnvelope(sha256: string): ModuleEnvelope | undefined;
  deviceIds(): string[];
  desiredState(deviceId: string): DesiredState | null;
  /** The devices that have a desired state, read in one query (else: deviceIds and desiredState of each). */
  deviceIdsWithDesired?(): string[];
  /** Every hub whose site document is kept retained (fleet-api/hubs/). */
  hubIds?(): string[];
  /** A hub's site document with its next revision, built now; undefined when the hub is gone. */
  hubSite?(hubId: string): HubSite | undefined;
}

/** Signs each desired state as it is published (docs/security.md); the fleet key never leaves it. */
export interface DesiredSigner {
  signDesired(state: DesiredState, now?: number): SignedDesiredState;
}

export interface RetainedPublisherDeps extends PublishDeps {
  readonly counters: PublishDeps['counters'] & { resyncs: number };
  readonly source: RetainedSource;
  readonly signer: DesiredSigner;
}

const RESYNC_CONCURRENCY = 32;

export class RetainedPublisher {
  /** When each device's retained desired state stops being valid; what the re-sign job reads. */
  private readonly signedUntil = new Map<string, number>();
  private resyncing: Promise<void> | undefined;
  /**
   * Topics whose last publish was skipped (link down) or failed, with how to derive them again:
   * what a reconnect to a broker that kept our session sends again (republishStale).
   */
  private readonly stale = new Map<string, () => Promise<boolean>>();

  constructor(private readonly deps: RetainedPublisherDeps) {}

  /** A module no longer in SQLite (deleted) gets its retained envelope cleared with an empty payload. */
  publishModule(sha256: string): Promise<boolean> {
    return this.send(topics.module(sha256), () => this.publishModule(sha256), () => {
      const envelope = this.deps.source.moduleEnvelope(sha256);
      return envelope ? encodePayload('module', envelope) : Buffer.alloc(0);
    });
  }

  async publishDesired(deviceId: string): Promise<boolean> {
    let expiresAt = 0;
    const sent = await this.send(topics.device(deviceId, 'desired'), () => this.publishDesired(deviceId), () => {
      const state = this.deps.source.desiredState(deviceId);
      if (!state) return undefined;
      const signed = this.deps.signer.signDesired(state);
      expiresAt = Date.parse(signed.expiresAt);
      return encodePayload('desired', signed);
    });
    if (sent) this.signedUntil.set(deviceId, expiresAt);
    return sent;
  }

  /** An empty retained payload removes the retained desired state from the broker. */
  clearDesired(deviceId: string): Promise<boolean> {
    this.signedUntil.delete(deviceId);
    return this.send(topics.device(deviceId, 'desired'), () => this.clearDesired(deviceId), () => Buffer.alloc(0));
  }

  /**
   * Publishes a hub's site document [WF-P-T-9], its revision taken when it is sent so documents
   * leave in revision order; a hub that no longer exists gets its retained document cleared.
   */
  publishHubSite(hubId: string): Promise<boolean> {
    return this.send(hubTopics.hub(hubId, 'site'), () => this.publishHubSite(hubId), () => {
      const site = this.deps.source.hubSite?.(hubId);
      if (!site) return Buffer.alloc(0);
      const bytes = Buffer.from(JSON.stringify(site), 'utf8');
      if (bytes.byteLength > HUB_PAYLOAD_CAPS.hubSite) {
        this.deps.logger.error('hub site document over its cap; not published', { hubId, bytes, cap: HUB_PAYLOAD_CAPS.hubSite });
        return undefined;
      }
      return bytes;
    });
  }

  /** Publishes every device's desired state again; returns how many went out. */
  publishAllDesired(): Promise<number> {
    return this.publishEach(this.deps.source.deviceIds());
  }

  /** Publishes again, freshly signed, every desired state that expires before `deadlineMs` (or was never published). */
  async resignExpiring(deadlineMs: number): Promise<{ due: number; published: number }> {
    const { source } = this.deps;
    // One query for who has a desired state: reading each device's row here stalled the event
    // loop for seconds every hour with 100,000 devices.
    const withDesired = source.deviceIdsWithDesired?.() ?? source.deviceIds().filter((id) => source.desiredState(id) !== null);
    const due = withDesired.filter((id) => (this.signedUntil.get(id) ?? 0) < deadlineMs);
    return { due: due.length, published: await this.publishEach(due) };
  }

  /** Sends again what this link failed to publish (and only that); returns how many went out. */
  async republishStale(): Promise<number> {
    const again = [...this.stale.values()];
    this.stale.clear();
    let published = 0;
    for (let i = 0; i < again.length; i += RESYNC_CONCURRENCY) {
      const sent = await Promise.all(again.slice(i, i + RESYNC_CONCURRENCY).map((publish) => publish()));
      published += sent.filter(Boolean).length;
    }
    if (again.length > 0) this.deps.logger.info('retained messages not published before sent again', { topics: again.length, published });
    return published;
  }

  /** Re-derives everything retained from SQLite; concurrent calls share one run. */
  resync(): Promise<void> {
    this.resyncing ??= (async () => {
      this.deps.counters.resyncs += 1;
      // All of it is derived again here: nothing is stale after it but what it fails to send.
      this.stale.clear();
      const started = Date.now();
      // Modules first, so an agent that sees a new desired state finds its modules retained.
      for (const sha of this.deps.source.moduleShas()) await this.publishModule(sha);
      const devices = await this.publishAllDesired();
      // Sites last: a hub that reads a new site finds its devices' desired states already there.
      const hubs = this.deps.source.hubIds?.() ?? [];
      for (const hubId of hubs) await this.publishHubSite(hubId);
      this.deps.logger.info('retained state re-derived from SQLite', { devices, hubs: hubs.length, ms: Date.now() - started });
    })().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  private async publishEach(ids: readonly string[]): Promise<number> {
    let published = 0;
    for (let i = 0; i < ids.length; i += RESYNC_CONCURRENCY) {
      const sent = await Promise.all(ids.slice(i, i + RESYNC_CONCURRENCY).map((id) => this.publishDesired(id)));
      published += sent.filter(Boolean).length;
    }
    return published;
  }

  private async send(topic: string, again: () => Promise<boolean>, payload: () => Buffer | undefined): Promise<boolean> {
    let nothing = false;
    const bytes = () => {
      const built = payload();
      nothing = built === undefined;
      return built;
    };
    const sent = await sendInOrder(this.deps, topic, bytes, { retain: true }, { message: 'retained publish failed; the next reconnect sends it again', fields: { topic } });
    // Skipped while the link was down, or failed: sent again at the next reconnect. Nothing to send
    // (its source is gone from SQLite) is not stale.
    if (sent || nothing) this.stale.delete(topic);
    else this.stale.set(topic, again);
    return sent;
  }

}
