/**
 * Verification of a module before it runs. The broker is not trusted: whatever arrives on a
 * module topic must carry a trusted publisher's signature over its manifest, length and hash
 * [WF-P-SIG-3], match, field by field, what the (fleet-signed) desired state asked for (topic
 * hash, length, content hash, manifest name and version), target this device's profile and
 * architecture, and pass the structural ABI check, or it is refused with a reason that ends up in
 * the reported state [WF-P-T-1].
 */
import type { WasmfleetError } from '../common/errors.js';
import { abiProblem, checkEnvelopeSigners, decodePayload, sha256Hex, targetProblem, type DesiredModule, type Manifest } from '../protocol/index.js';
import { agentErrors } from './errors.js';
import type { KeysNow } from './trust-keeper.js';

/** What a module is checked against besides its desired entry: who may sign it, where it may run. */
export interface VerifyContext {
  readonly keys: () => KeysNow;
  readonly profile: string;
  readonly arch: string;
  /** This agent's ABI verdicts by content hash (abiVerdicts()); without it every ask checks again. */
  readonly abiVerdicts?: AbiVerdicts;
}

export interface VerifiedModule {
  readonly sha256: string;
  readonly manifest: Manifest;
  /** Owned, ArrayBuffer-backed copy of the module bytes. */
  readonly wasm: Uint8Array<ArrayBuffer>;
}

export type Verified = { ok: true; module: VerifiedModule } | { ok: false; error: WasmfleetError };

const who = (desired: DesiredModule) => ({ name: desired.name, version: desired.version });

/** Verifies a raw module-topic payload against the desired entry; the cap is checked before parsing. */
export function verifyEnvelope(desired: DesiredModule, topicSha: string, payload: Uint8Array | string, context: VerifyContext): Verified {
  if (topicSha !== desired.sha256) {
    return fail(agentErrors.WF_AGENT_MODULE_HASH_MISMATCH({ ...who(desired), expected: desired.sha256, actual: `topic ${topicSha}` }));
  }
  const decoded = decodePayload('module', payload);
  if (!decoded.ok) {
    return fail(agentErrors.WF_AGENT_MODULE_MALFORMED({ ...who(desired), reason: `${decoded.error.code}: ${decoded.error.message}` }));
  }
  const envelope = decoded.value;
  const keys = context.keys();
  if (!keys.ok) return fail(agentErrors.WF_AGENT_MODULE_SIGNATURE({ ...who(desired), reason: keys.reason }));
  const signed = checkEnvelopeSigners(envelope, keys.keys);
  if (!signed.ok) return fail(agentErrors.WF_AGENT_MODULE_SIGNATURE({ ...who(desired), reason: `not signed by a trusted publisher key: ${signed.reason}` }));
  if (envelope.sha256 !== desired.sha256) {
    return fail(agentErrors.WF_AGENT_MODULE_HASH_MISMATCH({ ...who(desired), expected: desired.sha256, actual: `envelope ${envelope.sha256}` }));
  }
  if (envelope.size !== desired.size) {
    return fail(agentErrors.WF_AGENT_MODULE_SIZE_MISMATCH({ ...who(desired), expected: desired.size, what: 'the envelope', actual: envelope.size }));
  }
  // Decoded length is bounded: the schema capped the base64 string before we got here.
  const wasm = new Uint8Array(Buffer.from(envelope.wasm, 'base64'));
  return verifyModule(desired, { sha256: envelope.sha256, manifest: envelope.manifest, wasm }, context);
}

/** The checks that also apply to a module already in the cache (same bytes, another entry). */
export function verifyModule(desired: DesiredModule, candidate: VerifiedModule, target: Pick<VerifyContext, 'profile' | 'arch' | 'abiVerdicts'>): Verified {
  const { wasm, manifest } = candidate;
  if (wasm.byteLength !== desired.size) {
    return fail(agentErrors.WF_AGENT_MODULE_SIZE_MISMATCH({ ...who(desired), expected: desired.size, what: 'the decoded bytes', actual: wasm.byteLength }));
  }
  const actual = sha256Hex(wasm);
  if (actual !== desired.sha256) {
    return fail(agentErrors.WF_AGENT_MODULE_HASH_MISMATCH({ ...who(desired), expected: desired.sha256, actual }));
  }
  if (manifest.name !== desired.name || manifest.version !== desired.version) {
    return fail(agentErrors.WF_AGENT_MODULE_MANIFEST_MISMATCH({ ...who(desired), actual: `${manifest.name}@${manifest.version}` }));
  }
  const misplaced = targetProblem(manifest, target.profile, target.arch);
  if (misplaced !== undefined) return fail(agentErrors.WF_AGENT_MODULE_TARGET({ ...who(desired), reason: misplaced }));
  const problem = abiVerdict(actual, wasm, target.abiVerdicts);
  if (problem !== undefined) return fail(agentErrors.WF_AGENT_MODULE_ABI_REFUSED({ ...who(desired), reason: problem }));
  return { ok: true, module: { sha256: actual, manifest, wasm } };
}

/**
 * The ABI check's verdict by content hash: a pure function of the bytes (a WebAssembly validate and
 * a read of the binary's imports and exports each time), asked again for every entry that reuses
 * cached bytes. Keyed by the hash just computed from these bytes, so a verdict is never reused for
 * other bytes. One map per agent (its fetcher's), so simulated devices sharing a process each
 * check for themselves. Small: a device holds a few modules.
 */
const ABI_VERDICTS_SIZE = 8;
export type AbiVerdicts = Map<string, string | undefined>;

export function abiVerdicts(): AbiVerdicts {
  return new Map();
}

function abiVerdict(sha256: string, wasm: Uint8Array<ArrayBuffer>, verdicts: AbiVerdicts | undefined): string | undefined {
  if (verdicts?.has(sha256)) return verdicts.get(sha256);
  const problem = abiProblem(wasm);
  if (!verdicts) return problem;
  verdicts.set(sha256, problem);
  if (verdicts.size > ABI_VERDICTS_SIZE) verdicts.delete(verdicts.keys().next().value!);
  return problem;
}

function fail(error: WasmfleetError): Verified {
  return { ok: false, error };
}
