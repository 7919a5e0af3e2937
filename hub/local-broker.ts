/**
 * The site's broker: our broker (broker/) on the hub's listen address, admitting the site's
 * devices from the site document (site-credentials.ts), and the hub's in-process link to it
 * (`broker.inProcess`), through which the hub serves desired states and modules, reads what
 * devices publish, acks results and disconnects devices the site no longer lists [WF-P-T-6].
 * The link publishes as the broker itself, so nothing outside this process can speak as it.
 */
import { startBroker, type RunningBroker } from '../broker/index.js';
import type { CredentialVerifier } from '../broker/credentials.js';
import type { Logger } from '../common/logger.js';
import { isoTime } from '../common/iso-time.js';
import { encodePayload, HUB_REVOKE_TOPIC, PROTOCOL_VERSION, topics, type RevokeHub } from '../protocol/index.js';
import type { HubConfig } from './config.js';

export interface LocalBroker {
  readonly broker: RunningBroker;
  /** QoS 1; resolves once the site broker has retained (if asked) and routed it. */
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  subscribe(filters: string[]): Promise<void>;
  onMessage(handler: (topic: string, payload: Buffer) => void): void;
  /** Closes every connection of the device at once; the verifier already refuses it. */
  disconnect(deviceId: string): Promise<void>;
  /** The same for a child hub's connection (`wf:hub:{id}`). */
  disconnectHub(hubId: string): Promise<void>;
  /** Clients connected to the site broker (devices and child hubs). */
  devicesConnected(): number;
  close(): Promise<void>;
}

export async function startLocalBroker(config: HubConfig, verifier: CredentialVerifier, logger: Logger): Promise<LocalBroker> {
  const { listen } = config;
  const broker = await startBroker({
    host: listen.host,
    port: listen.port,
    tcp: listen.tcp,
    ...(listen.tls ? { tls: { ...listen.tls } } : {}),
    verifier,
    logger: logger.child({ component: 'hub-broker' }),
  });
  // The hub speaks to the broker it runs in-process (broker.inProcess), not through an MQTT client
  // on loopback: every message of the site passed that hop twice more (encode, socket write, parse,
  // PUBACK), a third of a hub's CPU in a rollout to 50 devices (the hub-fanout bench's profiles).
  const link = broker.inProcess;
  const handlers: ((topic: string, payload: Buffer) => void)[] = [];
  const subscribed = new Set<string>();
  const deliver = (topic: string, payload: Buffer): void => {
    for (const handler of handlers) {
      try {
        handler(topic, payload);
      } catch (error) {
        logger.warn('site message not handled', { topic, reason: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  return {
    broker,
    publish: (topic, payload, retain) => link.publish(topic, payload, retain),
    async subscribe(filters) {
      for (const filter of filters) {
        if (subscribed.has(filter)) continue;
        subscribed.add(filter);
        link.on(filter, deliver);
      }
    },
    onMessage: (handler) => void handlers.push(handler),
    async disconnect(deviceId) {
      const revoke = { v: PROTOCOL_VERSION, deviceId, at: isoTime() } as const;
      await link.publish(topics.controlRevoke, encodePayload('revoke', revoke), false);
    },
    async disconnectHub(hubId) {
      const revoke: RevokeHub = { v: PROTOCOL_VERSION, hubId, at: isoTime() };
      await link.publish(HUB_REVOKE_TOPIC, Buffer.from(JSON.stringify(revoke)), false);
    },
    devicesConnected: () => broker.stats().connectedClients,
    close: () => broker.close(),
  };
}
