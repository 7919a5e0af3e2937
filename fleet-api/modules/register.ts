/**
 * Accepting a module upload: manifest schema, binary size, a trusted publisher's signature over
 * manifest, size and sha256 (docs/security.md), the ABI check and a trial start in the sandbox,
 * all before anything is stored. Content addressing means one hash belongs to exactly one name@version: the retained
 * envelope on wf/v1/modules/{sha256} carries one manifest, so the same bytes cannot be published
 * under a second name.
 */
import { describeProblems, schemaProblems } from '../../common/validate.js';
import { abiProblem, checkModuleSigners, completeManifest, ManifestSchema, MAX_WASM_BYTES, sha256Hex, type Manifest, type Signature, type TrustedKey } from '../../protocol/index.js';
import { apiErrors } from '../errors.js';
import type { ModuleRecord, Store } from '../store/index.js';
import { overLimitProblem, trialStartProblem } from './trial-start.js';

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeWasm(base64: string): Uint8Array<ArrayBuffer> {
  if (!BASE64_RE.test(base64)) throw apiErrors.WF_API_VALIDATION({ field: 'body/wasm', reason: 'must be standard base64' });
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.byteLength > MAX_WASM_BYTES) throw apiErrors.WF_API_MODULE_TOO_LARGE({ size: bytes.byteLength, max: MAX_WASM_BYTES, field: 'body/wasm' });
  // abiProblem needs ArrayBuffer-backed bytes (WebAssembly.Module refuses shared buffers).
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}

export function checkManifest(input: unknown): Manifest {
  const completed = completeManifest(input);
  const problems = schemaProblems(ManifestSchema, completed);
  if (problems.length > 0) {
    const first = problems[0]!;
    throw apiErrors.WF_API_VALIDATION({
      field: first.field ? `body/manifest/${first.field}` : 'body/manifest',
      reason: describeProblems(problems),
    });
  }
  return completed as Manifest;
}

/** Returns the stored module and whether this call created it (false: identical re-upload). */
export async function registerModule(
  store: Store,
  manifestInput: unknown,
  wasmBase64: string,
  signatures: readonly Signature[] | undefined,
  trusted: readonly TrustedKey[],
): Promise<{ module: ModuleRecord; created: boolean }> {
  const manifest = checkManifest(manifestInput);
  const wasm = decodeWasm(wasmBase64);
  // The publisher signs the manifest with its defaults filled, as checkManifest completes it.
  if (!signatures || signatures.length === 0) throw apiErrors.WF_API_MODULE_UNSIGNED({ name: manifest.name, version: manifest.version, field: 'body/signatures' });
  const signed = checkModuleSigners({ manifest, sha256: sha256Hex(wasm), size: wasm.byteLength, signatures }, trusted);
  if (!signed.ok) {
    throw apiErrors.WF_API_MODULE_SIGNATURE({ name: manifest.name, version: manifest.version, reason: `not signed by a trusted publisher key: ${signed.reason}`, field: 'body/signatures' });
  }
  const invalid = (reason: string) => apiErrors.WF_API_MODULE_INVALID({ name: manifest.name, version: manifest.version, reason, field: 'body/wasm' });
  if (!WebAssembly.validate(wasm)) throw invalid('not a valid WebAssembly binary');
  // The caps every device checks before compiling, checked before this process compiles anything
  // (the ABI check compiles; the trial start runs in a process of its own).
  const over = overLimitProblem(wasm);
  if (over) throw apiErrors.WF_API_MODULE_OVER_LIMIT({ name: manifest.name, version: manifest.version, limit: over.limit, reason: over.reason, field: 'body/wasm' });
  const refusal = abiProblem(wasm) ?? (await trialStartProblem(manifest, wasm));
  if (refusal) throw apiErrors.WF_API_MODULE_INVALID({ name: manifest.name, version: manifest.version, reason: refusal, field: 'body/wasm' });
  const sha256 = sha256Hex(wasm);
  return store.transaction(() => {
    const existing = store.getModule(manifest.name, manifest.version);
    if (existing) {
      if (existing.sha256 === sha256) return { module: existing, created: false };
      throw apiErrors.WF_API_CONFLICT({
        reason: `module ${manifest.name}@${manifest.version} already exists with sha256 ${existing.sha256}; publish a new version`,
        field: 'body/manifest/version',
      });
    }
    const sameBytes = store.moduleBySha(sha256);
    if (sameBytes) {
      throw apiErrors.WF_API_CONFLICT({
        reason: `these bytes are already published as ${sameBytes.name}@${sameBytes.version}`,
        field: 'body/wasm',
      });
    }
    return { module: store.insertModule({ manifest, sha256, wasm, signatures: [...signatures] }), created: true };
  });
}
