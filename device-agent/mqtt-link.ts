/**
 * The agent's one MQTT connection: plain MQTT 3.1.1 to whatever broker the config names, so the
 * broker can be swapped for a clustered one. Client id is the device id [WF-P-ACL-1]; the will is
 * the retained offline status [WF-P-T-4], so the broker announces a lost link on our behalf.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { encodePayload, PROTOCOL_VERSION, topics, type DeviceStatus } from '../protocol/index.js';
import { isoTime } from '../common/iso-time.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { ResolvedAgentConfig } from './config.js';
import type { TopicSubscriber } from './module-fetcher.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { failoverServers } from '../common/failover-servers.js';

export { failoverServers };

const noLog = (): void => undefined;

export function statusMessage(deviceId: string, online: boolean, reason: DeviceStatus['reason']): DeviceStatus {
  return { v: PROTOCOL_VERSION, deviceId, online, at: isoTime(), reason };
}

/**
 * Connects, and reconnects with exponential backoff and full jitter between
 * `reconnectPeriodMs` and `reconnectMaxMs` (0 = never reconnect). With several broker URLs each
 * reconnect goes to the next node, so a node that died or refused us (a CONNACK error reconnects
 * too) is left for the next one after the same jittered delay.
 */
export function connectBroker(config: ResolvedAgentConfig, logger: Logger = silentLogger): MqttClient {
  const backoff = new ReconnectBackoff({ minMs: config.reconnectPeriodMs, maxMs: Math.max(config.reconnectPeriodMs, config.reconnectMaxMs) });
  const options: IClientOptions = {
    protocolVersion: 4,
    clientId: config.deviceId,
    username: config.broker.username,
    password: config.broker.password,
    clean: true,
    reconnectPeriod: config.reconnectPeriodMs === 0 ? 0 : backoff.next(),
    // A refused CONNACK (e.g. 'server unavailable' from the broker's connection-rate limit after a
    // restart) must not end reconnecting for good: mqtt.js stops unless told otherwise.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    // Results are counted as dropped while offline instead of piling up in memory (spooling to
    // disk is the state directory's job), so nothing may queue behind our back.
    queueQoSZero: false,
    // mqtt-packet otherwise builds a table of 65,536 two-byte Buffers on the first packet: ~6 MiB
    // of heap on a 1 GB gateway to save one 2-byte allocation per packet id.
    writeCache: false,
    // mqtt.js logs every packet through `debug` (a dozen calls per publish, most with arguments
    // built for nothing when DEBUG is off): 1.7% of an agents process's busy time in a rollout.
    // With DEBUG set, its own logger stays, so DEBUG=mqttjs* still shows the packets.
    ...(process.env.DEBUG ? {} : { log: noLog }),
    will: {
      topic: topics.device(config.deviceId, 'status'),
      // `at` is the connect time: the broker sends the will verbatim, it cannot stamp it.
      payload: encodePayload('status', statusMessage(config.deviceId, false, 'connection-lost')),
      qos: 1,
      retain: true,
    },
  };
  if (config.broker.caFile !== undefined) options.ca = readFileSync(config.broker.caFile);
  if (config.broker.certFile !== undefined) options.cert = readFileSync(config.broker.certFile);
  if (config.broker.keyFile !== undefined) options.key = readFileSync(config.broker.keyFile);
  const urls = config.broker.urls ?? [config.broker.url];
  if (urls.length > 1) options.servers = failoverServers(urls);
  const client = mqtt.connect(config.broker.url, options);
  if (config.reconnectPeriodMs > 0) {
    // mqtt.js re-reads options.reconnectPeriod each time it arms its timer after a failed
    // attempt (connect() clears the old one), so setting it just before each attempt makes its
    // fixed period a backoff schedule while keeping its own resubscribe-on-reconnect.
    client.on('reconnect', () => {
      // The first delay of an outage was armed at the last connect; this is attempt n ≥ 1.
      client.options.reconnectPeriod = backoff.next();
      logger.info('reconnecting', { attempt: backoff.attempts - 1, nextDelayMs: client.options.reconnectPeriod });
    });
    client.on('connect', () => {
      if (urls.length > 1) logger.info('connected to broker node', { host: client.options.host ?? null, port: client.options.port ?? null });
      backoff.reset();
      client.options.reconnectPeriod = backoff.next();
    });
  }
  return client;
}

/** Subscribes with QoS 1; rejects when the broker refuses (SUBACK 0x80, e.g. by its ACL). */
export async function subscribeQos1(client: MqttClient, topic: string): Promise<void> {
  const granted = await client.subscribeAsync(topic, { qos: 1 });
  const refused = granted.find((grant) => grant.qos === 128);
  if (refused) throw new Error(`broker refused the subscription to ${topic}`);
}

export function topicSubscriber(client: MqttClient): TopicSubscriber {
  return {
    subscribe: (topic) => subscribeQos1(client, topic),
    unsubscribe: async (topic) => {
      await client.unsubscribeAsync(topic);
    },
  };
}
