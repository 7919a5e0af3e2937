/**
 * The hub's one connection upstream (the central broker tier, or a parent hub's broker), as the
 * hub principal `wf:hub:{H}` with clientId `wf-hub-{H}` and a persistent session, so acks and
 * desired states published while the hub was away queue for it. Its will is the hub's retained
 * offline HubStatus [WF-P-T-10]. Several URLs fail over round robin, as the agent's broker/urls.
 *
 * Owns: the connection, the set of topics the hub wants upstream (subscribed on every connect that
 * finds no session, deltas otherwise), publishes that resolve on PUBACK. Must not: decide what to
 * subscribe to (down-relay does) or hold anything it cannot lose (custody does).
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { failoverServers } from '../common/failover-servers.js';
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { hubClientId, hubUsername } from '../protocol/hubs.js';
import { endLink } from '../device-agent/link-end.js';
import type { HubConfig } from './config.js';

export interface UplinkEvents {
  /** Every message from upstream, payload as received. */
  message: (topic: string, payload: Buffer) => void;
  /** The link came up (again); `sessionPresent` false means the upstream forgot our subscriptions. */
  up: (sessionPresent: boolean) => void;
  down: () => void;
}

export interface Uplink {
  readonly connected: boolean;
  /** Handlers are attached right after openUplink returns, before the first connect can complete. */
  on<E extends keyof UplinkEvents>(event: E, handler: UplinkEvents[E]): void;
  /** QoS 1; resolves on PUBACK, rejects at once when the link is down or when it drops first. */
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  /** The topics wanted upstream; subscribed now when connected, else at the next connect. */
  want(topics: Iterable<string>): void;
  unwant(topics: Iterable<string>): void;
  /** The will for the next connect (the offline HubStatus, stamped with what is known then). */
  setWill(payload: Buffer): void;
  /** Publishes `goodbye` (if connected, bounded) then ends the link; within ~0.5 s whatever upstream does. */
  close(goodbye?: { topic: string; payload: Buffer }): Promise<void>;
}

export interface UplinkOptions {
  readonly config: HubConfig;
  readonly willTopic: string;
  readonly willPayload: Buffer;
  readonly logger: Logger;
}

const GOODBYE_MS = 300;
/**
 * SUBSCRIBE packets in flight at once, one filter each: a broker node on Redis persistence was seen
 * never to answer a SUBSCRIBE of several filters with CleanSession 0 (hub-central's cluster test), so
 * each filter goes in its own packet, many at a time. A site of 10,000 devices wants 20,000 topics.
 */
const SUBSCRIBE_CHUNK = 64;
/**
 * A subscription upstream refused is asked for again while the link stays up, backing off from
 * the first to the last: upstream may not know yet that a device is ours (a cluster node reads
 * the hub's subtree from the Redis replica, which may lag; the central broker reads it again before
 * refusing, broker/authorize.ts), and the site document naming it can arrive before that.
 */
const REFUSED_RETRY_MS = { first: 1_000, max: 30_000 } as const;

/** A SUBACK 0x80 as mqtt.js reports it: the subscribe call fails with an error whose code is 128. */
export const isRefusal = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === 128;

