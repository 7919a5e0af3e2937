/**
 * The broker's Prometheus metrics (docs/metrics.md §Broker), fed by the same increments as its
 * BrokerStats snapshot (stats.ts), so the two never disagree.
 */
import client from 'prom-client';
import { counter, metricsRegistry, sourcedGauge } from '../common/metrics.js';
import { DEVICE_CHANNELS, DEVICES_PREFIX, isSha256Hex, MODULES_PREFIX } from '../protocol/index.js';
import type { StatName } from './stats.js';

export const brokerConnections = sourcedGauge('wasmfleet_broker_connections', 'MQTT clients connected (completed CONNECT, not yet gone)');
const connects = counter('wasmfleet_broker_connects_total', 'CONNECTs accepted', ['auth']);
const refusals = counter('wasmfleet_broker_connect_refusals_total', 'CONNECTs refused, by reason', ['reason']);
/**
 * A counter by topic kind that every routed message pays for: the hot path adds to a plain number
 * per kind, handed to prom-client when it is scraped (a topic parse plus prom-client's label
 * hashing per message cost as much as the rest of the ACL).
 */
function kindCounter(name: string, help: string): (kind: string) => { count: number } {
  const pending = new Map<string, { count: number }>();
  new client.Counter({
    name,
    help,
    labelNames: ['kind'],
    registers: [metricsRegistry],
    collect() {
      for (const [kind, cell] of pending) {
        if (cell.count === 0) continue;
        this.inc({ kind }, cell.count);
        cell.count = 0;
      }
    },
  });
  return (kind) => {
    let cell = pending.get(kind);
    if (!cell) pending.set(kind, (cell = { count: 0 }));
    return cell;
  };
}
const messagesIn = kindCounter('wasmfleet_broker_messages_in_total', 'Client publishes that passed the ACL and were routed, by topic kind');
const messagesOut = kindCounter('wasmfleet_broker_messages_out_total', 'Messages written to subscribers (one per subscriber reached, retained ones included), by topic kind');
const dropped = counter('wasmfleet_broker_messages_dropped_total', 'Packets refused or dropped by the broker, by packet kind and reason', ['kind', 'reason']);
const rateLimited = counter('wasmfleet_broker_rate_limited_total', 'Clients held to a rate limit, by what was done', ['action']);
const revocations = counter('wasmfleet_broker_revocations_total', 'Device revocations acted on');
const revokedDisconnects = counter('wasmfleet_broker_revoked_disconnects_total', 'Clients disconnected because their device was revoked');

/** What each BrokerStats increment means as a metric. */
const FEEDS: Record<StatName, () => void> = {
  authRefusals: () => refusals.inc({ reason: 'auth' }),
  certificateMismatches: () => refusals.inc({ reason: 'certificate_mismatch' }),
  tlsHandshakeFailures: () => refusals.inc({ reason: 'tls_handshake' }),
  connectionRateRefusals: () => {
    refusals.inc({ reason: 'connection_rate' });
    rateLimited.inc({ action: 'connect_refused' });
  },
  anonymousConnects: () => connects.inc({ auth: 'anonymous' }),
  aclPublishRefusals: () => dropped.inc({ kind: 'publish', reason: 'acl' }),
  aclSubscribeRefusals: () => dropped.inc({ kind: 'subscribe', reason: 'acl' }),
  aclForwardDrops: () => dropped.inc({ kind: 'forward', reason: 'acl' }),
  payloadCapRefusals: () => dropped.inc({ kind: 'publish', reason: 'payload_cap' }),
  topicDepthRefusals: () => dropped.inc({ kind: 'packet', reason: 'topic_depth' }),
  oversizePackets: () => dropped.inc({ kind: 'packet', reason: 'oversize' }),
  publishRateDrops: () => {
    dropped.inc({ kind: 'publish', reason: 'publish_rate' });
    rateLimited.inc({ action: 'publish_dropped' });
  },
  publishRateDisconnects: () => rateLimited.inc({ action: 'disconnected' }),
  // Counted by kind in messagePublished(), which knows the topic.
  messagesPublished: () => {},
  revocations: () => revocations.inc(),
  revokedDisconnects: () => revokedDisconnects.inc(),
};

export function feedMetric(name: StatName): void {
  FEEDS[name]();
}

/** A client publish routed: counted by the protocol channel of its topic (bounded labels). */
export function messagePublished(topic: string): void {
  messagesIn(kindOfTopic(topic)).count += 1;
}

/** A message about to be written to one subscriber (Aedes' authorizeForward). */
export function messageForwarded(packet: { topic: string }): void {
  messagesOut(kindOfTopic(packet.topic)).count += 1;
}

const CHANNELS: ReadonlySet<string> = new Set(DEVICE_CHANNELS);

/**
 * The label of a topic: its device channel, `module`, `sys` or `other`, as protocol/topics.ts
 * parseTopic reads it, found by scanning for the two separators instead of splitting the topic.
 * Every routed message and every delivery pays for it; an earlier cache of each topic's label held
 * 10,000 topics and, with a few topics per device, started over all the time past 2,500 devices.
 */
export function kindOfTopic(topic: string): string {
  if (topic.startsWith(DEVICES_PREFIX)) {
    const slash = topic.indexOf('/', DEVICES_PREFIX.length);
    if (slash > DEVICES_PREFIX.length && topic.indexOf('/', slash + 1) === -1) {
      const channel = topic.slice(slash + 1);
      if (CHANNELS.has(channel)) return channel;
    }
    return 'other';
  }
  if (topic.startsWith(MODULES_PREFIX)) return isSha256Hex(topic.slice(MODULES_PREFIX.length)) ? 'module' : 'other';
  return topic.startsWith('$SYS') ? 'sys' : 'other';
}

/** `auth` is the principal's kind (device or service). */
export function connectAccepted(auth: string): void {
  connects.inc({ auth });
}
