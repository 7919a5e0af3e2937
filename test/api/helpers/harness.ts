/**
 * Real parts for API tests: a fresh SQLite file in a temp dir, the real Fastify app, and when
 * asked a real Aedes broker on port 0 whose authenticate hook is our store's verifier.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../../../common/logger.js';
import { createFleetApi, openStore, storeCredentialVerifier, type FleetApi, type FleetApiOptionsPartial } from '../../../fleet-api/index.js';
import { SERVICE_USERNAME } from '../../../protocol/index.js';

export interface TestBroker {
  url: string;
  aedes: Aedes;
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'wf-api-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startBroker(t: TestContext, verify?: (username: string, password: Buffer) => Promise<boolean>): Promise<TestBroker> {
  const aedes = await Aedes.createBroker();
  if (verify) {
    aedes.authenticate = (_client, username, password, done) => {
      verify(username ?? '', password ?? Buffer.alloc(0)).then(
        (ok) => done(null, ok),
        (error: Error) => done(Object.assign(error, { returnCode: 3 }), false),
      );
    };
  }
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  t.after(async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `mqtt://127.0.0.1:${port}`, aedes };
}

export interface Harness {
  api: FleetApi;
  token: string;
  broker?: TestBroker;
  /** Base URL when listening; undefined for inject-only harnesses. */
  url?: string;
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any }>;
}

export interface HarnessOptions {
  /** Start a broker and listen for real (HTTP on port 0, MQTT link connected). */
  live?: boolean;
  options?: Partial<FleetApiOptionsPartial>;
}

export async function startApi(t: TestContext, harness: HarnessOptions = {}): Promise<Harness> {
  const dir = tempDir(t);
  const dbPath = join(dir, 'fleet.db');
  const servicePassword = 'test-service-password';
  const store = openStore(dbPath);
  const verifier = storeCredentialVerifier(store, { username: SERVICE_USERNAME, password: servicePassword });
  const broker = harness.live ? await startBroker(t, async (u, p) => (await verifier.verify(u, p)) !== undefined) : undefined;
  const api = await createFleetApi(
    {
      dbPath,
      http: { host: '127.0.0.1', port: 0 },
      // Port 1 refuses at once: inject-only tests never listen, so nothing dials it.
      mqtt: { url: broker?.url ?? 'mqtt://127.0.0.1:1', password: servicePassword, connectTimeoutMs: 3000 },
      jobs: { enabled: false },
      ...harness.options,
    },
    { logger: silentLogger, store },
  );
  t.after(() => api.close());
  const token = api.createAdminToken();
  let url: string | undefined;
  if (harness.live) url = (await api.listen()).url;

  const call: Harness['call'] = async (method, path, body, useToken = token) => {
    const headers: Record<string, string> = {};
    if (useToken !== null) headers.authorization = `Bearer ${useToken}`;
    if (url) {
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      return { status: response.status, body: parseBody(text, response.headers.get('content-type')) };
    }
    const response = await api.app.inject({ method: method as 'GET', url: path, headers, ...(body !== undefined ? { payload: body as object } : {}) });
    return { status: response.statusCode, body: parseBody(response.body, response.headers['content-type']) };
  };
  return { api, token, broker, url, call };
}

/** JSON bodies parsed; anything else (the console's page at `/`) kept as text. */
function parseBody(text: string, contentType: unknown): unknown {
  if (!text) return undefined;
  return String(contentType ?? '').includes('json') ? JSON.parse(text) : text;
}

export async function connectClient(t: TestContext, url: string, username: string, password: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { username, password, protocolVersion: 4, reconnectPeriod: 0, clientId: `${username}-${Math.random().toString(16).slice(2)}` });
  t.after(() => client.endAsync(true));
  return client;
}

/** Collects messages on a subscription, retained ones included. */
export async function collect(client: MqttClient, topic: string): Promise<Array<{ topic: string; payload: Buffer; retain: boolean }>> {
  const seen: Array<{ topic: string; payload: Buffer; retain: boolean }> = [];
  client.on('message', (received, payload, packet) => {
    if (mqttMatch(topic, received)) seen.push({ topic: received, payload, retain: packet.retain });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return seen;
}

function mqttMatch(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const parts = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] !== '+' && f[i] !== parts[i]) return false;
  }
  return f.length === parts.length;
}

export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 3000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
