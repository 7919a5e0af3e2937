/**
 * What the fleet API keeps retained on the broker: module envelopes [WF-P-T-1] and each device's
 * signed desired state [WF-P-T-2]. Always read from SQLite at send time and serialised per topic,
 * so a re-sync racing a new deployment can never leave an older desired state retained; signed as
 * it is sent, so the expiry counts from the moment the message reaches the broker.
 */
import { encodePayload, topics, type DesiredState, type ModuleEnvelope, type SignedDesiredState } from '../protocol/index.js';
import { sendInOrder, type PublishDeps } from './mqtt-publish.js';

/** What the link re-derives retained messages from: SQLite, through the store. */
export interface RetainedSource {
  moduleShas(): string[];
  moduleEnvelope(sha256: string): ModuleEnvelope | undefined;
  deviceIds(): string[];
  desiredState(deviceId: string): DesiredState | null;
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

  constructor(private readonly deps: RetainedPublisherDeps) {}

  publishModule(sha256: string): Promise<boolean> {
    return this.send(topics.module(sha256), () => {
      const envelope = this.deps.source.moduleEnvelope(sha256);
      return envelope && encodePayload('module', envelope);
    });
  }

  async publishDesired(deviceId: string): Promise<boolean> {
    let expiresAt = 0;
    const sent = await this.send(topics.device(deviceId, 'desired'), () => {
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
    return this.send(topics.device(deviceId, 'desired'), () => Buffer.alloc(0));
  }

  /** Publishes every device's desired state again; returns how many went out. */
  publishAllDesired(): Promise<number> {
    return this.publishEach(this.deps.source.deviceIds());
  }

  /** Publishes again, freshly signed, every desired state that expires before `deadlineMs` (or was never published). */
  async resignExpiring(deadlineMs: number): Promise<{ due: number; published: number }> {
    const { source } = this.deps;
    const due = source.deviceIds().filter((id) => (this.signedUntil.get(id) ?? 0) < deadlineMs && source.desiredState(id) !== null);
    return { due: due.length, published: await this.publishEach(due) };
  }

  /** Re-derives everything retained from SQLite; concurrent calls share one run. */
  resync(): Promise<void> {
    this.resyncing ??= (async () => {
      this.deps.counters.resyncs += 1;
      const started = Date.now();
      // Modules first, so an agent that sees a new desired state finds its modules retained.
      for (const sha of this.deps.source.moduleShas()) await this.publishModule(sha);
      const devices = await this.publishAllDesired();
      this.deps.logger.info('retained state re-derived from SQLite', { devices, ms: Date.now() - started });
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

  private send(topic: string, payload: () => Buffer | undefined): Promise<boolean> {
    return sendInOrder(this.deps, topic, payload, { retain: true }, { message: 'retained publish failed; the next reconnect re-derives it', fields: { topic } });
  }
}
