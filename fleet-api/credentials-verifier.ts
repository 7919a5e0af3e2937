/**
 * Who may connect to the broker, answered from the inventory. The broker (another part) calls
 * this through its CredentialVerifier hook; it never reads our tables itself.
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

export function storeCredentialVerifier(store: Pick<Store, 'deviceCredentialHash'>, service: ServiceAccount): CredentialVerifier {
  const servicePassword = digest(service.password);
  return {
    async verify(username: string, password: Buffer): Promise<Principal | undefined> {
      if (username === service.username) {
        return timingSafeEqual(digest(password), servicePassword) ? { kind: 'service', name: username } : undefined;
      }
      // The pattern check keeps odd usernames away from the database and the scrypt cost.
      if (!isDeviceId(username)) return undefined;
      const hash = store.deviceCredentialHash(username);
      if (hash === undefined) return undefined;
      return (await verifySecret(password, hash)) ? { kind: 'device', deviceId: username } : undefined;
    },
  };
}
