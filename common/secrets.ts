/**
 * Secrets (device MQTT passwords, API tokens) are random, shown once, and stored only as hashes in
 * a self-describing string, so the scheme can change without a migration:
 *
 * - `sha256$salt$hash` (current): HMAC-SHA-256 of the secret keyed by a 16-byte salt. Every secret
 *   we issue is machine-generated with 256 bits of entropy, so guessing one is out of reach and a
 *   slow password hash buys nothing against a leaked database; a fast hash lets a broker admit a
 *   reconnect storm of tens of thousands of devices (docs/security.md §Credential hashing).
 * - `scrypt$N$r$p$salt$hash` (earlier releases): still verified, so existing credentials and
 *   tokens keep working until they are rotated.
 */
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function scrypt(secret: string | Buffer, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(secret, salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

const hmac = (secret: string | Buffer, salt: Buffer): Buffer => createHmac('sha256', salt).update(secret).digest();

/** A new random secret, URL-safe, with a readable prefix telling what it is for. */
export function generateSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Hashes a machine-generated secret (never a human-chosen password: see the header). */
export function hashSecretSync(secret: string | Buffer): string {
  const salt = randomBytes(SALT_LENGTH);
  return ['sha256', salt.toString('base64url'), hmac(secret, salt).toString('base64url')].join('$');
}

export async function hashSecret(secret: string | Buffer): Promise<string> {
  return hashSecretSync(secret);
}

const equalKeys = (key: Buffer, expected: Buffer): boolean => key.length === expected.length && timingSafeEqual(key, expected);

export async function verifySecret(secret: string | Buffer, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length === 3 && parts[0] === 'sha256') {
    const [, salt, hash] = parts as [string, string, string];
    return equalKeys(hmac(secret, Buffer.from(salt, 'base64url')), Buffer.from(hash, 'base64url'));
  }
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const key = await scrypt(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return equalKeys(key, Buffer.from(hash, 'base64url'));
}
