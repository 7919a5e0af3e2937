/**
 * Cluster mode (docs/scale-out.md): several broker nodes share one fleet through Redis, with the
 * engines Aedes itself is built for. mqemitter-redis carries every routed message to every node
 * (Redis pub/sub); aedes-persistence-redis keeps subscriptions, retained messages, persistent
 * sessions (QoS 1 queues) and wills in Redis, so a client that reconnects to another node finds
 * them there. Without a Redis URL none of this is loaded and the broker runs on Aedes' in-memory
 * engines as before.
 *
 * aedes-persistence-redis is pinned to 11.x: it is the line Aedes 1.2 declares as its peer (12.x
 * changes only the QoS 2 incoming-packet keys, which we do not use).
 *
 * One thing the engines get wrong for us, handled here: a node that dies leaves its clients'
 * wills in Redis, and a surviving node publishes them about four heartbeats later — even for a
 * device that has long since reconnected to another node, whose retained status would then say
 * "offline" while it is online. Every node hears every CONNECT in the cluster (Aedes announces it
 * on `$SYS/{node}/new/clients` through the shared emitter), so a node drops a dead node's will
 * when the device's latest CONNECT was announced by another node.
 */
import { createRequire } from 'node:module';
import type { Aedes, PublishPacket } from 'aedes';
import { Redis } from 'ioredis';
import createMqEmitterRedis from 'mqemitter-redis';
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import { decidePublish } from './acl.js';
import { hubClientId } from '../protocol/hubs.js';
import { selfOnly } from './hub-membership.js';

// No type declarations ship with it; all we call is its factory.
const require = createRequire(import.meta.url);
interface RedisPersistence {
  destroy(callback?: () => void): unknown;
  delWill(client: { id: string; brokerId?: string }): Promise<unknown>;
}
const createRedisPersistence = require('aedes-persistence-redis') as (options: { conn: Redis }) => RedisPersistence;

/**
 * At every CONNECT Aedes calls delWill with its Client object, which has no brokerId, and
 * aedes-persistence-redis 11 keys wills by `will:{brokerId}:{clientId}`: it issues LREM, GET and
 * DEL on `will:undefined:{clientId}`, a key no will is ever stored under (putWill and every other
 * delWill pass a brokerId). Three round trips per CONNECT that can change nothing, nearly half of
 * the Redis commands of a clean-session CONNECT, are answered here instead.
 */
function skipKeylessWillDeletes(persistence: RedisPersistence): RedisPersistence {
  const delWill = persistence.delWill.bind(persistence);
  persistence.delWill = (client) => (client.brokerId === undefined ? Promise.resolve(null) : delWill(client));
  return persistence;
}

export interface ClusterEngines {
  /** Passed to Aedes.createBroker as `mq` and `persistence`. */
  readonly mq: ReturnType<typeof createMqEmitterRedis>;
  readonly persistence: unknown;
  /** A general-purpose connection (credentials, revocations); its duplicates carry the engines. */
  readonly redis: Redis;
  close(): Promise<void>;
}

/** Connection errors repeat every retry while Redis is down; one line per connection per window is enough. */
const ERROR_LOG_WINDOW_MS = 10_000;

function watch(connection: Redis, role: string, logger: Logger): Redis {
  let lastLogged = 0;
  connection.on('error', (error: Error) => {
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_WINDOW_MS) return;
    lastLogged = now;
    logger.warn('redis connection error; retrying', { code: 'WF_BROKER_REDIS_UNAVAILABLE', role, reason: reasonOf(error) });
  });
  connection.on('ready', () => logger.debug('redis connection ready', { role }));
  return connection;
}

/**
 * Opens the four Redis connections a node needs. Commands issued while Redis is away wait in
 * ioredis' offline queue and run once it is back (maxRetriesPerRequest: null), so a Redis restart
 * delays routing instead of failing publishes.
 */
export function openClusterEngines(url: string, logger: Logger): ClusterEngines {
  const base = watch(new Redis(url, { maxRetriesPerRequest: null }), 'general', logger);
  const connections = [base];
  const duplicate = (role: string, options: { enableAutoPipelining?: boolean } = {}) => {
    const connection = watch(base.duplicate({ maxRetriesPerRequest: null, ...options }), role, logger);
    connections.push(connection);
    return connection;
  };
  const subConn = duplicate('emitter-subscribe');
  // Each CONNECT costs the persistence five commands (subscriptions, will, QoS queue) and the
  // emitter one PUBLISH (Aedes announces the client to every node), each its own socket write:
  // in a reconnect storm those writes were the largest share of the node's CPU. Auto-pipelining
  // sends the commands of one event-loop turn in one write. Both connections only ever send
  // plain commands (no MULTI or SUBSCRIBE, which ioredis sends outside the pipeline), so their
  // order is kept.
  const pubConn = duplicate('emitter-publish', { enableAutoPipelining: true });
  // No cap on messages in flight (concurrency 0), as on a single node (index.ts): mqemitter-redis
  // inherits mqemitter's queue, released recursively, one stack frame chain per queued message that
  // completes at once. With a cap of 100 and 100 deliveries held (slow consumers), 12,000 routed
  // messages arriving from Redis killed the process with 'Maximum call stack size exceeded'
  // (test/broker/cluster.test.ts). Aedes passes its own concurrency (100) only to an emitter it
  // builds itself; 0 is mqemitter-redis' default today, pinned here so an upgrade cannot change it.
  const mq = createMqEmitterRedis({ subConn, pubConn, concurrency: 0 });
  (mq as unknown as { state: NodeJS.EventEmitter }).state.on('error', (error: Error) => logger.debug('emitter error', { reason: reasonOf(error) }));
  const persistence = skipKeylessWillDeletes(createRedisPersistence({ conn: duplicate('persistence', { enableAutoPipelining: true }) }));
  let closing: Promise<void> | undefined;
  return {
    mq,
    persistence,
    redis: base,
    close() {
      closing ??= (async () => {
        // A polite shutdown waits on Redis; with Redis gone it would wait forever, so it is bounded
        // and every connection is cut after it.
        await withDeadline(Promise.resolve(persistence.destroy()), CLOSE_WAIT_MS);
        for (const connection of connections) connection.disconnect();
      })();
      return closing;
    },
  };
}

