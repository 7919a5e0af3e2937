/** Real parts for agent tests: an Aedes broker on port 0, mqtt.js clients, temp dirs, module bytes. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { fromRoot } from '../../common/paths.js';
import { PROTOCOL_VERSION, sha256Hex, type DesiredModule, type Manifest, type ModuleEnvelope, type SignedDesiredState } from '../../protocol/index.js';
import { signDesiredState, signEnvelope } from '../helpers/trust.js';

export { testTrust } from '../helpers/trust.js';

export interface TestBroker {
  readonly url: string;
  readonly aedes: Aedes;
}

export async function startBroker(t: TestContext): Promise<TestBroker> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, aedes };
}

/** A plain client standing in for fleet-api, or for a hostile publisher. */
export async function connectClient(t: TestContext, url: string, clientId = `test-${Math.random().toString(16).slice(2)}`): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, clean: true, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  return client;
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'wf-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface ExampleModule {
  readonly wasm: Uint8Array<ArrayBuffer>;
  readonly manifest: Manifest;
  readonly sha256: string;
}

/** Built by `node dist/modules-as/tools/build-examples.js`. */
export function exampleModule(name: string): ExampleModule {
  const dir = fromRoot('modules-as', 'examples', name);
  const wasm = new Uint8Array(readFileSync(join(dir, 'build', 'release.wasm')));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  return { wasm, manifest, sha256: sha256Hex(wasm) };
}

/**
 * The envelope the API would retain, signed by the test publisher after `overrides` are applied,
 * so a test can make a trusted publisher vouch for bytes that differ from the desired entry.
 * Overrides that set `signatures` (even to undefined) are kept as given.
 */
export function envelopeOf(module: ExampleModule, overrides: Partial<ModuleEnvelope> = {}): ModuleEnvelope {
  const envelope = signEnvelope({
    v: PROTOCOL_VERSION,
    manifest: module.manifest,
    sha256: module.sha256,
    size: module.wasm.byteLength,
    wasm: Buffer.from(module.wasm).toString('base64'),
    ...overrides,
  });
  return 'signatures' in overrides ? { ...envelope, signatures: overrides.signatures } : envelope;
}

export function desiredModuleOf(module: ExampleModule, overrides: Partial<DesiredModule> = {}): DesiredModule {
  return {
    name: module.manifest.name,
    version: module.manifest.version,
    sha256: module.sha256,
    size: module.wasm.byteLength,
    deploymentId: 'dep_test',
    config: {},
    ...overrides,
  };
}

/** A desired state signed by the test fleet key, valid for a day. */
export function desiredState(deviceId: string, revision: number, modules: DesiredModule[]): SignedDesiredState {
  return signDesiredState({ v: PROTOCOL_VERSION, deviceId, revision, issuedAt: new Date().toISOString(), modules });
}

/** Resolves with the first `count` messages on `topic` (subscribing first). */
export async function collect(client: MqttClient, topic: string, count: number, timeoutMs = 10_000): Promise<Buffer[]> {
  const received: Buffer[] = [];
  let onMessage!: (t: string, p: Buffer) => void;
  const done = new Promise<Buffer[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received.length}/${count} messages on ${topic} within ${timeoutMs} ms`)), timeoutMs);
    onMessage = (t, payload) => {
      if (t !== topic) return;
      received.push(payload);
      if (received.length >= count) {
        clearTimeout(timer);
        resolve(received);
      }
    };
    client.on('message', onMessage);
  });
  await client.subscribeAsync(topic, { qos: 1 });
  try {
    return await done;
  } finally {
    client.off('message', onMessage);
  }
}

export async function until(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
