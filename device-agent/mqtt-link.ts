/**
 * The agent's one MQTT connection: plain MQTT 3.1.1 to whatever broker the config names, so the
 * broker can be swapped for a clustered one. Client id is the device id [WF-P-ACL-1]; the will is
 * the retained offline status [WF-P-T-4], so the broker announces a lost link on our behalf.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { encodePayload, PROTOCOL_VERSION, topics, type DeviceStatus } from '../protocol/index.js';
import type { ResolvedAgentConfig } from './config.js';
import type { TopicSubscriber } from './module-fetcher.js';

export function statusMessage(deviceId: string, online: boolean, reason: DeviceStatus['reason']): DeviceStatus {
  return { v: PROTOCOL_VERSION, deviceId, online, at: new Date().toISOString(), reason };
}

export function connectBroker(config: ResolvedAgentConfig): MqttClient {
  const options: IClientOptions = {
    protocolVersion: 4,
    clientId: config.deviceId,
    username: config.broker.username,
    password: config.broker.password,
    clean: true,
    reconnectPeriod: config.reconnectPeriodMs,
    // A refused CONNACK (e.g. 'server unavailable' from the broker's connection-rate limit after a
    // restart) must not end reconnecting for good: mqtt.js stops unless told otherwise.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    // Results are counted as dropped while offline instead of piling up in memory (spooling to
    // disk is the state directory's job), so nothing may queue behind our back.
    queueQoSZero: false,
    will: {
      topic: topics.device(config.deviceId, 'status'),
      // `at` is the connect time: the broker sends the will verbatim, it cannot stamp it.
      payload: encodePayload('status', statusMessage(config.deviceId, false, 'connection-lost')),
      qos: 1,
      retain: true,
    },
  };
  if (config.broker.caFile !== undefined) options.ca = readFileSync(config.broker.caFile);
  return mqtt.connect(config.broker.url, options);
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
