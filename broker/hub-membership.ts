/**
 * Which devices and hubs a hub principal may relay for: its subtree (HUB-CONTRACT, docs/security.md
 * §Hubs). The ACL (hub-acl.ts) is a pure function of (principal, topic, subtree); where the subtree
 * comes from is behind `HubMembership`, so the same rules run at the central broker (membership
 * read from SQLite or from the Redis credential replica) and at a hub's own broker for its child
 * hubs (membership read from the HubSite document it holds).
 *
 * Lookups are cached for a short time per hub: a hub relays for many devices, and one lookup per
 * publish would cost a SQLite query or a Redis round trip each. A device moved away from a hub is
 * therefore refused there within `ttlMs` (the contract's "within a second").
 */

/** A snapshot of one hub's subtree. `hasHub(H)` is true for H itself. */
export interface HubSubtree {
  hasDevice(deviceId: string): boolean;
  hasHub(hubId: string): boolean;
}

export interface HubMembership {
  /** The hub's subtree now; undefined when the hub is unknown (deleted), which denies everything. */
  subtreeOf(hubId: string): Promise<HubSubtree | undefined> | HubSubtree | undefined;
}

/** A subtree from plain id lists (the SQLite and Redis sources, and HubSite documents). */
export function subtreeFromIds(hubId: string, deviceIds: Iterable<string>, hubIds: Iterable<string>): HubSubtree {
  const devices = new Set(deviceIds);
  const hubs = new Set(hubIds);
  hubs.add(hubId);
  return { hasDevice: (id) => devices.has(id), hasHub: (id) => hubs.has(id) };
}

/** Only the hub itself: what its will may name before any lookup (authenticate.ts). */
export const selfOnly = (hubId: string): HubSubtree => subtreeFromIds(hubId, [], []);

export const DEFAULT_MEMBERSHIP_TTL_MS = 1_000;

/**
 * Caches each hub's subtree for `ttlMs`; concurrent lookups of one hub share one read. A failed
 * read is not cached (the next publish asks again).
 */
export function cachedHubMembership(source: HubMembership, ttlMs = DEFAULT_MEMBERSHIP_TTL_MS, now: () => number = Date.now): HubMembership & { invalidate(hubId?: string): void } {
  const entries = new Map<string, { at: number; value: Promise<HubSubtree | undefined> }>();
  return {
    subtreeOf(hubId) {
      const cached = entries.get(hubId);
      if (cached && now() - cached.at < ttlMs) return cached.value;
      const value = Promise.resolve(source.subtreeOf(hubId));
      const entry = { at: now(), value };
      entries.set(hubId, entry);
      value.catch(() => {
        if (entries.get(hubId) === entry) entries.delete(hubId);
      });
      return value;
    },
    invalidate(hubId) {
      if (hubId === undefined) entries.clear();
      else entries.delete(hubId);
    },
  };
}
