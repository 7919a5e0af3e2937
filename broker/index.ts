/**
 * The broker: Aedes (MQTT 3.1.1) on a TCP server, with our authenticate/ACL hooks and a packet
 * size guard in front of every connection. Clients talk to it only over MQTT. See README.md.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { reasonOf } from '../common/errors.js';
import { settledWithin } from '../common/stop-sequence.js';
import { createAuthenticate, createPreConnect } from './authenticate.js';
import { cachedHubMembership } from './hub-membership.js';
import { createAuthorizeForward, createAuthorizePublish, createAuthorizeSubscribe, createPublished, isRateDropped } from './authorize.js';
import { CLOSE_WAIT_MS, ClusterPresence, emitterOf, isStaleWill, openClusterEngines, republishedWill, withDeadline } from './cluster.js';
import { brokerErrors } from './errors.js';
import { coalesceWrites } from '../common/coalesced-writes.js';
import { allowReadAhead, guardSocket, tuningOf, type GuardedSocket, type OversizeVerdict } from './guarded-connection.js';
import { principalOf } from './principal.js';
import { AEDES_MAX_TOPIC_LEVELS, resolveBrokerOptions, type BrokerOptions, type BrokerStartOptions } from './options.js';
import { ConnectionRateLimiter } from './rate-limit.js';
import { RevocationRegistry } from './revocation.js';
import { createStatCounters, type BrokerStats } from './stats.js';
import { brokerConnections } from './metrics.js';
import { certificateIdentitiesOf, tlsServerOptions } from './tls.js';
import { topics } from '../protocol/topics.js';
import { HUB_REVOKE_TOPIC } from '../protocol/hubs.js';
import { indexedMemoryPersistence } from './retained-index.js';

export type { BrokerStats } from './stats.js';
export type { BrokerOptions, BrokerOptionsInput, BrokerStartOptions } from './options.js';
export type { CredentialVerifier, Principal } from './credentials.js';
export { brokerErrors } from './errors.js';

export interface RunningBroker {
  readonly host: string;
  /** The port of `url`: plain TCP (differs from options.port when that was 0), or TLS when TLS-only. */
  readonly port: number;
  /** The TLS port actually bound; undefined without a TLS listener. */
  readonly tlsPort: number | undefined;
  /** `mqtt://host:port`, or the TLS URL when the broker is TLS-only; ready for mqtt.connect. */
  readonly url: string;
  /** `mqtts://host:tlsPort`; undefined without a TLS listener. */
  readonly tlsUrl: string | undefined;
  readonly options: BrokerOptions;
  /** This node's id in a cluster (Aedes' broker id); random per start. */
  readonly nodeId: string;
  stats(): BrokerStats;
  /**
   * How the connection of a client connected to this node was tuned (broker/guarded-connection.ts):
   * read-ahead bytes (0: the socket's default bound) and whether its writes are coalesced per turn.
   * Undefined when no such client is connected here. For diagnostics and tests.
   */
  connectionTuning(clientId: string): ReturnType<typeof tuningOf> | undefined;
  /**
   * For code of the process that runs this broker, without a connection (the site hub's relays):
   * no MQTT encoding, socket or PUBACK between a process and its own broker.
   */
  readonly inProcess: InProcessLink;
  /** Disconnects every client, closes Aedes and the server. Idempotent. */
  close(): Promise<void>;
}

export interface InProcessLink {
  /**
   * Publishes QoS 1 as the broker itself: no client, so no ACL and no rate limit (this process's
   * own code only). Retained when asked, routed to subscribers as a client's publish; resolves when
   * Aedes has done both (what a client's PUBACK would have said).
   */
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  /**
   * Calls `handler` for every message routed on `filter` (MQTT wildcards), clients' after their
   * ACL check, through the emitter as the revocation listeners below; retained messages are not
   * replayed to it. The handler must not throw.
   */
  on(filter: string, handler: (topic: string, payload: Buffer) => void): void;
}

/**
 * Connections the kernel may hold completed but not yet accepted. Linux silently caps it at
 * net.core.somaxconn (4096 on recent kernels), so asking for the most lets an operator raise the
 * real queue with that sysctl alone (docs/operations.md §Reconnect storms). Node's default of 511
 * overflows in a reconnect storm of thousands of devices: an overflowing handshake is dropped and
 * retried by the client's kernel, and one whose retries outlast the server's SYN-ACK retries is
 * reset (ECONNRESET), although the broker would have taken it a moment later.
 */
