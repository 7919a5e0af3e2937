/**
 * Real parts for the hub tests: an upstream broker (Aedes on port 0, standing in for the central
 * tier where the test plays the API), a hub started in process with its real custody in a temp
 * dir, site documents built the way the API builds them (hashed secrets), and plain devices.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { createLogger, silentLogger } from '../../common/logger.js';
import { hashSecretSync } from '../../common/secrets.js';
import { resolveHubConfig } from '../../hub/config.js';
import { openResultCustody } from '../../hub/custody/index.js';
import { startHub, type RunningHub } from '../../hub/hub.js';
import type { TamperOptions } from '../../hub/tamper.js';
import { PROTOCOL_VERSION, type ResultBatch } from '../../protocol/index.js';
import { hubClientId, type HubSite } from '../../protocol/hubs.js';

type After = Pick<TestContext, 'after'>;
const stacks = new WeakMap<After, (() => unknown)[]>();

/**
 * Cleanups of one test, run last-registered first (node:test runs t.after hooks in registration
 * order): a hub closes before its temp dir is removed, devices before the hub.
 */
export function onCleanup(t: After, cleanup: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const created: (() => unknown)[] = [];
    stacks.set(t, created);
    t.after(async () => {
      for (const step of created.reverse()) await step();
    });
    stack = created;
  }
  stack.push(cleanup);
}

export interface Upstream {
  readonly url: string;
  readonly port: number;
  readonly aedes: Aedes;
  /** Every topic each client subscribed to, in order (repeats included). */
  readonly subscriptions: Map<string, string[]>;
  close(): Promise<void>;
}

export async function startUpstream(t: After, port = 0): Promise<Upstream> {
  const aedes = await Aedes.createBroker();
  const subscriptions = new Map<string, string[]>();
  aedes.on('subscribe', (subs, client) => {
    const list = subscriptions.get(client.id) ?? [];
    list.push(...subs.map((sub) => sub.topic));
    subscriptions.set(client.id, list);
  });
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })());
  onCleanup(t, close);
  return { url: `mqtt://127.0.0.1:${bound}`, port: bound, aedes, subscriptions, close };
}

/**
 * Makes `upstream` refuse hub `hubId`'s subscription to `topic` the first `times` times, as the
 * central broker does while its cached subtree of the hub predates the device: SUBACK 0x80 for that
 * filter, the connection kept. Returns how many it has refused so far.
 */
export function refuseHubSubscription(upstream: Upstream, hubId: string, topic: string, times: number): () => number {
  let refusals = 0;
  upstream.aedes.authorizeSubscribe = (client, sub, done) => {
    if (client?.id === hubClientId(hubId) && sub.topic === topic && refusals < times) {
      refusals += 1;
      return done(null, null);
    }
    done(null, sub);
  };
  return () => refusals;
}

/** The test's stand-in for the central API: a plain client of the upstream broker. */
export async function connectCentral(t: After, upstream: Upstream): Promise<MqttClient> {
  const api = await mqtt.connectAsync(upstream.url, { protocolVersion: 4, clientId: 'central', clean: true, reconnectPeriod: 0 });
  onCleanup(t, () => api.endAsync(true));
  return api;
}

export function tempDir(t: After, prefix = 'wf-hub-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface SiteDevice {
  readonly deviceId: string;
  readonly secret: string;
  readonly via?: string;
}

export function siteDocument(hubId: string, revision: number, devices: SiteDevice[]): HubSite {
  return {
    v: PROTOCOL_VERSION,
    hubId,
    revision,
    issuedAt: new Date().toISOString(),
    devices: devices.map((device) => ({ deviceId: device.deviceId, current: hashSecretSync(device.secret), ...(device.via ? { via: device.via } : {}) })),
    hubs: [],
  };
}

export interface TestHubOptions {
  readonly hubId?: string;
  readonly secret?: string;
  readonly upstreamUrl: string;
  readonly dataDir: string;
  readonly port?: number;
  readonly tamper?: TamperOptions;
  readonly statusIntervalMs?: number;
}

export async function startTestHub(t: After, options: TestHubOptions): Promise<RunningHub> {
  const config = resolveHubConfig({
    hubId: options.hubId ?? 'north',
    secret: options.secret ?? 'hub_secret',
    upstream: { urls: [options.upstreamUrl], reconnectPeriodMs: 200 },
    listen: { host: '127.0.0.1', port: options.port ?? 0 },
    dataDir: options.dataDir,
    statusIntervalMs: options.statusIntervalMs ?? 500,
  });
  // WF_TEST_HUB_LOG=debug shows the hub's log lines when a test needs looking into.
  const logger = process.env.WF_TEST_HUB_LOG ? createLogger({ level: process.env.WF_TEST_HUB_LOG as 'debug', component: 'hub' }) : silentLogger;
  const hub = await startHub(config, { logger, openCustody: openResultCustody, ...(options.tamper ? { tamper: options.tamper } : {}) });
  onCleanup(t, () => hub.close());
  return hub;
}

/** A device connecting to the hub by hand (no agent), for protocol-level checks. */
export async function connectDevice(t: After, url: string, deviceId: string, secret: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: deviceId, username: deviceId, password: secret, clean: true, reconnectPeriod: 0 });
  onCleanup(t, () => client.endAsync(true));
  return client;
}

/** Resolves with the CONNACK refusal code, or 0 when accepted (then disconnects). */
export async function connectCode(url: string, deviceId: string, secret: string): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: deviceId, username: deviceId, password: secret, clean: true, reconnectPeriod: 0, connectTimeout: 3000 });
    await client.endAsync(true);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

export function resultBatch(deviceId: string, seq: number): ResultBatch {
  return {
    v: PROTOCOL_VERSION,
    deviceId,
    seq,
    module: 'ema',
    version: '1.0.0',
    deploymentId: 'dep_test',
    input: { source: 'temperature', firstSeq: seq, count: 1, from: 0, to: 1 },
    metrics: [{ name: 'ema', points: [[Date.now(), seq]] }],
    events: [],
    dropped: 0,
  };
}
