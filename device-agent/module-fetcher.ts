/**
 * Fetches module bytes from their retained, content-addressed topic [WF-P-T-1]: subscribe to
 * `topics.module(sha)`, take the first message, verify it against the desired entry, unsubscribe.
 * A refused message fails the fetch at once with its reason, rather than waiting for a better one:
 * the retained message is the broker's only copy, so another will not come. Concurrent fetches of
 * the same hash share one subscription; verified modules go to the content-addressed cache.
 */
import { WasmfleetError, reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import { parseTopic, topics, type DesiredModule } from '../protocol/index.js';
import { agentErrors } from './errors.js';
import { ModuleCache } from './module-cache.js';
import { verifyEnvelope, verifyModule, type VerifiedModule, type VerifyContext } from './module-verify.js';

/** The slice of an MQTT client the fetcher needs; both reject when the broker refuses. */
export interface TopicSubscriber {
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
}

export interface ModuleFetcherOptions {
  readonly subscriber: TopicSubscriber;
  readonly timeoutMs: number;
  readonly cache?: ModuleCache;
  readonly logger?: Logger;
  /** Trusted publisher keys and this device's profile and architecture. */
  readonly verify: VerifyContext;
}

interface Fetched {
  readonly module: VerifiedModule;
  /** The entry the envelope was verified against; others sharing the hash are re-checked. */
  readonly verifiedFor: DesiredModule;
}

interface Pending {
  readonly desired: DesiredModule;
  readonly promise: Promise<Fetched>;
  settle(result: VerifiedModule | WasmfleetError): void;
}

export class ModuleFetcher {
  private readonly pending = new Map<string, Pending>();
  /**
   * Unsubscriptions not yet acknowledged, by topic. A refetch of the same hash must wait for
   * them: mqtt.js skips a SUBSCRIBE for a topic it still counts as subscribed, and the late
   * UNSUBACK would then leave the new fetch deaf.
   */
  private readonly unsubscribing = new Map<string, Promise<void>>();
  private readonly cache: ModuleCache;
  private readonly logger: Logger;
  private stopped = false;

  constructor(private readonly options: ModuleFetcherOptions) {
    this.cache = options.cache ?? new ModuleCache();
    this.logger = options.logger ?? silentLogger;
  }

  /** Resolves with verified bytes, or rejects with an agent error whose message is the reason. */
  async fetch(desired: DesiredModule): Promise<VerifiedModule> {
    if (this.stopped) throw agentErrors.WF_AGENT_STOPPED({ deviceId: '-' });
    const cached = this.cache.get(desired.sha256);
    let candidate = cached;
    if (!candidate) {
      const fetched = await (this.pending.get(desired.sha256) ?? this.start(desired)).promise;
      if (sameEntry(fetched.verifiedFor, desired)) return fetched.module;
      candidate = fetched.module;
    }
    const checked = verifyModule(desired, candidate, this.options.verify);
    if (!checked.ok) throw checked.error;
    return checked.module;
  }

  /** Offers an MQTT message; returns true when it was on a module topic (consumed or ignored). */
  handleMessage(topic: string, payload: Uint8Array): boolean {
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'module') return false;
    const pending = this.pending.get(parsed.sha256);
    if (!pending) return true;
    const verified = verifyEnvelope(pending.desired, parsed.sha256, payload, this.options.verify);
    if (verified.ok) {
      this.cache.put(verified.module);
      pending.settle(verified.module);
    } else {
      this.logger.warn('module refused', { module: pending.desired.name, sha256: parsed.sha256, code: verified.error.code, reason: verified.error.message });
      pending.settle(verified.error);
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const pending of this.pending.values()) pending.settle(agentErrors.WF_AGENT_STOPPED({ deviceId: '-' }));
  }

  private start(desired: DesiredModule): Pending {
    const topic = topics.module(desired.sha256);
    let resolve!: (fetched: Fetched) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<Fetched>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    let done = false;
    const settle = (result: VerifiedModule | WasmfleetError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.pending.delete(desired.sha256);
      const unsubscribed: Promise<void> = this.options.subscriber
        .unsubscribe(topic)
        .catch((error) => this.logger.debug('unsubscribe failed', { topic, error }))
        .finally(() => {
          if (this.unsubscribing.get(topic) === unsubscribed) this.unsubscribing.delete(topic);
        });
      this.unsubscribing.set(topic, unsubscribed);
      if (result instanceof WasmfleetError) reject(result);
      else resolve({ module: result, verifiedFor: desired });
    };
    const timer = setTimeout(
      () => settle(agentErrors.WF_AGENT_MODULE_NOT_FOUND({ name: desired.name, version: desired.version, sha256: desired.sha256, timeoutMs: this.options.timeoutMs })),
      this.options.timeoutMs,
    );
    const pending: Pending = { desired, promise, settle };
    this.pending.set(desired.sha256, pending);
    const refused = (error: unknown) =>
      settle(agentErrors.WF_AGENT_MODULE_SUBSCRIBE_REFUSED({ name: desired.name, version: desired.version, topic, reason: reasonOf(error) }));
    const unsubscribing = this.unsubscribing.get(topic);
    if (unsubscribing) void unsubscribing.then(() => (done ? undefined : this.options.subscriber.subscribe(topic))).catch(refused);
    else this.options.subscriber.subscribe(topic).catch(refused);
    return pending;
  }
}

function sameEntry(a: DesiredModule | undefined, b: DesiredModule): boolean {
  return a !== undefined && a.name === b.name && a.version === b.version && a.size === b.size && a.sha256 === b.sha256;
}
