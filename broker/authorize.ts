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
 *
 * Checks run cheapest-and-most-damning first: topic depth, ACL, payload cap, then the publish
 * rate, so a publish outside the ACL always closes the connection even while over the rate.
 * Over the rate (docs/broker.md §Rate limits), QoS 0 is dropped and counted — the sender accepted
 * loss by choosing QoS 0 and a reconnect (a credential verification) would cost the broker more — and
 * QoS 1/2 closes the connection without acknowledging, so the client keeps the message and resends
 * it after reconnecting instead of losing it to an acknowledge-and-drop [MQTT-3.3.5-2].
 */
import type { AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from '../common/logger.js';
import { topics } from '../protocol/topics.js';
import { reasonOf } from '../common/errors.js';
import type { Principal } from './credentials.js';
import type { CachedHubMembership, HubMembership, HubSubtree } from './hub-membership.js';
import { decidePublish, decideSubscribe, type PublishDecision } from './acl.js';
import { brokerErrors } from './errors.js';
import type { BrokerOptions } from './options.js';
import { describePrincipal, principalOf } from './principal.js';
import { TokenBucket } from './rate-limit.js';
import type { RevocationRegistry } from './revocation.js';
import { messageForwarded, messagePublished } from './metrics.js';
import type { StatCounters } from './stats.js';

export interface AuthorizeDeps {
  readonly logger: Logger;
  readonly stats: StatCounters;
  readonly options: Pick<
    BrokerOptions,
    'maxTopicDepth' | 'publishRatePerSec' | 'publishBurst' | 'servicePublishRatePerSec' | 'servicePublishBurst'
  >;
  readonly revocations: RevocationRegistry;
  /** Hub principals' subtrees (hub-membership.ts); without it every hub topic is denied. */
  readonly membership?: HubMembership & Partial<Pick<CachedHubMembership, 'peek' | 'fresh'>>;
}

/**
 * Runs `decide` with the principal's hub subtree when it is a hub (an asynchronous, cached lookup),
 * at once otherwise. A failed lookup decides with no subtree, which denies.
 */
function withSubtree(principal: Principal | undefined, membership: HubMembership | undefined, logger: Logger, decide: (subtree?: HubSubtree) => void): void {
  if (principal?.kind !== 'hub') return decide();
  if (!membership) return decide(undefined);
  // new Promise, not Promise.resolve: a lookup that throws at once must deny, not escape into Aedes.
  new Promise<HubSubtree | undefined>((resolve) => resolve(membership.subtreeOf(principal.hubId))).then(
    (subtree) => decide(subtree),
    (error: unknown) => {
      logger.warn('hub membership lookup failed', { code: 'WF_BROKER_VERIFIER_FAILED', hubId: principal.hubId, reason: reasonOf(error) });
      decide(undefined);
    },
  );
}

/**
 * Marks a QoS 0 packet over the publish rate. Aedes has no "accept but do not route" answer, so
 * authorizePublish lets it through marked and index.ts' wrapper around aedes.publish drops it.
 */
export const RATE_DROPPED = Symbol('wasmfleet.broker.rateDropped');

/** Same count as Aedes' topicLevelCount: levels are `/`-separated, `a/b` has 2. */
export const topicLevels = (topic: string): number => topic.split('/').length;

/** How many allowed topics a client's decisions are remembered for (a device has four). */
const ALLOWED_TOPICS_PER_CLIENT = 16;

type AuthorizePublishHook = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) => void;
type AuthorizeSubscribeHook = (
  client: Client,
  subscription: Subscription,
  callback: (error: Error | null, subscription?: Subscription | null) => void,
) => void;
type PublishedHook = (packet: AedesPublishPacket, client: Client, callback: (error?: Error | null) => void) => void;

const payloadBytes = (payload: PublishPacket['payload']): number =>
  typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;

