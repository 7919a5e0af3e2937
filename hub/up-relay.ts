/**
 * Up the tree: what the site's devices (and child hubs, for theirs) publish on the site broker.
 *
 * - `reported` and `status` are relayed upstream retained on the device's own topic; the latest of
 *   each is kept and re-published whole when the uplink returns, so the central view catches up.
 * - `results` and `spooled` go through custody (hub/custody/): the device is acked on the site
 *   broker only with custody's answer, once the batch is durable on the hub's disk; custody
 *   forwards upstream while the uplink is up, and upstream acks (on the device's own ack topic,
 *   which the hub subscribes to upstream) go back to custody, never to the device.
 *
 * Owns: these routes and the latest reported/status per device. Must not: ack a device before
 * custody did, or forward an upstream ack downstream.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../common/logger.js';
import type { LocalPort, UpstreamPort } from './ports.js';
import type { ResultCustody } from './custody/index.js';
import { reasonOf } from '../common/errors.js';
import { decodePayload, encodePayload } from '../protocol/index.js';
import { parseTopic, topics } from '../protocol/topics.js';

/** What the relay uses of the hub's result custody (hub/custody/index.ts). */
export type Custody = Omit<ResultCustody, 'counters'>;

export interface UpRelayDeps {
  readonly custody: Custody;
  readonly upstream: UpstreamPort;
  readonly local: LocalPort;
  readonly logger: Logger;
}

/** Filters the hub reads on the site broker (through its in-process link). */
export const SITE_FILTERS = [topics.allDevices('reported'), topics.allDevices('status'), topics.allDevices('results'), topics.allDevices('spooled')];

export class UpRelay {
  readonly #deps: UpRelayDeps;
  #devices = new Set<string>();
  /** Latest retained reported/status per topic, and whether upstream has it. */
  readonly #latest = new Map<string, { payload: Buffer; sent: boolean; arrived: number }>();
  #dropped = 0;

  constructor(deps: UpRelayDeps) {
    this.#deps = deps;
  }

  /** Payloads dropped as not from a site device, or malformed acks from upstream. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The subtree's devices: their upstream ack topics are wanted, and only they are relayed. */
  setDevices(deviceIds: Iterable<string>): void {
    const next = new Set(deviceIds);
    const removed = [...this.#devices].filter((id) => !next.has(id));
    this.#devices = next;
    this.#deps.upstream.want([...next].map((id) => topics.device(id, 'ack')));
    this.#deps.upstream.unwant(removed.map((id) => topics.device(id, 'ack')));
    for (const id of removed) {
      this.#latest.delete(topics.device(id, 'reported'));
      this.#latest.delete(topics.device(id, 'status'));
    }
  }

  /** A publish on the site broker. */
  onLocal(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'device' || !this.#devices.has(parsed.deviceId)) {
      this.#dropped += 1;
      return;
    }
    const { deviceId, channel } = parsed;
    if (channel === 'reported' || channel === 'status') {
      // An empty retained payload clears; nothing to carry upstream for it.
      if (payload.byteLength === 0) return;
      this.#latest.set(topic, { payload, sent: false, arrived: performance.now() });
      if (this.#deps.upstream.connected) void this.#sendLatest(topic);
      return;
    }
    if (channel === 'results' || channel === 'spooled') void this.#intake(deviceId, channel, payload);
  }

  /** A message from upstream on a device's ack topic; false when it is not one. */
  onUpstream(topic: string, payload: Buffer): boolean {
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'device' || parsed.channel !== 'ack') return false;
    const decoded = decodePayload('ack', payload);
    if (!decoded.ok || decoded.value.deviceId !== parsed.deviceId) {
      this.#dropped += 1;
      this.#deps.logger.warn('upstream ack dropped', {
        code: 'WF_HUB_PAYLOAD_DROPPED',
        deviceId: parsed.deviceId,
        reason: decoded.ok ? 'names another device' : decoded.error.message,
      });
      return true;
    }
    this.#deps.custody.upstreamAck(parsed.deviceId, decoded.value);
    return true;
  }

  /** The uplink is up: custody forwards, and every latest reported/status goes up again. */
  uplinkUp(): void {
    this.#deps.custody.startForwarding((topic, payload) => this.#deps.upstream.publish(topic, payload, false));
    for (const entry of this.#latest.values()) entry.sent = false;
    for (const topic of [...this.#latest.keys()]) void this.#sendLatest(topic);
  }

  uplinkDown(): void {
    this.#deps.custody.stopForwarding();
  }

  async #sendLatest(topic: string): Promise<void> {
    const entry = this.#latest.get(topic);
    if (!entry || entry.sent) return;
    entry.sent = true;
    try {
      const sent = performance.now();
      await this.#deps.upstream.publish(topic, entry.payload, true);
      if (this.#deps.logger.level === 'debug') this.#traceRelayed(topic, entry, sent);
    } catch {
      // Sent again when the uplink returns (uplinkUp), unless a newer one replaced it meanwhile.
      if (this.#latest.get(topic) === entry) entry.sent = false;
    }
  }

  /** Debug only (the hub-fanout bench's breakdown): when a reported/status came in, went up, and was acked. */
  #traceRelayed(topic: string, entry: { payload: Buffer; arrived: number }, sent: number): void {
    const now = performance.now();
    const fields: Record<string, unknown> = { topic, queuedMs: Math.round(sent - entry.arrived), pubackMs: Math.round(now - sent) };
    if (topic.endsWith('/reported')) {
      try {
        const modules = (JSON.parse(entry.payload.toString('utf8')) as { modules?: { state?: string }[] }).modules ?? [];
        fields.running = modules.filter((module) => module.state === 'running').length;
      } catch {
        fields.running = null;
      }
    }
    this.#deps.logger.debug('relayed up', fields);
  }

  async #intake(deviceId: string, channel: 'results' | 'spooled', payload: Buffer): Promise<void> {
    try {
      const ack = await this.#deps.custody.receive(deviceId, channel, payload);
      if (ack === undefined) return;
      await this.#deps.local.publish(topics.device(deviceId, 'ack'), encodePayload('ack', ack), false);
    } catch (error) {
      // Not acked: the device keeps the batch in its spool and sends it again.
      this.#deps.logger.warn('results not taken into custody', { deviceId, channel, reason: reasonOf(error) });
    }
  }
}
