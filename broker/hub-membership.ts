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

export interface CachedHubMembership extends HubMembership {
  /**
   * The last subtree read for this hub, without waiting (a read is started when it is older than
   * the ttl): undefined for a hub the source no longer knows, 'pending' before the first read.
   * What forwarding decides on (authorize.ts), where Aedes needs an answer at once.
   */
  peek(hubId: string): HubSubtree | undefined | 'pending';
  /**
   * The subtree read again unless the cached read started within `FRESH_MS`: what a refusal is
   * decided on, so a device put behind the hub a moment ago is not refused on a stale read (the
   * hub subscribes to its topics as soon as the new site document reaches it). Concurrent calls
   * share one read, so a burst of refused SUBSCRIBEs costs one read per hub.
   */
  fresh(hubId: string): Promise<HubSubtree | undefined>;
  invalidate(hubId?: string): void;
}

/** How recent a read `fresh` accepts as it is. */
export const FRESH_MS = 100;

/**
 * Caches each hub's subtree for `ttlMs`; concurrent lookups of one hub share one read. A failed
 * read (rejected or thrown) is not cached (the next publish asks again).
 */
export function cachedHubMembership(source: HubMembership, ttlMs = DEFAULT_MEMBERSHIP_TTL_MS, now: () => number = Date.now): CachedHubMembership {
  interface Entry {
    at: number;
    value: Promise<HubSubtree | undefined>;
  }
  const entries = new Map<string, Entry>();
  /** The last settled read per hub, kept across refreshes for peek(). */
  const settled = new Map<string, HubSubtree | undefined>();
  const lookup = (hubId: string): Promise<HubSubtree | undefined> => {
    const cached = entries.get(hubId);
    if (cached && now() - cached.at < ttlMs) return cached.value;
    // A source that throws (a SQLite store already closed while the server stops) is a failed
    // read like a rejected one: thrown here, it escaped Aedes' callback and took the process down.
    const value = new Promise<HubSubtree | undefined>((resolve) => resolve(source.subtreeOf(hubId)));
    const entry: Entry = { at: now(), value };
    entries.set(hubId, entry);
    value.then(
      (subtree) => {
        if (entries.get(hubId) === entry) settled.set(hubId, subtree);
      },
      () => {
        if (entries.get(hubId) === entry) entries.delete(hubId);
      },
    );
    return value;
  };
  return {
    subtreeOf: lookup,
    fresh(hubId) {
      const cached = entries.get(hubId);
      if (cached && now() - cached.at >= FRESH_MS) entries.delete(hubId);
      return lookup(hubId);
    },
    peek(hubId) {
      lookup(hubId).catch(() => undefined);
      return settled.has(hubId) ? settled.get(hubId) : 'pending';
    },
    invalidate(hubId) {
      if (hubId === undefined) {
        entries.clear();
        settled.clear();
      } else {
        entries.delete(hubId);
        settled.delete(hubId);
      }
    },
  };
}
