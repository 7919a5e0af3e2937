/**
 * Down the tree, one copy per site: the desired state of every device in the hub's subtree and
 * the modules they name come from upstream once, are kept on the hub's disk (relay-store.ts) and
 * served retained on the site broker, byte for byte as received [WF-P-SIG-3, WF-P-SIG-4]. A
 * desired state is parsed only to find the module sha256s it names; agents verify everything.
 *
 * Owns: which desired and module topics the hub wants upstream, what it serves locally, dropping
 * modules no desired state names any more. Must not: alter, sign or judge what it relays (the
 * test-only tamper hook is the one exception, and no config file can switch it on).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/logger.js';
import type { LocalPort, UpstreamPort } from './ports.js';
import { reasonOf } from '../common/errors.js';
import { isSha256Hex } from '../protocol/ids.js';
import { PAYLOAD_CAPS } from '../protocol/limits.js';
import { parseTopic, topics } from '../protocol/topics.js';
import type { RelayStore } from './relay-store.js';

export interface DownRelayDeps {
  readonly store: RelayStore;
  readonly upstream: Pick<UpstreamPort, 'want' | 'unwant'>;
  readonly local: LocalPort;
  readonly logger: Logger;
  /** Test-only (tamper.ts): what the site broker is given instead of what arrived. */
  readonly tamper?: (topic: string, payload: Buffer) => Buffer;
}

/** The module sha256s a desired-state payload names; empty when it names none or is not JSON (agents will refuse it themselves). */
export function modulesNamedBy(payload: Buffer): string[] {
  if (payload.byteLength === 0 || payload.byteLength > PAYLOAD_CAPS.desired) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return [];
  }
  const modules = (parsed as { modules?: unknown } | null)?.modules;
  if (!Array.isArray(modules)) return [];
  const named = new Set<string>();
  for (const entry of modules) {
    const sha256 = (entry as { sha256?: unknown } | null)?.sha256;
    if (typeof sha256 === 'string' && isSha256Hex(sha256)) named.add(sha256);
  }
  return [...named];
}

export class DownRelay {
  readonly #deps: DownRelayDeps;
  /** Devices of the subtree, from the latest site document. */
  #devices = new Set<string>();
  /** Module topics wanted upstream right now. */
  readonly #modules = new Set<string>();
  /** Per key, writes in arrival order, so a slow disk never reorders two desired states. */
  readonly #chains = new Map<string, Promise<void>>();
  /** The module sha256s named by each device's latest desired state, as received (the disk may lag). */
  readonly #named = new Map<string, string[]>();

  constructor(deps: DownRelayDeps) {
    this.#deps = deps;
    for (const [deviceId, bytes] of deps.store.entries('desired')) this.#named.set(deviceId, modulesNamedBy(bytes));
  }