const LISTEN_BACKLOG = 65_535;

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(brokerErrors.WF_BROKER_LISTEN_FAILED({ host, port, reason: reasonOf(error) }));
    server.once('error', onError);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * How much a relay's connection (the fleet API's service account, a hub) may read ahead of Aedes:
 * one Aedes batch of that connection, about 850 signed desired states (guarded-connection.ts).
 */
export const RELAY_READ_AHEAD_BYTES = 1024 * 1024;

/** How long Aedes may take to disconnect its clients on close before their sockets are cut. */
const AEDES_CLOSE_MS = 700;

const formatUrl = (host: string, port: number, scheme = 'mqtt'): string =>
  `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;

export async function startBroker(input: BrokerStartOptions): Promise<RunningBroker> {
  const { options, verifier, logger } = resolveBrokerOptions(input);
  const stats = createStatCounters();
  const unregisterConnections = brokerConnections.source(() => [[{}, aedes.connectedClients]]);
  const revocations = new RevocationRegistry({ logger, stats });
  const membership = verifier.membership && cachedHubMembership(verifier.membership);
  const hookDeps = { logger, stats, options, revocations, ...(membership ? { membership } : {}) };
  const connectionLimiter = new ConnectionRateLimiter({
    perAddressPerSec: options.connectRatePerAddress,
    perAddressBurst: options.connectBurstPerAddress,
    globalPerSec: options.connectRateGlobal,
    globalBurst: options.connectBurstGlobal,
  });
  // Decided at TCP accept (so idle connections count too), answered at CONNECT with code 3.
  const overRate = new WeakSet<object>();

  const nodeId = randomUUID();
  const cluster = options.redis ? openClusterEngines(options.redis, logger) : undefined;
  const presence = cluster ? new ClusterPresence(nodeId, logger) : undefined;
  const authorizePublish = createAuthorizePublish(hookDeps);

  const aedes = await Aedes.createBroker({
    id: nodeId,
    // Single node: no cap on messages in flight in the in-memory emitter (concurrency 0). With
    // Aedes' default cap of 100, messages past it queue, and the emitter releases the queue
    // recursively, one stack frame chain per message that completes at once (no subscriber): in a
    // 10,000-device rollout that queue grew until the broker died of 'Maximum call stack size
    // exceeded'. Each client still has one batch of packets in flight at a time (Aedes reads its
    // socket again only once the batch is handled), so the cap bounded nothing the queue did not.
    ...(cluster ? { mq: cluster.mq, persistence: cluster.persistence } : { persistence: indexedMemoryPersistence(), concurrency: 0 }),
    connectTimeout: options.connectTimeoutMs,
    keepaliveLimit: options.keepaliveLimitSec,
    // Our hooks enforce maxTopicDepth with a counted, explained refusal (0x80 for a SUBSCRIBE);
    // Aedes' own check stays at its ceiling only as the guard against qlobber's throw.
    maxTopicLevels: AEDES_MAX_TOPIC_LEVELS,
    drainTimeout: options.drainTimeoutMs,
    queueLimit: options.queueLimit,
    maxInflightInbound: options.maxInflightInbound,
    heartbeatInterval: options.heartbeatIntervalMs,
    preConnect: createPreConnect(),
    authenticate: createAuthenticate({
      verifier,
      allowAnonymous: options.allowAnonymous,
      logger,
      stats,
      revocations,
      overConnectionRate: (client) => overRate.has(client.conn),
      certificateIdentities: certificateIdentitiesOf,
    }),
    // In a cluster, a dead node's wills reach us with no client (see cluster.ts).
    authorizePublish: presence
      ? (client, packet, callback) => {
          if (!presence.isOrphanWill(packet)) return authorizePublish(client, packet, callback);
          presence.judgeOrphanWill(packet);
          callback(null);
        }
      : authorizePublish,
    authorizeSubscribe: createAuthorizeSubscribe(hookDeps),
    authorizeForward: createAuthorizeForward(hookDeps),
    published: createPublished(hookDeps),
  });

  // Aedes has no "accept but do not route" answer; authorizePublish marks a QoS 0 publish over
  // the rate and it stops here, after Aedes' handler but before routing or retaining.
  // Its .d.ts declares publish(packet, callback); the runtime takes (packet, client?, callback).
  type RuntimePublish = (packet: PublishPacket, client: unknown, done?: (error?: Error | null) => void) => void;
  const publish = (aedes.publish as unknown as RuntimePublish).bind(aedes);
  (aedes as unknown as { publish: RuntimePublish }).publish = (packet, client, done) => {
    if (isRateDropped(packet) || isStaleWill(packet)) return (typeof client === 'function' ? client : done)?.(null);
    return publish(presence?.isOrphanWill(packet) ? republishedWill(packet) : packet, client, done);
  };

  // Through the emitter, so a revocation published on any node reaches this one [WF-P-T-6]; the
  // ACL lets only the service publish on the control topic.
  emitterOf(aedes).on(topics.controlRevoke, (packet, next) => {
    revocations.onRevokeMessage(packet.payload, packet.clientId ?? null);
    next();
  });
  emitterOf(aedes).on(HUB_REVOKE_TOPIC, (packet, next) => {
    revocations.onRevokeHubMessage(packet.payload, packet.clientId ?? null);
    next();
  });
  presence?.attach(aedes);
  // Aedes reports a failed persistence call (Redis) as an 'error' event, which would otherwise end the process.
  if (cluster) (aedes as unknown as NodeJS.EventEmitter).on('error', (error: Error) => logger.warn('cluster engine error', { code: 'WF_BROKER_REDIS_UNAVAILABLE', reason: reasonOf(error) }));

  aedes.on('client', (client: Client) => {
    // Every connection's writes leave once per turn; only relays read ahead (guarded-connection.ts).
    const kind = principalOf(client)?.kind;
    const { conn } = client as unknown as { conn: Socket };
    coalesceWrites(conn);
    if (kind === 'service' || kind === 'hub') allowReadAhead(conn, RELAY_READ_AHEAD_BYTES);
  });
  aedes.on('clientError', (client: Client, error: Error) => {
    // Topics deeper than Aedes' ceiling never reach our hooks; count them all the same.
    if (error.message === 'topic has too many levels') stats.increment('topicDepthRefusals');
    // ACL refusals were logged by the hook with more detail; the rest are transport noise.
    logger.debug('client error', { clientId: client.id, reason: error.message });
  });
  aedes.on('connectionError', (client: Client, error: Error) => {
    logger.debug('connection error', { clientId: client?.id ?? null, reason: error.message });
  });

  const onOversize = (verdict: OversizeVerdict, connection: GuardedSocket) => {
    stats.increment('oversizePackets');
    const clientId = connection.client?.id ?? null;
    const error =
      verdict.reason === 'too-large'
        ? brokerErrors.WF_BROKER_PACKET_TOO_LARGE({ bytes: verdict.packetBytes, limit: options.maxPacketBytes })
        : brokerErrors.WF_BROKER_MALFORMED_LENGTH({ reason: 'more than 4 length bytes' });
    logger.warn('connection dropped', {
      code: error.code,
      clientId,
      remoteAddress: connection.remoteAddress,
      reason: error.message,
    });
  };

  const sockets = new Set<Socket>();
  const accept = (socket: Socket, rateChecked = false) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const connection = guardSocket(socket, { maxPacketBytes: options.maxPacketBytes, onOversize });
    if (!rateChecked && !connectionLimiter.admit(socket.remoteAddress)) overRate.add(connection);
    aedes.handle(connection);
  };

  const servers: Server[] = [];
  let port: number | undefined;
  let tlsPort: number | undefined;
  try {
    if (options.tcp) {
      const server = createServer(accept);
      servers.push(server);
      port = await listen(server, options.host, options.port);
    }
    if (options.tls) {
      const tlsHost = options.tls.host ?? options.host;
      // The same accept path as TCP (packet guard, Aedes) once the handshake is done.
      const tlsServer = createTlsServer(tlsServerOptions(options.tls), (socket) => accept(socket, true));
      tlsServer.on('connection', (raw: Socket) => {
        // The handshake is the expensive part of a TLS connection, so the connection rate is
        // applied before it: an over-rate connection is closed at once (there is no CONNACK to
        // answer with before TLS), counted and logged like a TCP one.
        if (!connectionLimiter.admit(raw.remoteAddress)) {
          stats.increment('connectionRateRefusals');
          const error = brokerErrors.WF_BROKER_CONNECTION_RATE_LIMITED({ remoteAddress: raw.remoteAddress ?? 'unknown' });
          logger.warn('connection refused', { code: error.code, remoteAddress: raw.remoteAddress ?? null, reason: `${error.message} (before the TLS handshake)` });
          raw.destroy();
          return;
        }
        sockets.add(raw);
        raw.once('close', () => sockets.delete(raw));
      });
      tlsServer.on('tlsClientError', (error: Error, socket: Socket) => {
        stats.increment('tlsHandshakeFailures');
        const refused = brokerErrors.WF_BROKER_TLS_HANDSHAKE_FAILED({ remoteAddress: socket.remoteAddress ?? 'unknown', reason: reasonOf(error) });
        logger.warn('tls handshake failed', { code: refused.code, remoteAddress: socket.remoteAddress ?? null, reason: reasonOf(error) });
      });
      servers.push(tlsServer);
      tlsPort = await listen(tlsServer, tlsHost, options.tls.port);
    }
  } catch (error) {
    for (const server of servers) server.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await cluster?.close();
    throw error;
  }
  const tlsUrl = options.tls && tlsPort !== undefined ? formatUrl(options.tls.host ?? options.host, tlsPort, 'mqtts') : undefined;
  const url = port !== undefined ? formatUrl(options.host, port) : tlsUrl!;
  logger.info('broker listening', {
    url: port !== undefined ? url : null,
    tlsUrl: tlsUrl ?? null,
    requireClientCert: options.tls?.requireClientCert ?? false,
    maxPacketBytes: options.maxPacketBytes,
    ...(cluster ? { cluster: 'redis', nodeId } : {}),
  });
  if (options.allowAnonymous) {
    const warning = brokerErrors.WF_BROKER_ANONYMOUS_ENABLED({ scope: 'clients without a username may read every device\'s status, reported state and results; never for production' });
    logger.warn(warning.message, { code: warning.code });
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting first, then let Aedes disconnect its clients, then cut what is left
      // (connections still before CONNECT, or stuck in a drain). Aedes gets a bounded time: a
      // client that never drains must not hold the stop (docs/operations.md §Stopping).
      const serverClosed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      const aedesClosed = new Promise<void>((resolve) => aedes.close(() => resolve()));
      // In a cluster Aedes' close ends with the emitter's goodbye to Redis, which may be gone.
      if (!(await settledWithin(aedesClosed, cluster ? Math.max(CLOSE_WAIT_MS, AEDES_CLOSE_MS) : AEDES_CLOSE_MS))) {
        logger.warn('broker clients not closed in time; cutting their connections', { maxMs: AEDES_CLOSE_MS, clients: aedes.connectedClients });
      }
      for (const socket of sockets) socket.destroy();
      await serverClosed;
      await cluster?.close();
      unregisterConnections();
      logger.info('broker stopped', { url, tlsUrl: tlsUrl ?? null });
    })();
    return closing;
  };

  return {
    host: options.host,
    port: port ?? tlsPort!,
    tlsPort,
    url,
    tlsUrl,
    options,
    nodeId,
    stats: () => stats.snapshot(aedes.connectedClients),
    connectionTuning: (clientId) => {
      // Aedes keeps its connected clients by id; its typings do not declare the map.
      const conn = (aedes as unknown as { clients: Record<string, { conn?: Socket } | undefined> }).clients[clientId]?.conn;
      return conn && tuningOf(conn);
    },
    inProcess: {
      publish: (topic, payload, retain) =>
        new Promise<void>((resolve, reject) =>
          aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain, dup: false } as PublishPacket, (error?: Error | null) => (error ? reject(error) : resolve())),
        ),
      on(filter, handler) {
        emitterOf(aedes).on(filter, (packet, done) => {
          handler(packet.topic, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload);
          done();
        });
      },
    },
    close,
  };
}
