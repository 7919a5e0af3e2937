/**
 * The broker: Aedes (MQTT 3.1.1) on a TCP server, with our authenticate/ACL hooks and a packet
 * size guard in front of every connection. Clients talk to it only over MQTT. See README.md.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type Client } from 'aedes';
import { reasonOf } from '../common/errors.js';
import { createAuthenticate } from './authenticate.js';
import { createAuthorizePublish, createAuthorizeSubscribe, createPublished } from './authorize.js';
import { brokerErrors } from './errors.js';
import { GuardedConnection, type OversizeVerdict } from './guarded-connection.js';
import { resolveBrokerOptions, type BrokerOptions, type BrokerStartOptions } from './options.js';
import { createStatCounters, type BrokerStats } from './stats.js';

export type { BrokerStats } from './stats.js';
export type { BrokerOptions, BrokerOptionsInput, BrokerStartOptions } from './options.js';
export type { CredentialVerifier, Principal } from './credentials.js';
export { brokerErrors } from './errors.js';

export interface RunningBroker {
  readonly host: string;
  /** The port actually bound (differs from options.port when that was 0). */
  readonly port: number;
  /** `mqtt://host:port`, ready for mqtt.connect. */
  readonly url: string;
  readonly options: BrokerOptions;
  stats(): BrokerStats;
  /** Disconnects every client, closes Aedes and the server. Idempotent. */
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(brokerErrors.WF_BROKER_LISTEN_FAILED({ host, port, reason: reasonOf(error) }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

const formatUrl = (host: string, port: number): string =>
  `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;

export async function startBroker(input: BrokerStartOptions): Promise<RunningBroker> {
  const { options, verifier, logger } = resolveBrokerOptions(input);
  const stats = createStatCounters();
  const hookDeps = { logger, stats };

  const aedes = await Aedes.createBroker({
    connectTimeout: options.connectTimeoutMs,
    keepaliveLimit: options.keepaliveLimitSec,
    maxTopicLevels: options.maxTopicDepth,
    drainTimeout: options.drainTimeoutMs,
    queueLimit: options.queueLimit,
    maxInflightInbound: options.maxInflightInbound,
    heartbeatInterval: options.heartbeatIntervalMs,
    authenticate: createAuthenticate({ verifier, allowAnonymous: options.allowAnonymous, logger, stats }),
    authorizePublish: createAuthorizePublish(hookDeps),
    authorizeSubscribe: createAuthorizeSubscribe(hookDeps),
    published: createPublished(hookDeps),
  });

  aedes.on('clientError', (client: Client, error: Error) => {
    // ACL refusals were logged by the hook with more detail; the rest are transport noise.
    logger.debug('client error', { clientId: client.id, reason: error.message });
  });
  aedes.on('connectionError', (client: Client, error: Error) => {
    logger.debug('connection error', { clientId: client?.id ?? null, reason: error.message });
  });

  const onOversize = (verdict: OversizeVerdict, connection: GuardedConnection) => {
    stats.increment('oversizePackets');
    const clientId = (connection as GuardedConnection & { client?: Client }).client?.id ?? null;
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
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(new GuardedConnection(socket, { maxPacketBytes: options.maxPacketBytes, onOversize }));
  });

  let port: number;
  try {
    port = await listen(server, options.host, options.port);
  } catch (error) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw error;
  }
  const url = formatUrl(options.host, port);
  logger.info('broker listening', { url, maxPacketBytes: options.maxPacketBytes });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting first, then let Aedes disconnect its clients, then cut what is left
      // (connections still before CONNECT, or stuck in a drain).
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await serverClosed;
      logger.info('broker stopped', { url });
    })();
    return closing;
  };

  return {
    host: options.host,
    port,
    url,
    options,
    stats: () => stats.snapshot(aedes.connectedClients),
    close,
  };
}
