/**
 * Key files: PKCS#8 PEM private keys of mode 0600 in a 0700 directory, never overwritten, and
 * the root's public half beside them so the server keeps working once the root private key is
 * moved offline (docs/security.md §Keys).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import { PUBLIC_KEY_PATTERN, signingKeyFromPem, type SigningKey } from '../../protocol/index.js';
import { apiErrors } from '../errors.js';

export const KEY_FILES = {
  root: 'root.key',
  rootPublic: 'root.pub',
  fleet: 'fleet.key',
  /** The development publisher key `wasmfleet module publish` uses when given no --key. */
  publisher: 'publisher.key',
} as const;

export const keyPath = (keysDir: string, file: string): string => join(keysDir, file);

export function ensureKeysDir(keysDir: string): void {
  try {
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw apiErrors.WF_API_SIGNING_SETUP({ reason: `keys directory ${keysDir} cannot be created: ${reasonOf(error)}` });
  }
}

/** The key in `path`, or undefined when there is no such file; a file that is not an ed25519 key throws. */
export function readSigningKey(path: string): SigningKey | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return signingKeyFromPem(readFileSync(path, 'utf8'));
  } catch (error) {
    throw apiErrors.WF_API_SIGNING_SETUP({ reason: `${path} is not an ed25519 private key in PKCS#8 PEM: ${reasonOf(error)}` });
  }
}

/** Writes a private key readable by its owner only; `wx`, so an existing key is never replaced. */
export function writeSigningKey(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

export function readPublicKey(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8').trim();
  if (!new RegExp(PUBLIC_KEY_PATTERN).test(text)) throw apiErrors.WF_API_SIGNING_SETUP({ reason: `${path} does not hold a base64 ed25519 public key` });
  return text;
}

export function writePublicKey(path: string, publicKey: string): void {
  writeFileSync(path, publicKey + '\n', { mode: 0o644 });
}
