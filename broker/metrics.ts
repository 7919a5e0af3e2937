/**
 * The broker's Prometheus metrics (docs/metrics.md §Broker), fed by the same increments as its
 * BrokerStats snapshot (stats.ts), so the two never disagree.
 */
import client from 'prom-client';
import { counter, metricsRegistry, sourcedGauge } from '../common/metrics.js';
import { parseTopic } from '../protocol/index.js';
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

/**
 * A client publish routed: counted by the protocol channel of its topic (bounded labels). Each
 * topic's kind is remembered (bounded: a large fleet starts over now and then).
 */
export function messagePublished(topic: string): void {
  let cell = cellOfTopic.get(topic);
  if (!cell) {
    cell = messagesIn(kindOfTopic(topic));
    if (cellOfTopic.size >= MAX_REMEMBERED_TOPICS) cellOfTopic.clear();
    cellOfTopic.set(topic, cell);
  }
  cell.count += 1;
}

// One routed message reaches every subscriber as the same object: its topic is parsed once.
const forwardedCells = new WeakMap<object, { count: number }>();

/** A message about to be written to one subscriber (Aedes' authorizeForward). */
export function messageForwarded(packet: { topic: string }): void {
  let cell = forwardedCells.get(packet);
  if (cell === undefined) forwardedCells.set(packet, (cell = messagesOut(kindOfTopic(packet.topic))));
  cell.count += 1;
}

const MAX_REMEMBERED_TOPICS = 10_000;
const cellOfTopic = new Map<string, { count: number }>();
const kindOfTopic = (topic: string): string => {
  const parsed = parseTopic(topic);
  return parsed === undefined ? (topic.startsWith('$SYS') ? 'sys' : 'other') : parsed.kind === 'module' ? 'module' : parsed.channel;
};

/** `auth` is the principal's kind (device or service). */
export function connectAccepted(auth: string): void {
  connects.inc({ auth });
}