export function openUplink(options: UplinkOptions): Uplink {
  const { config, logger } = options;
  const handlers: { [E in keyof UplinkEvents]: UplinkEvents[E][] } = { message: [], up: [], down: [] };
  const events: UplinkEvents = {
    message: (topic, payload) => handlers.message.forEach((handler) => handler(topic, payload)),
    up: (sessionPresent) => handlers.up.forEach((handler) => handler(sessionPresent)),
    down: () => handlers.down.forEach((handler) => handler()),
  };
  const urls = config.upstream.urls;
  const clientOptions: IClientOptions = {
    protocolVersion: 4,
    clientId: hubClientId(config.hubId),
    username: hubUsername(config.hubId),
    password: config.secret,
    clean: false,
    // Subscriptions are ours to restore (see sync): mqtt.js' own resubscribe would re-read every
    // retained module on each reconnect even when the session kept them.
    resubscribe: false,
    reconnectPeriod: config.upstream.reconnectPeriodMs,
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    queueQoSZero: false,
    writeCache: false,
    will: { topic: options.willTopic, payload: options.willPayload, qos: 1, retain: true },
  };
  if (config.upstream.caFile !== undefined) clientOptions.ca = readFileSync(config.upstream.caFile);
  if (config.upstream.certFile !== undefined) clientOptions.cert = readFileSync(config.upstream.certFile);
  if (config.upstream.keyFile !== undefined) clientOptions.key = readFileSync(config.upstream.keyFile);
  if (urls.length > 1) clientOptions.servers = failoverServers(urls);
  const client: MqttClient = mqtt.connect(urls[0]!, clientOptions);

  const wanted = new Set<string>();
  /** Topics the upstream session holds, as far as we know. */
  const granted = new Set<string>();
  const pending = new Set<(error: Error) => void>();
  let syncing: Promise<void> | undefined;
  let resync = false;
  let closed = false;
  let refusedRetry: NodeJS.Timeout | undefined;
  let refusedRetryMs: number = REFUSED_RETRY_MS.first;

  const retryRefused = (): void => {
    if (refusedRetry || closed) return;
    refusedRetry = setTimeout(() => {
      refusedRetry = undefined;
      sync();
    }, refusedRetryMs);
    refusedRetry.unref();
    refusedRetryMs = Math.min(REFUSED_RETRY_MS.max, refusedRetryMs * 2);
  };

  const sync = (): void => {
    if (syncing) {
      resync = true;
      return;
    }
    syncing = (async () => {
      let refused = false;
      do {
        resync = false;
        if (!client.connected) return;
        const add = [...wanted].filter((topic) => !granted.has(topic));
        const remove = [...granted].filter((topic) => !wanted.has(topic));
        for (let i = 0; i < remove.length; i += SUBSCRIBE_CHUNK) {
          const chunk = remove.slice(i, i + SUBSCRIBE_CHUNK);
          await client.unsubscribeAsync(chunk);
          for (const topic of chunk) granted.delete(topic);
        }
        const refusedNow: string[] = [];
        for (let i = 0; i < add.length; i += SUBSCRIBE_CHUNK) {
          const chunk = add.slice(i, i + SUBSCRIBE_CHUNK);
          const outcomes = await Promise.allSettled(chunk.map((topic) => client.subscribeAsync(topic, { qos: 1 })));
          let lost: unknown;
          outcomes.forEach((outcome, n) => {
            const topic = chunk[n]!;
            if (outcome.status === 'rejected') {
              // mqtt.js fails the call on a SUBACK 0x80 (its code 128) rather than granting 128.
              if (isRefusal(outcome.reason)) refusedNow.push(topic);
              else lost ??= outcome.reason;
            } else if (outcome.value.some((grant) => grant.qos === 128)) refusedNow.push(topic);
            else granted.add(topic);
          });
          // The link went down mid-sync: the next connect syncs again. Topics granted so far are kept.
          if (lost !== undefined) throw lost;
        }
        if (refusedNow.length > 0) {
          refused = true;
          logger.warn('upstream refused subscriptions; asked again later', {
            code: 'WF_HUB_UPLINK_DOWN',
            refused: refusedNow.length,
            topics: refusedNow.slice(0, 3),
            retryMs: refusedRetryMs,
          });
        }
      } while (resync);
      if (refused) retryRefused();
      else refusedRetryMs = REFUSED_RETRY_MS.first;
    })()
      .catch((error: unknown) => {
        logger.warn('upstream subscriptions not synced; asked again later', { reason: reasonOf(error) });
        retryRefused();
      })
      .finally(() => {
        syncing = undefined;
        if (resync) sync();
      });
  };

  client.on('connect', (connack) => {
    if (!connack.sessionPresent) granted.clear();
    logger.info('uplink up', { host: client.options.host ?? null, port: client.options.port ?? null, sessionPresent: connack.sessionPresent });
    sync();
    events.up(connack.sessionPresent);
  });
  let wasUp = false;
  client.on('connect', () => (wasUp = true));
  client.on('close', () => {
    for (const reject of [...pending]) reject(new Error('uplink lost before PUBACK'));
    // Nothing stays queued in mqtt.js: custody resends what it has not seen acked, and reported
    // state is re-published whole on the next connect.
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
    if (wasUp) {
      wasUp = false;
      logger.warn('uplink down', { code: 'WF_HUB_UPLINK_DOWN' });
      events.down();
    }
  });
  client.on('error', (error) => logger.debug('uplink error', { reason: reasonOf(error) }));
  client.on('message', (topic, payload) => events.message(topic, payload));

  return {
    get connected() {
      return client.connected;
    },
    on(event, handler) {
      (handlers[event] as unknown[]).push(handler);
    },
    publish(topic, payload, retain) {
      if (!client.connected || closed) return Promise.reject(new Error('uplink down'));
      return new Promise<void>((resolve, reject) => {
        const fail = (error: Error) => {
          pending.delete(fail);
          reject(error);
        };
        pending.add(fail);
        client.publish(topic, payload, { qos: 1, retain }, (error) => {
          if (!pending.delete(fail)) return;
          if (error) reject(error);
          else resolve();
        });
      });
    },
    want(topics) {
      for (const topic of topics) wanted.add(topic);
      sync();
    },
    unwant(topics) {
      for (const topic of topics) wanted.delete(topic);
      sync();
    },
    setWill(payload) {
      client.options.will = { topic: options.willTopic, payload, qos: 1, retain: true };
    },
    async close(goodbye) {
      if (closed) return;
      closed = true;
      clearTimeout(refusedRetry);
      if (goodbye && client.connected) {
        await Promise.race([
          new Promise<void>((resolve) => client.publish(goodbye.topic, goodbye.payload, { qos: 1, retain: true }, () => resolve())),
          new Promise<void>((resolve) => setTimeout(resolve, GOODBYE_MS).unref()),
        ]);
      }
      await endLink(client);
    },
  };
}
