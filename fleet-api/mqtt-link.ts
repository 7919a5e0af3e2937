/**
 * The fleet API's only way to the broker: one MQTT client on the service account. It publishes
 * retained modules and desired states, and hands decoded device messages to ingestion.
 *
 * What it publishes is always read from SQLite at send time, and sends are serialised per topic,
 * so a re-sync racing a new deployment can never leave an older desired state retained.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { failoverServers } from '../common/failover-servers.js';
import type { Logger } from '../common/logger.js';
import { reasonOf } from '../common/errors.js';
import {
  decodePayload,
  encodePayload,
  parseTopic,
  PROTOCOL_VERSION,
  topics,
  type DesiredState,
  type DeviceStatus,
  type ModuleEnvelope,
  type ReportedState,
  type ResultBatch,
  type SpooledResults,
  type SignedDesiredState,
} from '../protocol/index.js';

/** What the link re-derives retained messages from: SQLite, through the store. */
export interface RetainedSource {
  moduleShas(): string[];
  moduleEnvelope(sha256: string): ModuleEnvelope | undefined;
  deviceIds(): string[];
  desiredState(deviceId: string): DesiredState | null;
}

/** Signs each desired state as it is published (docs/security.md); the fleet key never leaves it. */
export interface DesiredSigner {
  signDesired(state: DesiredState, now?: number): SignedDesiredState;
}

export interface IngestHandlers {
  reported(state: ReportedState): void;
  status(status: DeviceStatus, retained: boolean): void;
  results(batch: ResultBatch): void;
}

