/** Small fixtures built through the public REST API. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recordReportedState } from '../../../fleet-api/deployments/progress.js';
import { KEY_FILES } from '../../../fleet-api/index.js';
import { completeManifest, sha256Hex, signingKeyFromPem, signModule, type ReportedState, type SigningKey } from '../../../protocol/index.js';
import type { Harness } from './harness.js';
import { abiModule, manifestFor, toBase64 } from './wasm.js';

/** The development publisher key the API created in its keys directory, as the CLI reads it. */
export function devPublisher(h: Harness): SigningKey {
  return signingKeyFromPem(readFileSync(join(h.api.signing.keysDir, KEY_FILES.publisher), 'utf8'));
}

/** An upload body signed as `wasmfleet module publish` signs it (manifest with defaults filled). */
export function signedModuleBody(h: Harness, manifest: unknown, wasm: Uint8Array, publisher: SigningKey = devPublisher(h)): Record<string, unknown> {
  const completed = completeManifest(manifest);
  const signature = signModule({ manifest: completed, sha256: sha256Hex(wasm), size: wasm.byteLength }, publisher);
  return { manifest, wasm: toBase64(wasm), signatures: [signature] };
}

export async function provision(h: Harness, id: string, tags: Record<string, string> = {}, profile = 'sim-x86-64'): Promise<string> {
  const res = await h.call('POST', '/api/v1/devices', { id, profile, tags });
  if (res.status !== 201) throw new Error(`provision ${id}: ${JSON.stringify(res.body)}`);
  return res.body.mqtt.password as string;
}

export async function upload(h: Harness, name: string, version: string): Promise<{ sha256: string; size: number }> {
  const res = await h.call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor(name, version), abiModule({ label: `${name}@${version}` })));
  if (res.status !== 201) throw new Error(`upload ${name}@${version}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Records a device's report of one module at its current desired revision, as the API's link
 * would on a `reported` message: `running` with a few batches unless `extra` says otherwise.
 */
export function reportModule(
  h: Harness,
  deviceId: string,
  module: { name: string; version: string; sha256: string },
  extra: Partial<ReportedState['modules'][number]> = {},
): ReturnType<typeof recordReportedState> {
  const device = h.api.store.getDevice(deviceId)!;
  return recordReportedState(h.api.store, {
    v: 1,
    deviceId,
    revision: device.desiredRevision,
    at: new Date().toISOString(),
    agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
    modules: [{ ...module, deploymentId: 'dep-x', state: 'running', faults: 0, batches: 3, ...extra }],
    errors: [],
  });
}
