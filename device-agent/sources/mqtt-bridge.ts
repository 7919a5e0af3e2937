/**
 * Samples from a local sensor bridge's MQTT broker (Zigbee2MQTT, Tasmota, a Modbus bridge):
 * each message on the configured topics is one sample, its value read from the payload by the
 * profile's `parse` (a JSON field path for Zigbee2MQTT's `{"temperature":21.4,...}`). This is a
 * second, local connection, separate from the fleet link: it subscribes only, with QoS 0 and a
 * random client id, and reconnects on its own. Oversize or unreadable payloads are counted and
 * ignored.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../common/logger.js';
import { DEFAULT_MQTT_URL } from '../../common/network-defaults.js';
import type { MqttSource } from '../../firmware-profiles/index.js';
import { sourceErrors } from './errors.js';
import { parseValue, transform } from './line-format.js';
import { SampleBuffer } from './sample-buffer.js';
import type { Source } from './source.js';

const RECONNECT_MS = 5000;

export function createMqttSource(config: MqttSource, logger: Logger): Source {
  const buffer = new SampleBuffer(config.id, config.kind, config.maxBuffered ?? 8192, logger);
  const maxPayload = config.maxPayloadBytes ?? 65536;
  const format = config.parse ?? { format: 'number' as const };
  let client: MqttClient | undefined;
  let reportedDown = false;

  const onMessage = (topic: string, payload: Buffer): void => {
    if (payload.byteLength > maxPayload) return buffer.rejected(`payload on ${topic} is ${payload.byteLength} bytes, over maxPayloadBytes ${maxPayload}`);
    const parsed = parseValue(payload.toString('utf8'), format);
    if (!parsed.ok) return buffer.rejected(`${topic}: ${parsed.reason}`);
    buffer.push(transform(parsed.value, config.scale, config.offset));
  };

  return {
    id: config.id,
    kind: config.kind,
    rateHz: undefined,
    start() {
      buffer.start();
      if (client) return;
      const url = config.url ?? DEFAULT_MQTT_URL;
      client = mqtt.connect(url, {
        protocolVersion: 4,
        clientId: `wasmfleet-src-${config.id}-${randomBytes(4).toString('hex')}`,
        clean: true,
        reconnectPeriod: RECONNECT_MS,
        connectTimeout: 10_000,
        // Same reason as the agent's own link: no 6 MiB packet-id Buffer table.
        writeCache: false,
        ...(config.username !== undefined ? { username: config.username } : {}),
        ...(config.password !== undefined ? { password: config.password } : {}),
      });
      client.on('connect', () => {
        reportedDown = false;
        logger.info('source connected', { source: config.id, kind: config.kind, url });
        client?.subscribe(config.topics, { qos: 0 }, (error, granted) => {
          const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
          if (error || refused.length > 0) {
            const reason = error ? error.message : `subscription refused for ${refused.join(', ')}`;
            const failure = sourceErrors.WF_SOURCE_UNAVAILABLE({ source: config.id, kind: config.kind, what: 'its topics', reason, retryMs: RECONNECT_MS, field: 'topics' });
            logger.warn('source unreadable', { source: config.id, code: failure.code, reason: failure.message });
          }
        });
      });
      client.on('message', onMessage);
      client.on('error', (error) => {
        if (reportedDown) return;
        reportedDown = true;
        const failure = sourceErrors.WF_SOURCE_UNAVAILABLE({ source: config.id, kind: config.kind, what: url, reason: error.message, retryMs: RECONNECT_MS, field: 'url' });
        logger.warn('source unreadable', { source: config.id, code: failure.code, reason: failure.message });
      });
    },
    stop() {
      client?.end(true);
      client = undefined;
      buffer.stop();
    },
    take: (_now, max) => buffer.take(max),
    skip: () => buffer.skip(),
    stats: () => buffer.stats(),
  };
}
