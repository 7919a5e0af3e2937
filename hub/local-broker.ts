/**
 * The site's broker: our broker (broker/) on the hub's listen address, admitting the site's
 * devices from the site document (site-credentials.ts), and the hub's own client on it as the
 * local service account, through which the hub serves desired states and modules, reads what
 * devices publish, acks results and disconnects devices the site no longer lists [WF-P-T-6].
 * The service secret is random per process and never leaves it.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../broker/index.js';
import type { CredentialVerifier } from '../broker/credentials.js';
import type { Logger } from '../common/logger.js';
import { isoTime } from '../common/iso-time.js';
import { endLink } from '../device-agent/link-end.js';
import { encodePayload, HUB_REVOKE_TOPIC, PROTOCOL_VERSION, SERVICE_USERNAME, topics, type RevokeHub } from '../protocol/index.js';
import type { HubConfig } from './config.js';
import type { LocalServiceAccount } from './site-credentials.js';

export interface LocalBroker {
  readonly broker: RunningBroker;
  /** QoS 1; resolves on PUBACK from the hub's own broker. */
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  subscribe(filters: string[]): Promise<void>;
  onMessage(handler: (topic: string, payload: Buffer) => void): void;
  /** Closes every connection of the device at once; the verifier already refuses it. */
  disconnect(deviceId: string): Promise<void>;
  /** The same for a child hub's connection (`wf:hub:{id}`). */
  disconnectHub(hubId: string): Promise<void>;
  /** Clients connected to the site broker, the hub's own client left out. */
  devicesConnected(): number;
  close(): Promise<void>;
}

export function newLocalServiceAccount(): LocalServiceAccount {
  return { username: SERVICE_USERNAME, password: randomBytes(32).toString('base64url') };
}

export async function startLocalBroker(config: HubConfig, verifier: CredentialVerifier, service: LocalServiceAccount, logger: Logger): Promise<LocalBroker> {
  const { listen } = config;
  const broker = await startBroker({
    host: listen.host,
    port: listen.port,
    tcp: listen.tcp,
    ...(listen.tls ? { tls: { ...listen.tls } } : {}),
    verifier,
    logger: logger.child({ component: 'hub-broker' }),
  });
  let client: MqttClient;
  try {
    // The hub's own connection to the broker it just started in this process. On a TLS-only site
    // the certificate is not checked (it names the site's address, not the loopback one): the
    // client proves itself with a per-process secret, and something able to answer on the port
    // this process bound already controls the machine.
    client = await mqtt.connectAsync(broker.url, {
      protocolVersion: 4,
      clientId: `wf-hub-local-${randomBytes(4).toString('hex')}`,
      username: service.username,
      password: service.password,
      clean: true,
      reconnectPeriod: 500,
      writeCache: false,
      ...(broker.url.startsWith('mqtts:') ? { rejectUnauthorized: false } : {}),
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  const handlers: ((topic: string, payload: Buffer) => void)[] = [];
  client.on('message', (topic, payload) => {
    for (const handler of handlers) handler(topic, payload);
  });
  return {
    broker,
    publish: (topic, payload, retain) => client.publishAsync(topic, payload, { qos: 1, retain }).then(() => undefined),
    async subscribe(filters) {
      const grants = await client.subscribeAsync(filters, { qos: 1 });
      const refused = grants.find((grant) => grant.qos === 128);
      if (refused) throw new Error(`site broker refused the hub's subscription to ${refused.topic}`);
    },
    onMessage: (handler) => void handlers.push(handler),
    async disconnect(deviceId) {
      const revoke = { v: PROTOCOL_VERSION, deviceId, at: isoTime() } as const;
      await client.publishAsync(topics.controlRevoke, encodePayload('revoke', revoke), { qos: 1 });
    },
    async disconnectHub(hubId) {
      const revoke: RevokeHub = { v: PROTOCOL_VERSION, hubId, at: isoTime() };
      await client.publishAsync(HUB_REVOKE_TOPIC, JSON.stringify(revoke), { qos: 1 });
    },
    devicesConnected: () => Math.max(0, broker.stats().connectedClients - (client.connected ? 1 : 0)),
    async close() {
      await endLink(client);
      await broker.close();
    },
  };
}
