/**
 * Signing and checking the two signed payloads [WF-P-SIG-3, WF-P-SIG-4]. A module envelope's
 * signature covers everything but `wasm` (bound by `sha256` and `size`); a desired state's covers
 * everything but `signatures`. Checking a signature says who vouches for a message, nothing more:
 * expiry, revision floor and content hash are checked by the receiver beside it.
 */
import type { Manifest } from './manifest.js';
import type { DesiredState, ModuleEnvelope, SignedDesiredState } from './messages.js';
import { signBody, type Signature, type SigningKey } from './signing.js';
import { checkSigners, unsignedPart, type SignerCheck, type TrustedKey, type TrustedKeys } from './trust.js';
import { PROTOCOL_VERSION } from './version.js';

/** What a publisher signs for a module: its manifest, length and hash. */
export interface ModuleStatement {
  readonly v: typeof PROTOCOL_VERSION;
  readonly manifest: Manifest;
  readonly sha256: string;
  readonly size: number;
}

export function moduleStatement(module: { manifest: Manifest; sha256: string; size: number }): ModuleStatement {
  return { v: PROTOCOL_VERSION, manifest: module.manifest, sha256: module.sha256, size: module.size };
}

/** The publisher's signature over a module, as `wasmfleet module publish` uploads it. */
export function signModule(module: { manifest: Manifest; sha256: string; size: number }, publisher: SigningKey): Signature {
  return signBody('module', moduleStatement(module), publisher);
}

export function checkModuleSigners(module: { manifest: Manifest; sha256: string; size: number; signatures?: readonly Signature[] }, keys: readonly TrustedKey[]): SignerCheck {
  return checkSigners('module', moduleStatement(module), module.signatures, keys, 'publisher');
}

export function checkEnvelopeSigners(envelope: ModuleEnvelope, keys: readonly TrustedKey[]): SignerCheck {
  return checkModuleSigners(envelope, keys);
}

export function signDesired(state: DesiredState, extra: { expiresAt: string; trust?: TrustedKeys }, fleet: SigningKey): SignedDesiredState {
  const body = { ...state, expiresAt: extra.expiresAt, ...(extra.trust ? { trust: extra.trust } : {}) };
  return { ...body, signatures: [signBody('desired', body, fleet)] };
}

export function checkDesiredSigners(state: SignedDesiredState, keys: readonly TrustedKey[]): SignerCheck {
  return checkSigners('desired', unsignedPart(state), state.signatures, keys, 'fleet');
}
