/**
 * Who may connect to the hub's own broker, answered from the site document the hub holds (so it
 * works with the uplink cut): a device of the site that connects here directly (no `via`), with
 * its current secret or, during a rotation's grace, its previous one; or a child hub it lists.
 * No service account: the hub reaches its own broker in-process (local-broker.ts), so no client,
 * whatever its credentials, can speak here as the hub.
 *
 * A device absent from the latest document is refused; site.ts closes its live connections.
 */
import type { CredentialVerifier, Principal } from '../broker/credentials.js';
import { subtreeFromIds, type HubMembership, type HubSubtree } from '../broker/hub-membership.js';
import { verifySecret } from '../common/secrets.js';
import { isDeviceId } from '../protocol/ids.js';
import { hubIdOfUsername, type HubSite } from '../protocol/hubs.js';

interface SiteCredential {
  readonly current: string;
  readonly previous?: string;
  readonly previousUntil?: number;
}

type SiteDevice = HubSite['devices'][number];
/** Per document, its devices by id: a reconnect storm of a 10,000-device site must not scan the list each time. */
const indexes = new WeakMap<HubSite, Map<string, SiteDevice>>();
function deviceOf(site: HubSite | undefined, deviceId: string): SiteDevice | undefined {
  if (!site) return undefined;
  let index = indexes.get(site);
  if (!index) {
    index = new Map(site.devices.map((device) => [device.deviceId, device]));
    indexes.set(site, index);
  }
  return index.get(deviceId);
}

/** True when `password` matches the credential's current hash, or its previous one within the grace. */
export async function matchesCredential(credential: SiteCredential, password: Buffer, now: number): Promise<boolean> {
  if (await verifySecret(password, credential.current)) return true;
  if (credential.previous === undefined) return false;
  // No end given: the previous secret works until a document without it arrives.
  if (credential.previousUntil !== undefined && now >= credential.previousUntil) return false;
  return verifySecret(password, credential.previous);
}

/**
 * A child hub's subtree as this hub's site document describes it: the devices reached through it
 * (`via` names the child of this hub on their path) and the hubs below it. Only direct children
 * connect here; anything else has no subtree at this broker.
 */
export function childSubtree(site: HubSite | undefined, childId: string): HubSubtree | undefined {
  if (!site || !site.hubs.some((hub) => hub.hubId === childId && hub.parent === site.hubId)) return undefined;
  const parentOf = new Map(site.hubs.map((hub) => [hub.hubId, hub.parent]));
  const below = (hubId: string): boolean => {
    for (let at = parentOf.get(hubId), steps = 0; at !== undefined && steps <= site.hubs.length; at = parentOf.get(at), steps++) if (at === childId) return true;
    return false;
  };
  return subtreeFromIds(
    childId,
    site.devices.filter((device) => device.via === childId).map((device) => device.deviceId),
    site.hubs.filter((hub) => below(hub.hubId)).map((hub) => hub.hubId),
  );
}

export function siteCredentialVerifier(site: () => HubSite | undefined, now: () => number = Date.now): CredentialVerifier {
  const membership: HubMembership = { subtreeOf: (hubId) => childSubtree(site(), hubId) };
  return {
    membership,
    async verify(username: string, password: Buffer): Promise<Principal | undefined> {
      // A child hub authenticates here as its parent, from the site document's `hubs` list.
      const childId = hubIdOfUsername(username);
      if (childId !== undefined) {
        const current = site();
        const child = current?.hubs.find((hub) => hub.hubId === childId && hub.parent === current.hubId);
        if (!child || !(await matchesCredential(child, password, now()))) return undefined;
        return childSubtree(site(), childId) ? { kind: 'hub', hubId: childId } : undefined;
      }
      if (!isDeviceId(username)) return undefined;
      const device = deviceOf(site(), username);
      // A device behind a child hub connects there, never here.
      if (device === undefined || device.via !== undefined) return undefined;
      if (!(await matchesCredential(device, password, now()))) return undefined;
      // Checked again after the hash: a newer document may have dropped it meanwhile.
      const still = deviceOf(site(), username);
      return still !== undefined && still.via === undefined ? { kind: 'device', deviceId: username } : undefined;
    },
  };
}
