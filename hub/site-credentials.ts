/**
 * Who may connect to the hub's own broker, answered from the site document the hub holds (so it
 * works with the uplink cut): a device of the site that connects here directly (no `via`), with
 * its current secret or, during a rotation's grace, its previous one; and the hub's own relay
 * client as the local service account, with a secret that lives only in this process.
 *
 * A device absent from the latest document is refused; site.ts closes its live connections.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { CredentialVerifier, Principal } from '../broker/credentials.js';
import { verifySecret } from '../common/secrets.js';
import { isDeviceId } from '../protocol/ids.js';
import type { HubSite } from '../protocol/hubs.js';

export interface LocalServiceAccount {
  readonly username: string;
  readonly password: string;
}

interface SiteCredential {
  readonly current: string;
  readonly previous?: string;
  readonly previousUntil?: number;
}

const digest = (value: Buffer | string): Buffer => createHash('sha256').update(value).digest();

/** True when `password` matches the credential's current hash, or its previous one within the grace. */
export async function matchesCredential(credential: SiteCredential, password: Buffer, now: number): Promise<boolean> {
  if (await verifySecret(password, credential.current)) return true;
  if (credential.previous === undefined) return false;
  // No end given: the previous secret works until a document without it arrives.
  if (credential.previousUntil !== undefined && now >= credential.previousUntil) return false;
  return verifySecret(password, credential.previous);
}

export function siteCredentialVerifier(site: () => HubSite | undefined, service: LocalServiceAccount, now: () => number = Date.now): CredentialVerifier {
  const servicePassword = digest(service.password);
  return {
    async verify(username: string, password: Buffer): Promise<Principal | undefined> {
      if (username === service.username) {
        return timingSafeEqual(digest(password), servicePassword) ? { kind: 'service', name: username } : undefined;
      }
      if (!isDeviceId(username)) return undefined;
      const device = site()?.devices.find((entry) => entry.deviceId === username);
      // A device behind a child hub connects there, never here.
      if (device === undefined || device.via !== undefined) return undefined;
      if (!(await matchesCredential(device, password, now()))) return undefined;
      // Checked again after the hash: a newer document may have dropped it meanwhile.
      const still = site()?.devices.find((entry) => entry.deviceId === username);
      return still !== undefined && still.via === undefined ? { kind: 'device', deviceId: username } : undefined;
    },
  };
}