export interface LinkOptions {
  url: string;
  /** Several broker nodes: each reconnect goes to the next (common/failover-servers.ts). */
  urls?: readonly string[];
  username: string;
  password: string;
  clientId?: string;
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
  /**
   * Connects and delivers every decoded device message to `handlers` (ingestion); resolves true
   * once connected and re-synced, false if the first attempt timed out.
   */
  connect(handlers: IngestHandlers): Promise<boolean>;
  publishModule(sha256: string): Promise<boolean>;
  publishDesired(deviceId: string): Promise<boolean>;
  /** An empty retained payload removes the retained desired state from the broker. */
  clearDesired(deviceId: string): Promise<boolean>;
  /**
   * Asks the broker to disconnect every client of a deleted device [WF-P-T-6]. Not retained; if
   * the link is down it is sent again on the next connect, so a live session cannot outlast it.
   */
  revokeDevice(deviceId: string): Promise<boolean>;
  /**
   * Tells a device which result seqs are stored [WF-P-T-8]. Fire and forget: a lost ack only
   * makes the agent resend, and the resend is acked again.
   */
  publishAck(deviceId: string, stored: [number, number][]): void;
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

const SUBSCRIPTIONS = [topics.allDevices('reported'), topics.allDevices('status'), topics.allDevices('results'), topics.allDevices('spooled')];
const RESYNC_CONCURRENCY = 32;
const MALFORMED_LOGS_PER_WINDOW = 20;
const MALFORMED_WINDOW_MS = 10_000;

export function createMqttLink(options: LinkOptions, source: RetainedSource, logger: Logger, signer: DesiredSigner): MqttLink {
  const clientId = options.clientId ?? `wf-fleet-api-${randomBytes(6).toString('hex')}`;
  const counters: LinkCounters = { received: 0, accepted: 0, malformed: 0, topicMismatch: 0, published: 0, publishFailed: 0, deferred: 0, connects: 0, resyncs: 0, acksPublished: 0 };
  const chains = new Map<string, Promise<unknown>>();
  let client: MqttClient | undefined;
  let closing = false;
  let resyncing: Promise<void> | undefined;
  let malformedWindow = { start: 0, logged: 0 };

  const noteMalformed = (topic: string, reason: string, code: string) => {
    const now = Date.now();
    if (now - malformedWindow.start > MALFORMED_WINDOW_MS) malformedWindow = { start: now, logged: 0 };
    // A misbehaving device could otherwise flood the log; counters keep the full tally.
    if (malformedWindow.logged++ < MALFORMED_LOGS_PER_WINDOW) logger.warn('dropped malformed message', { topic, code, reason });
  };

  /** Runs sends to one topic strictly in order; other topics proceed in parallel. */
  const onTopic = <T>(topic: string, task: () => Promise<T>): Promise<T> => {
    const previous = chains.get(topic) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    chains.set(topic, settled);
    void settled.then(() => {
      if (chains.get(topic) === settled) chains.delete(topic);
    });
    return next;
  };

  const send = async (topic: string, payload: () => Buffer | undefined): Promise<boolean> => {
    return onTopic(topic, async () => {
      if (!client?.connected) {
        counters.deferred += 1;
        return false;
      }
      const bytes = payload();
      if (bytes === undefined) return false;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.publishAsync(topic, bytes, { qos: 1, retain: true }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no puback within ${options.publishTimeoutMs} ms`)), options.publishTimeoutMs);
          }),
        ]);
        counters.published += 1;
        return true;
      } catch (error) {
        counters.publishFailed += 1;
        logger.warn('retained publish failed; the next reconnect re-derives it', { topic, reason: reasonOf(error) });
        return false;
      } finally {
        clearTimeout(timer);
      }
    });
  };

  const publishModule = (sha256: string) =>
    send(topics.module(sha256), () => {
      const envelope = source.moduleEnvelope(sha256);
      return envelope && encodePayload('module', envelope);
    });

  /** When each device's retained desired state stops being valid; what the re-sign job reads. */
  const signedUntil = new Map<string, number>();

  // Signed at send time, so the expiry counts from the moment the message reaches the broker.
  const publishDesired = async (deviceId: string): Promise<boolean> => {
    let expiresAt = 0;
    const sent = await send(topics.device(deviceId, 'desired'), () => {
      const state = source.desiredState(deviceId);
      if (!state) return undefined;
      const signed = signer.signDesired(state);
      expiresAt = Date.parse(signed.expiresAt);
      return encodePayload('desired', signed);
    });
    if (sent) signedUntil.set(deviceId, expiresAt);
    return sent;
  };

  const publishAllDesired = async (): Promise<number> => {
    const ids = source.deviceIds();
    let published = 0;
    for (let i = 0; i < ids.length; i += RESYNC_CONCURRENCY) {
      const sent = await Promise.all(ids.slice(i, i + RESYNC_CONCURRENCY).map(publishDesired));
      published += sent.filter(Boolean).length;
    }
    return published;
  };

  const resignExpiring = async (deadlineMs: number): Promise<{ due: number; published: number }> => {
    const due = source.deviceIds().filter((id) => (signedUntil.get(id) ?? 0) < deadlineMs && source.desiredState(id) !== null);
    let published = 0;
    for (let i = 0; i < due.length; i += RESYNC_CONCURRENCY) {
      const sent = await Promise.all(due.slice(i, i + RESYNC_CONCURRENCY).map(publishDesired));
      published += sent.filter(Boolean).length;
    }
    return { due: due.length, published };
  };

  const clearDesired = (deviceId: string) => {
    signedUntil.delete(deviceId);
    return send(topics.device(deviceId, 'desired'), () => Buffer.alloc(0));
  };

  const pendingRevocations = new Set<string>();
  const revokeDevice = (deviceId: string): Promise<boolean> =>
    onTopic(topics.controlRevoke, async () => {
      pendingRevocations.add(deviceId);
      if (!client?.connected) {
        counters.deferred += 1;
        return false;
      }
      const bytes = encodePayload('revoke', { v: PROTOCOL_VERSION, deviceId, at: new Date().toISOString() });
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.publishAsync(topics.controlRevoke, bytes, { qos: 1 }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no puback within ${options.publishTimeoutMs} ms`)), options.publishTimeoutMs);
          }),
        ]);
        pendingRevocations.delete(deviceId);
        counters.published += 1;
        return true;
      } catch (error) {
        counters.publishFailed += 1;
        logger.warn('revocation publish failed; retried on the next connect', { deviceId, reason: reasonOf(error) });
        return false;
      } finally {
        clearTimeout(timer);
      }
    });

  const resync = (): Promise<void> => {
    resyncing ??= (async () => {
      counters.resyncs += 1;
      const started = Date.now();
      // Modules first, so an agent that sees a new desired state finds its modules retained.
      for (const sha of source.moduleShas()) await publishModule(sha);
      const devices = await publishAllDesired();
      logger.info('retained state re-derived from SQLite', { devices, ms: Date.now() - started });
    })().finally(() => {
      resyncing = undefined;
    });
    return resyncing;
  };

  const onMessage = (handlers: IngestHandlers, topic: string, payload: Buffer, retained: boolean) => {
    counters.received += 1;
    // Empty retained payloads are how topics get cleared; nothing to ingest.
    if (payload.byteLength === 0) return;
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind !== 'device' || parsed.channel === 'desired' || parsed.channel === 'ack') {
      counters.malformed += 1;
      noteMalformed(topic, 'not a device channel the API reads', 'WF_PROTO_TOPIC_MISMATCH');
      return;
    }
    const decoded = decodePayload(parsed.channel, payload);
    if (!decoded.ok) {
      counters.malformed += 1;
      noteMalformed(topic, decoded.error.message, decoded.error.code);
      return;
    }
    // The broker's ACL should already stop this; checked again so one device cannot speak for another.
    if (decoded.value.deviceId !== parsed.deviceId) {
      counters.topicMismatch += 1;
      noteMalformed(topic, `payload deviceId '${decoded.value.deviceId}' differs from topic`, 'WF_PROTO_TOPIC_MISMATCH');
      return;
    }
    if (parsed.channel === 'spooled' && (decoded.value as SpooledResults).batches.some((batch) => batch.deviceId !== parsed.deviceId)) {
      counters.topicMismatch += 1;
      noteMalformed(topic, 'a spooled batch names another device', 'WF_PROTO_TOPIC_MISMATCH');
      return;
    }
    try {
      if (parsed.channel === 'results') handlers.results(decoded.value as ResultBatch);
      else if (parsed.channel === 'spooled') for (const batch of (decoded.value as SpooledResults).batches) handlers.results(batch);
      else if (parsed.channel === 'reported') handlers.reported(decoded.value as ReportedState);
      else handlers.status(decoded.value as DeviceStatus, retained);
      counters.accepted += 1;
    } catch (error) {
      logger.error('ingestion failed', { topic, reason: reasonOf(error) });
    }
  };

  const onConnect = async (mqttClient: MqttClient) => {
    counters.connects += 1;
    try {
      await mqttClient.subscribeAsync(SUBSCRIPTIONS, { qos: 1 });
      for (const deviceId of [...pendingRevocations]) await revokeDevice(deviceId);
      await resync();
    } catch (error) {
      logger.warn('post-connect setup failed', { reason: reasonOf(error) });
    }
  };

  return {
    clientId,
    get connected() {
      return client?.connected ?? false;
    },
    connect(handlers) {
      if (client) throw new Error('MqttLink.connect() may be called once');
      const mqttClient = mqtt.connect(options.url, {
        ...(options.urls && options.urls.length > 1 ? { servers: failoverServers(options.urls) } : {}),
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
        connectTimeout: options.connectTimeoutMs,
        ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
        ...(options.certFile ? { cert: readFileSync(options.certFile) } : {}),
        ...(options.keyFile ? { key: readFileSync(options.keyFile) } : {}),
      });
      client = mqttClient;
      mqttClient.on('message', (topic, payload, packet) => onMessage(handlers, topic, payload, packet.retain));
      mqttClient.on('error', (error) => logger.warn('mqtt error', { reason: reasonOf(error) }));
      mqttClient.on('offline', () => logger.warn('mqtt link offline'));
      let first: ((ok: boolean) => void) | undefined;
      const firstDone = new Promise<boolean>((resolve) => (first = resolve));
      mqttClient.on('connect', () => {
        logger.info('mqtt link connected', { url: options.url, clientId });
        void onConnect(mqttClient).then(() => {
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
    },
    publishModule,
    publishDesired,
    clearDesired,
    revokeDevice,
    publishAck(deviceId, stored) {
      if (!client?.connected) return;
      const payload = encodePayload('ack', { v: PROTOCOL_VERSION, deviceId, stored });
      client.publish(topics.device(deviceId, 'ack'), payload, { qos: 1 }, (error) => {
        if (error) logger.debug('results ack not published; the agent resends', { deviceId, reason: reasonOf(error) });
        else counters.acksPublished += 1;
      });
    },
    resync,
    resignExpiring,
    republishDesired: publishAllDesired,
    counters: () => ({ ...counters }),
    async close() {
      if (closing || !client) return;
      closing = true;
      await Promise.allSettled([...chains.values()]);
      await client.endAsync(true);
    },
  };
}
