/**
 * The fleet API's only way to the broker: one MQTT client on the service account. Composed of
 * parts that are each given what they need: the retained modules and desired states
 * (retained-publisher.ts), revocations (revocations.ts), what devices send (device-inbox.ts), and
 * acks. Every confirmed publish goes through `publishConfirmed` (mqtt-publish.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../common/logger.js';
import { coalesceWrites } from '../common/coalesced-writes.js';
import { reasonOf } from '../common/errors.js';
import { failoverServers } from '../common/failover-servers.js';
import { encodePayload, hubTopics, PROTOCOL_VERSION, topics, type BatchRefusal } from '../protocol/index.js';
import { DeviceInbox, type IngestHandlers } from './device-inbox.js';
import { TopicQueue } from './mqtt-publish.js';
import { RetainedPublisher, type DesiredSigner, type RetainedSource } from './retained-publisher.js';
import { Revocations } from './revocations.js';

export type { DesiredSigner, IngestHandlers, RetainedSource };

export interface LinkOptions {
  url: string;
  /** Several broker nodes: each reconnect goes to the next (common/failover-servers.ts). */
  urls?: readonly string[];
  username: string;
  password: string;
  clientId?: string;
  /** How long listen() waits for the first connection before going on degraded (not a CONNACK bound). */
  connectTimeoutMs: number;
  publishTimeoutMs: number;
  /** PEM files for an mqtts:// broker: its CA, and our client certificate under mutual TLS. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface LinkCounters {
  received: number;
  accepted: number;
  malformed: number;
  topicMismatch: number;
  published: number;
  publishFailed: number;
  /** Publishes skipped while disconnected; the next (re)connect re-derives them. */
  deferred: number;
  connects: number;
  resyncs: number;
  acksPublished: number;
}

export interface MqttLink {
  readonly clientId: string;
  readonly connected: boolean;
  /** When the link last connected (ms since the epoch), or null before its first connect. */
  readonly connectedSince: number | null;
  /**
   * Connects and delivers every decoded device message to `handlers` (ingestion); resolves true
   * once connected and re-synced, false if the first attempt timed out.
   */
  connect(handlers: IngestHandlers): Promise<boolean>;
  /** Publishes a module's retained envelope, or clears it when the module is gone (deleted). */
  publishModule(sha256: string): Promise<boolean>;
  publishDesired(deviceId: string): Promise<boolean>;
  /** Publishes a hub's site document with its next revision, or clears it when the hub is gone [WF-P-T-9]. */
  publishHubSite(hubId: string): Promise<boolean>;
  /** An empty retained payload removes the retained desired state from the broker. */
  clearDesired(deviceId: string): Promise<boolean>;
  /**
   * Asks the broker to disconnect every client of a deleted device [WF-P-T-6]. Not retained; if
   * the link is down it is sent again on the next connect, so a live session cannot outlast it.
   */
  revokeDevice(deviceId: string): Promise<boolean>;
  /** The same for a hub principal (`wf:hub:{id}`): its credential rotated without grace, or the hub removed. */
  revokeHub(hubId: string): Promise<boolean>;
  /**
   * Tells a device which result seqs are stored [WF-P-T-8] and which it refused [WF-P-NACK-1].
   * Fire and forget: a lost ack only makes the agent resend, and the resend is acked again.
   */
  publishAck(deviceId: string, stored: [number, number][], refused?: BatchRefusal[]): void;
  resync(): Promise<void>;
  /**
   * Publishes again, freshly signed, every desired state whose signature expires before
   * `deadlineMs` (or was never published); returns how many were re-signed and published.
   */
  resignExpiring(deadlineMs: number): Promise<{ due: number; published: number }>;
  /** Publishes every device's desired state again, e.g. after the trusted-keys list changed. */
  republishDesired(): Promise<number>;
  counters(): Readonly<LinkCounters>;
  close(): Promise<void>;
}

/** One connection attempt's wait for its CONNACK: mqtt.js' own default, far above a healthy broker's answer. */
export const LINK_CONNACK_TIMEOUT_MS = 30_000;

const SUBSCRIPTIONS = [topics.allDevices('reported'), topics.allDevices('status'), topics.allDevices('results'), topics.allDevices('spooled'), hubTopics.allHubs('status')];

/** Where hub statuses go (hubs/status-inbox.ts); true when it handled the topic. */
export interface HubMessageHandler {
  onMessage(topic: string, payload: Buffer): boolean;
}

