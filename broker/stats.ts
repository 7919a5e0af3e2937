/**
 * The broker's counters. Refusals are counted, never silent: an operator can tell a quiet fleet
 * from a fleet whose traffic is being refused.
 */
import { feedMetric } from './metrics.js';

export interface BrokerStats {
  /** Clients that completed CONNECT and have not disconnected. */
  readonly connectedClients: number;
  /** CONNECTs answered with a non-zero return code by the authenticate hook. */
  readonly authRefusals: number;
  readonly aclPublishRefusals: number;
  readonly aclSubscribeRefusals: number;
  /** Messages not forwarded to a hub on a subscription it may no longer read (its subtree changed). */
  readonly aclForwardDrops: number;
  /** Publishes refused because the payload exceeded PAYLOAD_CAPS for its topic [WF-P-CAP-1]. */
  readonly payloadCapRefusals: number;
  /** Connections dropped because a packet exceeded maxPacketBytes (or its length was malformed). */
  readonly oversizePackets: number;
  /** Client publishes that passed the ACL and were routed. */
  readonly messagesPublished: number;
  /** QoS 0 publishes over the client's publish rate, dropped without closing. */
  readonly publishRateDrops: number;
  /** Connections closed for a QoS 1/2 publish over the client's publish rate. */
  readonly publishRateDisconnects: number;
  /** CONNECTs refused with return code 3 because their address or the broker was over the connection rate. */
  readonly connectionRateRefusals: number;
  /** Publishes and subscriptions refused for a topic deeper than maxTopicDepth. */
  readonly topicDepthRefusals: number;
  /** Revocation control messages acted on [WF-P-T-6]. */
  readonly revocations: number;
  /** Clients disconnected because their device was revoked. */
  readonly revokedDisconnects: number;
  /** TLS connections that failed their handshake (bad or missing client certificate, wrong CA, plain MQTT on the TLS port). */
  readonly tlsHandshakeFailures: number;
  /** CONNECTs refused because the client certificate does not name the authenticated identity. */
  readonly certificateMismatches: number;
  /** Anonymous clients accepted (only with allowAnonymous). */
  readonly anonymousConnects: number;
}

export type StatName = Exclude<keyof BrokerStats, 'connectedClients'>;

export interface StatCounters {
  increment(name: StatName): void;
  snapshot(connectedClients: number): BrokerStats;
}

export function createStatCounters(): StatCounters {
  const counts: Record<StatName, number> = {
    authRefusals: 0,
    aclPublishRefusals: 0,
    aclSubscribeRefusals: 0,
    aclForwardDrops: 0,
    payloadCapRefusals: 0,
    oversizePackets: 0,
    messagesPublished: 0,
    publishRateDrops: 0,
    publishRateDisconnects: 0,
    connectionRateRefusals: 0,
    topicDepthRefusals: 0,
    revocations: 0,
    revokedDisconnects: 0,
    tlsHandshakeFailures: 0,
    certificateMismatches: 0,
    anonymousConnects: 0,
  };
  return {
    increment: (name) => {
      counts[name] += 1;
      feedMetric(name);
    },
    snapshot: (connectedClients) => Object.freeze({ connectedClients, ...counts }),
  };
}
