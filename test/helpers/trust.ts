/**
 * A test fleet's keys, made once per test process: root, fleet and publisher ed25519 keys, the
 * root-signed trusted-keys list an agent is provisioned with, and signing helpers that play the
 * parts of `wasmfleet module publish` (publisher) and the fleet API (fleet key).
 */
import {
  generateSigningKey,
  PROTOCOL_VERSION,
  signDesired,
  signModule,
  signTrustedKeys,
  trustedKeyOf,
  type AgentTrust,
  type DesiredState,
  type ModuleEnvelope,
  type SignedDesiredState,
  type SigningKey,
  type TrustedKey,
  type TrustedKeys,
} from '../../protocol/index.js';

export const testKeys = {
  root: generateSigningKey(),
  fleet: generateSigningKey(),
  publisher: generateSigningKey(),
} as const;

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

export function trustedKeysList(version: number, keys: TrustedKey[], options: { root?: SigningKey; expiresAt?: string } = {}): TrustedKeys {
  return signTrustedKeys(
    { v: PROTOCOL_VERSION, version, issuedAt: iso(Date.now()), expiresAt: options.expiresAt ?? iso(Date.now() + 365 * DAY_MS), keys },
    options.root ?? testKeys.root,
  );
}

/** Version 1: the test fleet key and the test publisher key. */
export const initialTrustedKeys: TrustedKeys = trustedKeysList(1, [
  trustedKeyOf(testKeys.fleet, 'fleet', 'fleet'),
  trustedKeyOf(testKeys.publisher, 'publisher', 'test-publisher'),
]);

/** What an agent's config carries. */
export function testTrust(): AgentTrust {
  return { root: testKeys.root.publicKey, keys: initialTrustedKeys };
}

/** Signs an envelope as the publisher would (any `signatures` it has are replaced). */
export function signEnvelope(envelope: Omit<ModuleEnvelope, 'signatures'> & { signatures?: unknown }, publisher: SigningKey = testKeys.publisher): ModuleEnvelope {
  const { signatures: _dropped, ...rest } = envelope;
  return { ...rest, signatures: [signModule(rest, publisher)] };
}

/** Signs a desired state as the fleet API would: valid for a day unless told otherwise. */
export function signDesiredState(state: DesiredState, options: { key?: SigningKey; expiresAt?: string; trust?: TrustedKeys } = {}): SignedDesiredState {
  const { expiresAt: _e, signatures: _s, trust: _t, ...plain } = state as SignedDesiredState;
  return signDesired(plain, { expiresAt: options.expiresAt ?? iso(Date.now() + DAY_MS), ...(options.trust ? { trust: options.trust } : {}) }, options.key ?? testKeys.fleet);
}
