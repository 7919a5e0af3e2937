/** Small fixtures built through the public REST API. */
import type { Harness } from './harness.js';
import { abiModule, manifestFor, toBase64 } from './wasm.js';

export async function provision(h: Harness, id: string, tags: Record<string, string> = {}, profile = 'sim-x86-64'): Promise<string> {
  const res = await h.call('POST', '/api/v1/devices', { id, profile, tags });
  if (res.status !== 201) throw new Error(`provision ${id}: ${JSON.stringify(res.body)}`);
  return res.body.mqtt.password as string;
}

export async function upload(h: Harness, name: string, version: string): Promise<{ sha256: string; size: number }> {
  const res = await h.call('POST', '/api/v1/modules', { manifest: manifestFor(name, version), wasm: toBase64(abiModule({ label: `${name}@${version}` })) });
  if (res.status !== 201) throw new Error(`upload ${name}@${version}: ${JSON.stringify(res.body)}`);
  return res.body;
}