/** How long closing waits for Redis to answer before cutting the connections. */
export const CLOSE_WAIT_MS = 2_000;

export async function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

const NEW_CLIENTS = '$SYS/+/new/clients';

type EmitterListener = (packet: { topic: string; payload: Buffer | string; clientId?: string }, done: () => void) => void;
/** Aedes' message emitter (mqemitter, or mqemitter-redis in a cluster); its .d.ts does not declare it. */
export const emitterOf = (aedes: Aedes): { on(topic: string, listener: EmitterListener): void } =>
  (aedes as unknown as { mq: { on(topic: string, listener: EmitterListener): void } }).mq;

/** Marks a dead node's will that is stale; index.ts' publish wrapper drops it. */
const STALE_WILL = Symbol('wasmfleet.broker.staleWill');

/**
 * The copy of a dead node's will this node publishes. The stored will keeps the dead node's
 * brokerId (and a counter that is not that node's), and Aedes drops a QoS 1 packet whose
 * (brokerId, brokerCounter) is not above the last one a subscriber received from that node
 * (lib/client.js dedupe): a subscriber that had heard from the dead node since the device's
 * CONNECT, such as the API, would never get the device's offline status. Without them Aedes
 * stamps the copy with this node's id and next counter. The original keeps its ids: Aedes deletes
 * the will from Redis by them after publishing.
 */
export const republishedWill = (packet: PublishPacket): PublishPacket => ({ ...packet, brokerId: undefined, brokerCounter: undefined }) as PublishPacket;

export const isStaleWill = (packet: PublishPacket): boolean => (packet as PublishPacket & { [STALE_WILL]?: true })[STALE_WILL] === true;

/**
 * Remembers which node each client last connected to, cluster-wide, and judges the wills of dead
 * nodes by it. One map entry per client id ever seen (a few dozen bytes each).
 */
export class ClusterPresence {
  readonly #lastNode = new Map<string, string>();
  readonly #nodeId: string;
  readonly #logger: Logger;

  constructor(nodeId: string, logger: Logger) {
    this.#nodeId = nodeId;
    this.#logger = logger;
  }

  attach(aedes: Aedes): void {
    emitterOf(aedes).on(NEW_CLIENTS, (packet, done) => {
      const node = packet.topic.split('/')[1];
      if (node) this.#lastNode.set(packet.payload.toString(), node);
      done();
    });
  }

  /**
   * A publish Aedes' _clearWills makes for a will another node stored: the stored packet carries
   * that node's id (aedes-persistence-redis writes clientId and brokerId into it). A client's own
   * publishes never carry a brokerId when they are authorized, and this node's wills carry its own.
   */
  isOrphanWill(packet: PublishPacket): boolean {
    const { brokerId, clientId } = packet as PublishPacket & { clientId?: unknown; brokerId?: unknown };
    return typeof brokerId === 'string' && brokerId !== this.#nodeId && typeof clientId === 'string';
  }

  /**
   * Decides a dead node's will: published for its device if the device could publish it itself
   * (as authenticate.ts checked at CONNECT) and has not connected to another node since;
   * otherwise marked stale, so it is acknowledged, dropped, and deleted from Redis by Aedes.
   * Never refused: a refusal would make Aedes retry it forever.
   */
  judgeOrphanWill(packet: PublishPacket): void {
    const { clientId, brokerId } = packet as PublishPacket & { clientId: string; brokerId: string };
    // A hub's will (its offline HubStatus) comes from clientId wf-hub-{id}; it names only itself.
    const hubId = clientId.startsWith('wf-hub-') ? clientId.slice('wf-hub-'.length) : undefined;
    const asHub = hubId !== undefined && hubClientId(hubId) === clientId ? decidePublish({ kind: 'hub', hubId }, packet.topic, selfOnly(hubId)) : undefined;
    const decision = asHub?.allowed ? asHub : decidePublish({ kind: 'device', deviceId: clientId }, packet.topic);
    const last = this.#lastNode.get(clientId);
    const stale = !decision.allowed || (last !== undefined && last !== brokerId);
    if (stale) (packet as PublishPacket & { [STALE_WILL]?: true })[STALE_WILL] = true;
    this.#logger.info(stale ? 'stale will of a dead node dropped' : 'will of a dead node published', {
      clientId,
      deadNode: brokerId,
      ...(last !== undefined ? { connectedVia: last } : {}),
      ...(decision.allowed ? {} : { reason: decision.reason }),
    });
  }
}
