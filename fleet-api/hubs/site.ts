/**
 * The HubSite document of one hub (protocol/hubs.ts [WF-P-T-9]), built from SQLite at send time:
 * every device of its subtree with `via` (the child hub of H it is reached through, absent when
 * it connects to H directly) and every descendant hub with its parent, each with its credential
 * hashes (never a secret) and, during a rotation's grace, the previous hash and its expiry.
 */
import { PROTOCOL_VERSION, type HubSite } from '../../protocol/index.js';
import type { Store } from '../store/index.js';

type SiteStore = Pick<Store, 'hubSubtree' | 'deviceCredentials' | 'hubCredentials'>;

interface CredentialState {
  currentHash: string;
  previousHash: string | null;
  previousExpiresAt: string | null;
}

const credentialOf = (state: CredentialState) => ({
  current: state.currentHash,
  ...(state.previousHash !== null && state.previousExpiresAt !== null ? { previous: state.previousHash, previousUntil: Date.parse(state.previousExpiresAt) } : {}),
});

/** undefined when the hub does not exist. `revision` comes from the store (nextSiteRevision). */
export function buildHubSite(store: SiteStore, hubId: string, revision: number, now = new Date()): HubSite | undefined {
  const subtree = store.hubSubtree(hubId);
  if (!subtree) return undefined;
  const parentOf = new Map(subtree.hubs.map((hub) => [hub.id, hub.parentId]));
  /** The child of `hubId` on the way down to `at` (a descendant hub). */
  const childOnPath = (at: string): string => {
    let hub = at;
    for (let parent = parentOf.get(hub); parent !== undefined && parent !== hubId; parent = parentOf.get(hub)) hub = parent;
    return hub;
  };
  const devices: HubSite['devices'] = [];
  for (const device of subtree.devices) {
    const state = store.deviceCredentials(device.id);
    if (!state) continue;
    devices.push({ deviceId: device.id, ...(device.hubId !== hubId ? { via: childOnPath(device.hubId) } : {}), ...credentialOf(state) });
  }
  const hubs: HubSite['hubs'] = [];
  for (const hub of subtree.hubs) {
    const state = store.hubCredentials(hub.id);
    if (state) hubs.push({ hubId: hub.id, parent: hub.parentId, ...credentialOf(state) });
  }
  return { v: PROTOCOL_VERSION, hubId, revision, issuedAt: now.toISOString(), devices, hubs };
}