export function createAuthorizePublish({ logger, stats, options, membership }: AuthorizeDeps): AuthorizePublishHook {
  const buckets = new WeakMap<Client, TokenBucket>();
  const bucketOf = (client: Client): TokenBucket => {
    let bucket = buckets.get(client);
    if (!bucket) {
      // A hub relays for a whole site, so it gets the service's rate, not one device's.
      const kind = principalOf(client)?.kind;
      bucket = kind === 'service' || kind === 'hub'
        ? new TokenBucket(options.servicePublishRatePerSec, options.servicePublishBurst)
        : new TokenBucket(options.publishRatePerSec, options.publishBurst);
      buckets.set(client, bucket);
    }
    return bucket;
  };

  // Allowed topics per client: a device publishes to a handful of topics all its connection long,
  // and for every principal but a hub (whose subtree changes) the decision is a pure function of
  // principal and topic, fixed for the connection (a revoked device is disconnected). Deciding
  // again for every message was a measurable share of the broker's CPU per message.
  const allowed = new WeakMap<Client, Map<string, PublishDecision & { allowed: true }>>();

  return function authorizePublish(client, packet, callback) {
    const known = client ? allowed.get(client)?.get(packet.topic) : undefined;
    if (known) return decideLimits(client, packet, callback, principalOf(client), client?.id ?? null, known);
    const principal = principalOf(client);
    const clientId = client?.id ?? null;
    const levels = topicLevels(packet.topic);
    if (levels > options.maxTopicDepth) {
      stats.increment('topicDepthRefusals');
      const error = brokerErrors.WF_BROKER_TOPIC_TOO_DEEP({ topic: packet.topic, levels, limit: options.maxTopicDepth });
      logger.warn('publish refused', { code: error.code, clientId, topic: packet.topic, reason: error.message });
      return callback(error);
    }
    withSubtree(principal, membership, logger, (subtree) => decideAfterLookup(client, packet, callback, principal, clientId, subtree));
  };

  function decideAfterLookup(
    client: Client | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
    principal: Principal | undefined,
    clientId: string | null,
    subtree: HubSubtree | undefined,
  ): void {
    const decision = decidePublish(principal, packet.topic, subtree);
    if (decision.allowed && client && principal && principal.kind !== 'hub') {
      let topics = allowed.get(client);
      if (!topics) allowed.set(client, (topics = new Map()));
      // Bounded: the service publishes to every device's topics; it keeps its first few.
      if (topics.size < ALLOWED_TOPICS_PER_CLIENT) topics.set(packet.topic, decision);
    }
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
    decideLimits(client, packet, callback, principal, clientId, decision);
  }

  /** The checks every publish goes through, even on an allowed topic: payload cap, then rate. */
  function decideLimits(
    client: Client | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
    principal: Principal | undefined,
    clientId: string | null,
    decision: PublishDecision & { allowed: true },
  ): void {
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
    // A will fires after close() and is the device's last word (its offline status); never rate it.
    const isWill = (client as (Client & { closed?: boolean }) | null)?.closed === true;
    if (client && !isWill && !bucketOf(client).take()) {
      const service = principal?.kind === 'service' || principal?.kind === 'hub';
      const error = brokerErrors.WF_BROKER_PUBLISH_RATE_LIMITED({
        clientId,
        rate: service ? options.servicePublishRatePerSec : options.publishRatePerSec,
        burst: service ? options.servicePublishBurst : options.publishBurst,
      });
      if (packet.qos === 0) {
        stats.increment('publishRateDrops');
        logger.debug('publish dropped', { code: error.code, clientId, topic: packet.topic, qos: 0 });
        (packet as PublishPacket & { [RATE_DROPPED]?: true })[RATE_DROPPED] = true;
        return callback(null);
      }
      stats.increment('publishRateDisconnects');
      logger.warn('publish refused', { code: error.code, clientId, topic: packet.topic, qos: packet.qos, reason: error.message });
      return callback(error);
    }
    callback(null);
  }
}

export const isRateDropped = (packet: PublishPacket): boolean =>
  (packet as PublishPacket & { [RATE_DROPPED]?: true })[RATE_DROPPED] === true;

export function createAuthorizeSubscribe({ logger, stats, options, membership }: AuthorizeDeps): AuthorizeSubscribeHook {
  return function authorizeSubscribe(client, subscription, callback) {
    const levels = topicLevels(subscription.topic);
    if (levels > options.maxTopicDepth) {
      stats.increment('topicDepthRefusals');
      const error = brokerErrors.WF_BROKER_TOPIC_TOO_DEEP({ topic: subscription.topic, levels, limit: options.maxTopicDepth });
      logger.warn('subscription refused', { code: error.code, clientId: client.id, topic: subscription.topic, reason: error.message });
      // Like an ACL refusal: SUBACK 0x80, connection kept (§3.9.3).
      return callback(null, null);
    }
    const principal = principalOf(client);
    withSubtree(principal, membership, logger, (subtree) => {
      const decision = decideSubscribe(principal, subscription.topic, subtree);
      // A hub refused on a cached subtree is asked about once more on a fresh read: devices just put
      // behind it are in its new site document before they are in a read up to a second old.
      if (!decision.allowed && principal?.kind === 'hub' && subtree && membership?.fresh) {
        membership.fresh(principal.hubId).then(
          (fresh) => finish(decideSubscribe(principal, subscription.topic, fresh)),
          () => finish(decision),
        );
        return;
      }
      finish(decision);
    });
    function finish(decision: ReturnType<typeof decideSubscribe>): void {
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
    }
  };
}

type AuthorizeForwardHook = (client: Client, packet: AedesPublishPacket) => AedesPublishPacket | null;

/**
 * Every message Aedes is about to write to a subscriber passes here: it is counted by kind
 * (wasmfleet_broker_messages_out_total), after one check for hubs. A subscription is decided once,
 * when made; a hub's subtree changes after that (a device moved to another hub, the hub removed).
 * So every message forwarded to a hub is checked again against its subtree as last read (cached,
 * refreshed in the background), and dropped when the hub may no longer read it. Devices and the
 * service are not affected: their rights never change while connected (a revoked device is
 * disconnected instead). Without hub membership no hub may subscribe at all, so none is checked.
 */
export function createAuthorizeForward({ logger, stats, membership }: AuthorizeDeps): AuthorizeForwardHook {
  return function authorizeForward(client, packet) {
    const principal = principalOf(client);
    if (membership && principal?.kind === 'hub') {
      const subtree = membership.peek ? membership.peek(principal.hubId) : undefined;
      // Never read yet ('pending'): the subscription itself was just decided on a fresh read.
      const decision = subtree === 'pending' ? undefined : decideSubscribe(principal, packet.topic, subtree);
      if (decision && !decision.allowed) {
        stats.increment('aclForwardDrops');
        logger.debug('message not forwarded to hub', { clientId: client.id, topic: packet.topic, reason: decision.reason });
        return null;
      }
    }
    messageForwarded(packet);
    return packet;
  };
}

/**
 * Counts routed client publishes; broker-internal ones ($SYS heartbeat) have no client. A
 * revocation is acted on where the emitter delivers it (index.ts), on every node of a cluster.
 */
export function createPublished({ stats }: AuthorizeDeps): PublishedHook {
  return function published(packet, client, callback) {
    if (client) {
      stats.increment('messagesPublished');
      messagePublished(packet.topic);
    }
    callback(null);
  };
}
