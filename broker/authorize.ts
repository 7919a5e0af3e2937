/**
 * The Aedes authorizePublish / authorizeSubscribe hooks: they apply the rules of acl.ts to the
 * principal that authenticate.ts stored on the client, enforce the per-topic payload caps, count
 * and log every refusal.
 *
 * What Aedes 1.2 does with our answers (lib/handlers/publish.js, subscribe.js, client.js):
 *  - publish refused (callback(error)): no PUBACK is sent, `clientError` is emitted and the
 *    connection is closed, for QoS 0, 1 and 2 alike. MQTT 3.1.1 allows exactly this choice
 *    [MQTT-3.3.5-2]: acknowledge and drop, or close the connection.
 *  - subscribe refused (callback(null, null)): the SUBACK carries 0x80 for that filter and the
 *    connection stays up (§3.9.3). Calling back with an error instead would close the connection,
 *    so we never do.
 *  - a will whose publish is refused at disconnect is dropped silently by Aedes; authenticate.ts
 *    refuses such a will at CONNECT time so that never happens.
 */
import type { AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from '../common/logger.js';
import { decidePublish, decideSubscribe } from './acl.js';
import { brokerErrors } from './errors.js';
import { describePrincipal, principalOf } from './principal.js';
import type { StatCounters } from './stats.js';

export interface AuthorizeDeps {
  readonly logger: Logger;
  readonly stats: StatCounters;
}

type AuthorizePublishHook = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) => void;
type AuthorizeSubscribeHook = (
  client: Client,
  subscription: Subscription,
  callback: (error: Error | null, subscription?: Subscription | null) => void,
) => void;
type PublishedHook = (packet: AedesPublishPacket, client: Client, callback: (error?: Error | null) => void) => void;

const payloadBytes = (payload: PublishPacket['payload']): number =>
  typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;

export function createAuthorizePublish({ logger, stats }: AuthorizeDeps): AuthorizePublishHook {
  return function authorizePublish(client, packet, callback) {
    const principal = principalOf(client);
    const clientId = client?.id ?? null;
    const decision = decidePublish(principal, packet.topic);
    if (!decision.allowed) {
      stats.increment('aclPublishRefusals');
      const error = brokerErrors.WF_BROKER_ACL_PUBLISH_REFUSED({
        topic: packet.topic,
        principal: describePrincipal(principal),
        reason: decision.reason,
      });
      logger.warn('publish refused', { code: error.code, clientId, topic: packet.topic, reason: decision.reason });
      return callback(error);
    }
    // [WF-P-CAP-1] the broker refuses what every receiver would drop anyway, before routing it.
    const bytes = payloadBytes(packet.payload);
    if (bytes > decision.cap) {
      stats.increment('payloadCapRefusals');
      const error = brokerErrors.WF_BROKER_PAYLOAD_TOO_LARGE({
        topic: packet.topic,
        bytes,
        kind: decision.kind,
        cap: decision.cap,
      });
      logger.warn('publish refused', { code: error.code, clientId, topic: packet.topic, bytes, cap: decision.cap });
      return callback(error);
    }
    callback(null);
  };
}

export function createAuthorizeSubscribe({ logger, stats }: AuthorizeDeps): AuthorizeSubscribeHook {
  return function authorizeSubscribe(client, subscription, callback) {
    const principal = principalOf(client);
    const decision = decideSubscribe(principal, subscription.topic);
    if (!decision.allowed) {
      stats.increment('aclSubscribeRefusals');
      logger.warn('subscription refused', {
        code: 'WF_BROKER_ACL_SUBSCRIBE_REFUSED',
        clientId: client.id,
        topic: subscription.topic,
        reason: decision.reason,
      });
      // null, not an error: SUBACK 0x80 for this filter, connection kept (see header).
      return callback(null, null);
    }
    callback(null, subscription);
  };
}

/** Counts routed client publishes; broker-internal ones ($SYS heartbeat) have no client. */
export function createPublished({ stats }: AuthorizeDeps): PublishedHook {
  return function published(_packet, client, callback) {
    if (client) stats.increment('messagesPublished');
    callback(null);
  };
}