  /** Serves everything on disk on the site broker: a restarted hub serves its devices before the uplink returns. */
  async serveStored(): Promise<void> {
    const { store, local } = this.#deps;
    for (const [sha256, bytes] of [...store.entries('modules')]) await local.publish(topics.module(sha256), this.#served(topics.module(sha256), bytes), true);
    for (const [deviceId, bytes] of [...store.entries('desired')]) await local.publish(topics.device(deviceId, 'desired'), this.#served(topics.device(deviceId, 'desired'), bytes), true);
    this.#syncModules();
  }

  /** A new site document: want the desired topic of each device, forget the ones removed. */
  async setDevices(deviceIds: Iterable<string>): Promise<void> {
    const next = new Set(deviceIds);
    const removed = [...this.#devices].filter((id) => !next.has(id));
    this.#devices = next;
    this.#deps.upstream.want([...next].map((id) => topics.device(id, 'desired')));
    this.#deps.upstream.unwant(removed.map((id) => topics.device(id, 'desired')));
    for (const deviceId of removed) this.#named.delete(deviceId);
    this.#syncModules();
    for (const deviceId of removed) await this.#serially(`desired:${deviceId}`, () => this.#dropDesired(deviceId));
  }

  /**
   * A message from upstream on a desired or module topic; false when it is neither. The modules a
   * desired state names are wanted upstream at once, and it is served on the site broker while it
   * is written to disk, not after: a rollout to a site waits on neither a disk nor the thread pool
   * behind 50 fsyncs (the hub-fanout bench). No guarantee is weakened: mqtt.js PUBACKs upstream
   * right after the message event, so the disk never held a message before its ack anyway, and
   * an agent keeps its own verified copy of what it was served (with the revision floor).
   */
  onUpstream(topic: string, payload: Buffer): boolean {
    const parsed = parseTopic(topic);
    const arrived = performance.now();
    if (parsed?.kind === 'device' && parsed.channel === 'desired') {
      if (!this.#devices.has(parsed.deviceId)) return true;
      if (payload.byteLength === 0) this.#named.delete(parsed.deviceId);
      else this.#named.set(parsed.deviceId, modulesNamedBy(payload));
      this.#syncModules();
      void this.#serially(`desired:${parsed.deviceId}`, () => this.#onDesired(parsed.deviceId, payload, arrived));
      return true;
    }
    if (parsed?.kind === 'module') {
      if (!this.#modules.has(topic)) return true;
      void this.#serially(`module:${parsed.sha256}`, () => this.#onModule(parsed.sha256, payload, arrived));
      return true;
    }
    return false;
  }

  /** Settles once every write queued so far is done (tests and the stop use it). */
  async idle(): Promise<void> {
    await Promise.all([...this.#chains.values()]);
  }

  async #onDesired(deviceId: string, payload: Buffer, arrived: number): Promise<void> {
    const { store, local, logger } = this.#deps;
    const topic = topics.device(deviceId, 'desired');
    // An empty retained message clears the topic upstream (the device was deleted).
    if (payload.byteLength === 0) return this.#dropDesired(deviceId);
    if (store.get('desired', deviceId)?.equals(payload)) return;
    await Promise.all([store.put('desired', deviceId, payload), local.publish(topic, this.#served(topic, payload), true)]);
    // heldMs: from its arrival to the site broker's PUBACK (the durable write and the local publish).
    logger.info('desired state relayed', { deviceId, bytes: payload.byteLength, modules: modulesNamedBy(payload).length, heldMs: Math.round(performance.now() - arrived) });
  }

  async #onModule(sha256: string, payload: Buffer, arrived: number): Promise<void> {
    const { store, local, logger } = this.#deps;
    if (payload.byteLength === 0 || store.get('modules', sha256)?.equals(payload)) return;
    await Promise.all([store.put('modules', sha256, payload), local.publish(topics.module(sha256), this.#served(topics.module(sha256), payload), true)]);
    logger.info('module relayed', { sha256, bytes: payload.byteLength, heldMs: Math.round(performance.now() - arrived) });
  }

  async #dropDesired(deviceId: string): Promise<void> {
    if (this.#deps.store.get('desired', deviceId) === undefined) return;
    await this.#deps.store.delete('desired', deviceId);
    await this.#deps.local.publish(topics.device(deviceId, 'desired'), Buffer.alloc(0), true);
  }

  /** Wants upstream exactly the modules some device's latest desired state names; drops the others from disk and from the site broker. */
  #syncModules(): void {
    const { store, upstream, local } = this.#deps;
    const named = new Set<string>();
    for (const shas of this.#named.values()) for (const sha256 of shas) named.add(topics.module(sha256));
    const added = [...named].filter((topic) => !this.#modules.has(topic));
    const dropped = [...this.#modules].filter((topic) => !named.has(topic));
    // Stored modules nobody names (a desired state changed while the hub was stopped) go too.
    for (const [sha256] of [...store.entries('modules')]) if (!named.has(topics.module(sha256)) && !dropped.includes(topics.module(sha256))) dropped.push(topics.module(sha256));
    for (const topic of added) this.#modules.add(topic);
    for (const topic of dropped) this.#modules.delete(topic);
    if (added.length > 0) upstream.want(added);
    if (dropped.length === 0) return;
    upstream.unwant(dropped);
    for (const topic of dropped) {
      const sha256 = topic.slice(topic.lastIndexOf('/') + 1);
      void this.#serially(`module:${sha256}`, async () => {
        if (this.#modules.has(topic)) return;
        await store.delete('modules', sha256);
        await local.publish(topic, Buffer.alloc(0), true);
        this.#deps.logger.info('module dropped: no desired state names it', { sha256 });
      });
    }
  }

  #served(topic: string, payload: Buffer): Buffer {
    return this.#deps.tamper ? this.#deps.tamper(topic, payload) : payload;
  }

  #serially(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((error: unknown) => this.#deps.logger.warn('relay write failed', { code: 'WF_HUB_STORE_FAILED', key, reason: reasonOf(error) }));
    this.#chains.set(key, next);
    void next.finally(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
    return next;
  }
}
