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
import { hubIdOfUsername, isDeviceId, SERVICE_USERNAME } from '../protocol/index.js';
import { subtreeFromIds, type HubMembership } from '../broker/hub-membership.js';
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
export type CredentialSource = Pick<Store, 'deviceCredentials' | 'retirePreviousCredential'> &
  Partial<Pick<Store, 'hubCredentials' | 'retirePreviousHubCredential' | 'hubSubtree'>>;

/** Hub membership from the same source as the credentials (broker/hub-membership.ts). */
export function storeHubMembership(store: Pick<Store, 'hubSubtree'>): HubMembership {
  return {
    subtreeOf(hubId) {
      const subtree = store.hubSubtree(hubId);
      if (!subtree) return undefined;
      return subtreeFromIds(hubId, subtree.devices.map((d) => d.id), subtree.hubs.map((h) => h.id));
    },
  };
}

/** Current secret first; its success retires the previous one (see the header). */
async function checkRotating(
  password: Buffer,
  credentials: { currentHash: string; previousHash: string | null } | undefined,
  retire: () => void,
): Promise<boolean> {
  if (credentials === undefined) return false;
  if (await verifySecret(password, credentials.currentHash)) {
    if (credentials.previousHash !== null) retire();
    return true;
  }
  return credentials.previousHash !== null && (await verifySecret(password, credentials.previousHash));
}

export function storeCredentialVerifier(store: CredentialSource, service: ServiceAccount): CredentialVerifier {
  const servicePassword = digest(service.password);
  const { hubCredentials, retirePreviousHubCredential, hubSubtree } = store;
  return {
    ...(hubSubtree ? { membership: storeHubMembership({ hubSubtree: hubSubtree.bind(store) }) } : {}),
    async verify(username: string, password: Buffer): Promise<Principal | undefined> {
      if (username === service.username) {
        return timingSafeEqual(digest(password), servicePassword) ? { kind: 'service', name: username } : undefined;
      }
      const hubId = hubIdOfUsername(username);
      if (hubId !== undefined) {
        if (!hubCredentials || !retirePreviousHubCredential) return undefined;
        const ok = await checkRotating(password, hubCredentials.call(store, hubId), () => retirePreviousHubCredential.call(store, hubId));
        return ok ? { kind: 'hub', hubId } : undefined;
      }
      // The pattern check keeps odd usernames away from the database and its hash check.
      if (!isDeviceId(username)) return undefined;
      const ok = await checkRotating(password, store.deviceCredentials(username), () => store.retirePreviousCredential(username));
      return ok ? { kind: 'device', deviceId: username } : undefined;
    },
  };
}