export function createMqttLink(options: LinkOptions, source: RetainedSource, logger: Logger, signer: DesiredSigner, hubInbox?: HubMessageHandler): MqttLink {
  const clientId = options.clientId ?? `wf-fleet-api-${randomBytes(6).toString('hex')}`;
  const counters: LinkCounters = { received: 0, accepted: 0, malformed: 0, topicMismatch: 0, published: 0, publishFailed: 0, deferred: 0, connects: 0, resyncs: 0, acksPublished: 0 };
  let client: MqttClient | undefined;
  let connectedSince: number | null = null;
  let closing = false;
  const queue = new TopicQueue();
  // Closing, a publish waits for its PUBACK no longer than publishTimeoutMs, busy broker or not:
  // close() waits for the queue, and the process's stop has a bound (platform/start-platform.ts).
  const shared = { client: () => client, queue, counters, publishTimeoutMs: options.publishTimeoutMs, logger, closing: () => closing };
  const retained = new RetainedPublisher({ ...shared, source, signer });
  const revocations = new Revocations(shared);

  const onConnect = async (mqttClient: MqttClient, sessionPresent: boolean) => {
    counters.connects += 1;
    const first = counters.connects === 1;
    try {
      // One topic per SUBSCRIBE: on a cluster node (aedes-persistence-redis 11) a SUBSCRIBE of
      // several topics with QoS 1 never gets its SUBACK (test/e2e/cluster-processes.test.ts).
      for (const topic of SUBSCRIPTIONS) await mqttClient.subscribeAsync(topic, { qos: 1 });
      await revocations.retryPending();
      // Everything retained is re-derived from SQLite at this process's first connect (SQLite may
      // have moved while we were away) and whenever the broker lost our session, and with it its
      // retained messages (a restarted in-memory broker, a wiped Redis). A broker that kept our
      // session kept its retained messages too: only what this link failed to publish is sent
      // again. Re-deriving all of it at every reconnect re-signed and re-sent 10,000 desired states
      // to a broker that had just been too busy to keep the link, and every agent verified its own.
      if (first || !sessionPresent) await retained.resync();
      else await retained.republishStale();
    } catch (error) {
      logger.warn('post-connect setup failed', { reason: reasonOf(error) });
    }
  };

  const connect = (handlers: IngestHandlers): Promise<boolean> => {
    if (client) throw new Error('MqttLink.connect() may be called once');
    const inbox = new DeviceInbox(handlers, counters, logger);
    const mqttClient = mqtt.connect(options.url, {
      clientId,
      username: options.username,
      password: options.password,
      protocolVersion: 4,
      // With a fixed client id the broker keeps our subscriptions and queues QoS 1 results while
      // this link is down; a random id would leave an orphaned session behind on every start.
      clean: options.clientId === undefined,
      // Subscriptions are renewed in onConnect, together with the re-sync.
      resubscribe: false,
      reconnectPeriod: 1000,
      // How long one attempt waits for its CONNACK. Not connectTimeoutMs, which only bounds how
      // long listen() waits before going on degraded (5 s by default): a broker busy with a
      // 10,000-device rollout answered the link's reconnect later than that, every attempt was
      // abandoned and retried a second later, and the API heard nothing from the fleet (every
      // device went offline, the rollout stalled) until the bench gave up.
      connectTimeout: LINK_CONNACK_TIMEOUT_MS,
      ...(options.urls && options.urls.length > 1 ? { servers: failoverServers(options.urls) } : {}),
      ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
      ...(options.certFile ? { cert: readFileSync(options.certFile) } : {}),
      ...(options.keyFile ? { key: readFileSync(options.keyFile) } : {}),
    });
    client = mqttClient;
    mqttClient.on('message', (topic, payload, packet) => {
      if (hubInbox?.onMessage(topic, payload)) return;
      inbox.onMessage(topic, payload, packet.retain);
    });
    mqttClient.on('error', (error) => logger.warn('mqtt error', { reason: reasonOf(error) }));
    mqttClient.on('offline', () => logger.warn('mqtt link offline'));
    let first: ((ok: boolean) => void) | undefined;
    const firstDone = new Promise<boolean>((resolve) => (first = resolve));
    mqttClient.on('connect', (connack) => {
      // The PUBACKs of a turn's messages (and the publishes of that turn) leave in one write.
      coalesceWrites(mqttClient.stream);
      connectedSince = Date.now();
      logger.info('mqtt link connected', { url: options.url, clientId });
      void onConnect(mqttClient, connack.sessionPresent).then(() => {
        first?.(true);
        first = undefined;
      });
    });
    const timer = setTimeout(() => {
      if (first) logger.warn('mqtt link not connected yet; continuing and retrying in the background', { url: options.url });
      first?.(false);
      first = undefined;
    }, options.connectTimeoutMs);
    return firstDone.finally(() => clearTimeout(timer));
  };

  const publishAck = (deviceId: string, stored: [number, number][], refused?: BatchRefusal[]): void => {
    if (!client?.connected) return;
    let payload: Buffer;
    try {
      payload = encodePayload('ack', { v: PROTOCOL_VERSION, deviceId, stored, ...(refused && refused.length > 0 ? { refused } : {}) });
    } catch (error) {
      // Over the ack's cap: only refusals with long, escaped messages get there; halves always fit.
      if (refused && refused.length > 1) {
        const half = Math.ceil(refused.length / 2);
        publishAck(deviceId, stored, refused.slice(0, half));
        publishAck(deviceId, [], refused.slice(half));
      } else logger.error('results ack not encodable', { deviceId, reason: reasonOf(error) });
      return;
    }
    client.publish(topics.device(deviceId, 'ack'), payload, { qos: 1 }, (error) => {
      if (error) logger.debug('results ack not published; the agent resends', { deviceId, reason: reasonOf(error) });
      else counters.acksPublished += 1;
    });
  };

  return {
    clientId,
    get connected() {
      return client?.connected ?? false;
    },
    get connectedSince() {
      return connectedSince;
    },
    connect,
    publishModule: (sha256) => retained.publishModule(sha256),
    publishDesired: (deviceId) => retained.publishDesired(deviceId),
    publishHubSite: (hubId) => retained.publishHubSite(hubId),
    clearDesired: (deviceId) => retained.clearDesired(deviceId),
    revokeDevice: (deviceId) => revocations.revoke(deviceId),
    revokeHub: (hubId) => revocations.revokeHub(hubId),
    publishAck,
    resync: () => retained.resync(),
    resignExpiring: (deadlineMs) => retained.resignExpiring(deadlineMs),
    republishDesired: () => retained.publishAllDesired(),
    counters: () => ({ ...counters }),
    async close() {
      if (closing || !client) return;
      closing = true;
      await queue.idle();
      await client.endAsync(true);
    },
  };
}
