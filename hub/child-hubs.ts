/**
 * Nested hubs (ISA-95 layers): for each hub below this one in the site document, its site document
 * comes down (subscribed upstream, served retained on this hub's broker byte for byte, where the
 * child hub reads it), and its HubStatus goes up (read on this hub's broker, relayed upstream
 * retained, the latest re-published when the uplink returns). Its devices' topics need nothing
 * more: they are in this hub's site document, so the device relays already carry them.
 */
import type { Logger } from '../common/logger.js';
import type { LocalPort, UpstreamPort } from './ports.js';
import { hubTopics, parseHubTopic } from '../protocol/hubs.js';

export interface ChildHubsDeps {
  readonly upstream: UpstreamPort;
  readonly local: LocalPort;
  readonly logger: Logger;
}

/** What this hub reads on its broker for its child hubs. */
export const CHILD_STATUS_FILTER = hubTopics.allHubs('status');

export class ChildHubs {
  readonly #deps: ChildHubsDeps;
  #hubs = new Set<string>();
  readonly #statuses = new Map<string, Buffer>();

  constructor(deps: ChildHubsDeps) {
    this.#deps = deps;
  }

  setHubs(hubIds: Iterable<string>): void {
    const next = new Set(hubIds);
    const removed = [...this.#hubs].filter((id) => !next.has(id));
    this.#hubs = next;
    this.#deps.upstream.want([...next].map((id) => hubTopics.hub(id, 'site')));
    this.#deps.upstream.unwant(removed.map((id) => hubTopics.hub(id, 'site')));
    for (const id of removed) this.#statuses.delete(id);
  }

  /** A site document of a hub below this one, from upstream; false when the topic is not one. */
  onUpstream(topic: string, payload: Buffer): boolean {
    const parsed = parseHubTopic(topic);
    if (parsed?.channel !== 'site' || !this.#hubs.has(parsed.hubId)) return false;
    void this.#deps.local.publish(topic, payload, true).catch((error: unknown) => this.#deps.logger.warn('child site document not served', { hubId: parsed.hubId, reason: String(error) }));
    return true;
  }

  /** A status a hub below this one published here; false when the topic is not one. */
  onLocal(topic: string, payload: Buffer): boolean {
    const parsed = parseHubTopic(topic);
    if (parsed?.channel !== 'status') return false;
    if (!this.#hubs.has(parsed.hubId) || payload.byteLength === 0) return true;
    this.#statuses.set(parsed.hubId, payload);
    if (this.#deps.upstream.connected) this.#send(topic, payload);
    return true;
  }

  uplinkUp(): void {
    for (const [hubId, payload] of this.#statuses) this.#send(hubTopics.hub(hubId, 'status'), payload);
  }

  #send(topic: string, payload: Buffer): void {
    // A failed send is re-sent by uplinkUp (the latest per hub is kept).
    this.#deps.upstream.publish(topic, payload, true).catch(() => undefined);
  }
}
