/**
 * Signing primitives [WF-P-SIG-1]: ed25519 (node:crypto) over the canonical JSON of a message,
 * prefixed by its kind so a signature made for one kind of message can never be replayed as
 * another (a desired-state signature is not a module signature).
 *
 *   signed bytes = "wasmfleet/v1/" + kind + "\n" + canonicalJson(body)
 *   public key   = base64 of the 32 raw ed25519 bytes
 *   key id       = sha256 hex of those 32 raw bytes
 *
 * Pure functions, no I/O: key files are the business of whoever stores them.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export type SignedKind = 'module' | 'desired' | 'trusted-keys';

export interface Signature {
  readonly keyId: string;
  /** base64 of the 64-byte ed25519 signature. */
  readonly sig: string;
}

/** A private key ready to sign, with the public half every verifier is given. */
export interface SigningKey {
  readonly keyId: string;
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

export const PUBLIC_KEY_PATTERN = '^[A-Za-z0-9+/]{43}=$';
export const SIGNATURE_PATTERN = '^[A-Za-z0-9+/]{86}==$';

/**
 * JSON with object keys sorted by code unit, no whitespace, and nothing JSON cannot say
 * exactly: the same value always gives the same bytes, on every party [WF-P-SIG-1].
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: numbers must be finite');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value as object)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
}

export function signingInput(kind: SignedKind, body: unknown): Buffer {
  return Buffer.from(`wasmfleet/v1/${kind}\n${canonicalJson(body)}`, 'utf8');
}

const rawOf = (publicKey: string): Buffer => Buffer.from(publicKey, 'base64');

export function keyIdOf(publicKey: string): string {
  return createHash('sha256').update(rawOf(publicKey)).digest('hex');
}

/**
 * Public keys as KeyObjects, by their base64 text: importing one costs about a quarter of the
 * verification itself, and an agent verifies every desired state and module with the same few
 * keys. Bounded, oldest out: a list holds at most a few dozen keys.
 */
const KEY_OBJECTS_SIZE = 64;
const keyObjects = new Map<string, KeyObject>();

function publicKeyObject(publicKey: string): KeyObject {
  let key = keyObjects.get(publicKey);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: rawOf(publicKey).toString('base64url') }, format: 'jwk' });
    keyObjects.set(publicKey, key);
    if (keyObjects.size > KEY_OBJECTS_SIZE) keyObjects.delete(keyObjects.keys().next().value!);
  }
  return key;
}

function fromPrivate(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError(`signing key must be ed25519, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicKey = Buffer.from(jwk.x as string, 'base64url').toString('base64');
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

/** A new key pair; `pem` is the PKCS#8 private key to store (mode 0600). */
export function generateSigningKey(): SigningKey & { pem: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { ...fromPrivate(privateKey), pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/** Reads a PKCS#8 PEM private key; throws TypeError when it is not an ed25519 key. */
export function signingKeyFromPem(pem: string): SigningKey {
  return fromPrivate(createPrivateKey(pem));
}

export function signBody(kind: SignedKind, body: unknown, key: SigningKey): Signature {
  return { keyId: key.keyId, sig: sign(null, signingInput(kind, body), key.privateKey).toString('base64') };
}

/** False for a wrong signature, a malformed key or signature, never throws. */
export function verifyBody(kind: SignedKind, body: unknown, signature: Signature, publicKey: string): boolean {
  try {
    if (rawOf(publicKey).byteLength !== 32 || keyIdOf(publicKey) !== signature.keyId) return false;
    const sig = Buffer.from(signature.sig, 'base64');
    if (sig.byteLength !== 64) return false;
    return verify(null, signingInput(kind, body), publicKeyObject(publicKey), sig);
  } catch {
    return false;
  }
}
