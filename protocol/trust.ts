/**
 * The trusted-keys list [WF-P-SIG-2]: which publisher keys may sign modules and which fleet keys
 * may sign desired states. It is signed by the root key, whose public half every agent receives
 * when it is provisioned, so publisher and fleet keys can be added, rotated and revoked without
 * touching a device. Its `version` only goes up and it carries an expiry, like TUF's root and
 * targets metadata: an agent never goes back to an older list, and stops trusting a list that
 * nobody refreshed (a withheld revocation cannot last forever).
 */
import { Type, type Static } from '@sinclair/typebox';
import { SHA256_HEX_PATTERN } from './ids.js';
import { PROTOCOL_VERSION } from './version.js';
import { PUBLIC_KEY_PATTERN, SIGNATURE_PATTERN, keyIdOf, signBody, verifyBody, type SigningKey } from './signing.js';

/** ISO 8601 UTC, as Date.prototype.toISOString writes it. */
export const TimestampSchema = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$', maxLength: 40 });
const KeyId = Type.String({ pattern: SHA256_HEX_PATTERN });

export const SignatureSchema = Type.Object(
  { keyId: KeyId, sig: Type.String({ pattern: SIGNATURE_PATTERN }) },
  { additionalProperties: false },
);
/** More than one signature lets a message stay valid while a key is being rotated. */
export const SignaturesSchema = Type.Array(SignatureSchema, { minItems: 1, maxItems: 4 });

export const KeyRoleSchema = Type.Union([Type.Literal('publisher'), Type.Literal('fleet')]);
export type KeyRole = Static<typeof KeyRoleSchema>;

export const TrustedKeySchema = Type.Object(
  {
    keyId: KeyId,
    publicKey: Type.String({ pattern: PUBLIC_KEY_PATTERN }),
    role: KeyRoleSchema,
    name: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type TrustedKey = Static<typeof TrustedKeySchema>;

export const MAX_TRUSTED_KEYS = 64;

export const TrustedKeysSchema = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    /** Only ever increases; an agent ignores a list whose version is not above its own. */
    version: Type.Integer({ minimum: 1 }),
    issuedAt: TimestampSchema,
    expiresAt: TimestampSchema,
    keys: Type.Array(TrustedKeySchema, { maxItems: MAX_TRUSTED_KEYS }),
    /** By the root key. */
    signatures: SignaturesSchema,
  },
  { additionalProperties: false },
);
export type TrustedKeys = Static<typeof TrustedKeysSchema>;

/** What an agent is given at provisioning: the root public key and the first trusted-keys list. */
export const AgentTrustSchema = Type.Object(
  {
    root: Type.String({ pattern: PUBLIC_KEY_PATTERN }),
    keys: TrustedKeysSchema,
  },
  { additionalProperties: false },
);
export type AgentTrust = Static<typeof AgentTrustSchema>;

export function trustedKeyOf(key: Pick<SigningKey, 'publicKey'>, role: KeyRole, name: string): TrustedKey {
  return { keyId: keyIdOf(key.publicKey), publicKey: key.publicKey, role, name };
}

/** Everything a signature covers: the message without its signatures. */
export function unsignedPart<T extends { signatures?: unknown }>(message: T): Omit<T, 'signatures'> {
  const { signatures: _ignored, ...rest } = message;
  return rest;
}

export function signTrustedKeys(list: Omit<TrustedKeys, 'signatures'>, root: SigningKey): TrustedKeys {
  return { ...list, signatures: [signBody('trusted-keys', list, root)] };
}

/** Why a trusted-keys list must not be used, or undefined when the root signed it and it is current. */
export function trustedKeysProblem(list: TrustedKeys, rootPublicKey: string, now: number): string | undefined {
  return trustedKeysSignatureProblem(list, rootPublicKey) ?? trustedKeysExpiry(list, now);
}

/** The part of trustedKeysProblem that depends on the list alone: the root's signature and every keyId. */
export function trustedKeysSignatureProblem(list: TrustedKeys, rootPublicKey: string): string | undefined {
  const body = unsignedPart(list);
  if (!list.signatures.some((signature) => verifyBody('trusted-keys', body, signature, rootPublicKey))) {
    return `trusted-keys list version ${list.version} is not signed by the root key ${keyIdOf(rootPublicKey).slice(0, 16)}`;
  }
  const bad = list.keys.find((key) => keyIdOf(key.publicKey) !== key.keyId);
  if (bad) return `trusted-keys list version ${list.version}: key '${bad.name}' has a keyId that is not the sha256 of its public key`;
  return undefined;
}

/** The part that depends on the time: the list's expiry. */
export function trustedKeysExpiry(list: TrustedKeys, now: number): string | undefined {
  return Date.parse(list.expiresAt) <= now ? `trusted-keys list version ${list.version} expired at ${list.expiresAt}` : undefined;
}

export type SignerCheck = { ok: true; keyId: string; name: string } | { ok: false; reason: string };

/**
 * At least one signature must verify with a key the list trusts in `role`. The reason names what
 * was wrong (no signature, unknown key, key of the wrong role, signature that does not verify).
 */
export function checkSigners(kind: 'module' | 'desired', body: unknown, signatures: readonly { keyId: string; sig: string }[] | undefined, keys: readonly TrustedKey[], role: KeyRole): SignerCheck {
  if (!signatures || signatures.length === 0) return { ok: false, reason: 'it is not signed' };
  const reasons: string[] = [];
  for (const signature of signatures) {
    const key = keys.find((candidate) => candidate.keyId === signature.keyId);
    const short = signature.keyId.slice(0, 16);
    if (!key) reasons.push(`key ${short} is not trusted`);
    else if (key.role !== role) reasons.push(`key ${short} (${key.name}) is a ${key.role} key, not a ${role} key`);
    else if (!verifyBody(kind, body, signature, key.publicKey)) reasons.push(`the signature by ${short} (${key.name}) does not verify`);
    else return { ok: true, keyId: key.keyId, name: key.name };
  }
  return { ok: false, reason: reasons.join('; ') };
}
