/**
 * Shared set-up for the broker tests: a real broker on port 0, a real CredentialVerifier backed
 * by scrypt hashes (common/secrets.ts, the same hashing production uses), and real mqtt.js
 * clients over TCP. Everything started here is closed in t.after.
 */
import type { TestContext } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { hashSecret, verifySecret, generateSecret } from '../../common/secrets.js';
import { createLogger, type Logger } from '../../common/logger.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { startBroker, type RunningBroker, type BrokerOptionsInput } from '../../broker/index.js';
import type { CredentialVerifier, Principal } from '../../broker/credentials.js';

export interface TestVerifier extends CredentialVerifier {
  addDevice(deviceId: string): Promise<string>;
  addService(): Promise<string>;
  /** Make verify() throw, to stand for a store that is down. */
  failing: boolean;
  /** Forget a device's credential, as deleting it from the store does. */
  removeDevice(deviceId: string): void;
  /** Extra time verify() takes, to hold a CONNECT in authentication. */
  delayMs: number;
}

export function createTestVerifier(): TestVerifier {
  const accounts = new Map<string, { hash: string; principal: Principal }>();
  const add = async (username: string, principal: Principal) => {
    const secret = generateSecret('test');
    accounts.set(username, { hash: await hashSecret(secret), principal });
    return secret;
  };
  const verifier: TestVerifier = {
    failing: false,
    delayMs: 0,
    async verify(username, password) {
      if (verifier.failing) throw new Error('store unavailable');
      if (verifier.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, verifier.delayMs));
      const account = accounts.get(username);
      if (!account) return undefined;
      return (await verifySecret(password, account.hash)) ? account.principal : undefined;
    },
    addDevice: (deviceId) => add(deviceId, { kind: 'device', deviceId }),
    addService: () => add(SERVICE_USERNAME, { kind: 'service', name: SERVICE_USERNAME }),
    removeDevice: (deviceId) => {
      accounts.delete(deviceId);
    },
  };
  return verifier;
}

export interface LogCapture {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
}

export function captureLogs(): LogCapture {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

export interface TestBroker {
  readonly broker: RunningBroker;
  readonly verifier: TestVerifier;
  readonly logs: LogCapture;
}

export async function startTestBroker(t: TestContext, options: BrokerOptionsInput = {}): Promise<TestBroker> {
  const verifier = createTestVerifier();
  const logs = captureLogs();
  const broker = await startBroker({ port: 0, ...options, verifier, logger: logs.logger });
  t.after(() => broker.close());
  return { broker, verifier, logs };
}

const clientDefaults: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 };

/** Connects and resolves once CONNACK 0 arrives; rejects with mqtt.js' error (code = return code). */
export function connect(t: TestContext, url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { ...clientDefaults, ...options });
  t.after(() => client.endAsync(true));
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.on('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export async function connectDevice(t: TestContext, tb: TestBroker, deviceId: string, password?: string): Promise<MqttClient> {
  const secret = password ?? (await tb.verifier.addDevice(deviceId));
  return connect(t, tb.broker.url, { clientId: deviceId, username: deviceId, password: secret });
}

export async function connectService(t: TestContext, tb: TestBroker): Promise<MqttClient> {
  const secret = await tb.verifier.addService();
  return connect(t, tb.broker.url, { clientId: 'fleet-api-test', username: SERVICE_USERNAME, password: secret });
}

/** The raw SUBACK return codes for one SUBSCRIBE, 0x80 meaning refused (MQTT 3.1.1 §3.9.3). */
export function subscribeGranted(client: MqttClient, filters: string[]): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (packet: Packet) => {
      if (packet.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve(packet.granted as number[]);
    };
    client.on('packetreceive', onPacket);
    client.subscribe(filters, { qos: 1 }, () => undefined);
  });
}

/** Resolves when the broker closes this client's connection, or rejects after timeoutMs. */
export function waitForClose(client: MqttClient, timeoutMs = 3000): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection was not closed')), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Collects messages; `settle` waits long enough for a message that should not arrive. */
export function collect(client: MqttClient): { topic: string; payload: Buffer; retain: boolean }[] {
  const seen: { topic: string; payload: Buffer; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, payload, retain: packet.retain }));
  return seen;
}

export const settle = (ms = 200): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const SHA_A = 'a'.repeat(64);
