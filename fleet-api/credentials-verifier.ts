/**
 * Who may connect to the broker, answered from the inventory. The broker (another part) calls
 * this through its CredentialVerifier hook; it never reads our tables itself.
 *
 * After a rotation with a grace period a device has two valid secrets. The new one is tried first;
 * its first success retires the old one, so a leaked old secret stops working as soon as the real
 * device has picked up the new one (docs/api.md §Credential rotation).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { CredentialVerifier, Principal } from '../broker/credentials.js';
import { verifySecret } from '../common/secrets.js';
import { isDeviceId, SERVICE_USERNAME } from '../protocol/index.js';
import type { Store } from './store/index.js';

export interface ServiceAccount {
  readonly username: typeof SERVICE_USERNAME | string;
  readonly password: string;
}

// Hashing both sides first makes the comparison constant-time regardless of length.
const digest = (value: Buffer | string): Buffer => createHash('sha256').update(value).digest();

/**
 * Where the verifier reads device secrets: the API's store in one process, or the standalone
 * broker's read-only reader of the same SQLite file (credentials-reader.ts).
 */
export type CredentialSource = Pick<Store, 'deviceCredentials' | 'retirePreviousCredential'>;

export function storeCredentialVerifier(store: CredentialSource, service: ServiceAccount): CredentialVerifier {
  const servicePassword = digest(service.password);
  return {
    async verify(username: string, password: Buffer): Promise<Principal | undefined> {
      if (username === service.username) {
        return timingSafeEqual(digest(password), servicePassword) ? { kind: 'service', name: username } : undefined;
      }
      // The pattern check keeps odd usernames away from the database and its hash check.
      if (!isDeviceId(username)) return undefined;
      const credentials = store.deviceCredentials(username);
      if (credentials === undefined) return undefined;
      const principal: Principal = { kind: 'device', deviceId: username };
      if (await verifySecret(password, credentials.currentHash)) {
        if (credentials.previousHash !== null) store.retirePreviousCredential(username);
        return principal;
      }
      if (credentials.previousHash !== null && (await verifySecret(password, credentials.previousHash))) return principal;
      return undefined;
    },
  };
}
