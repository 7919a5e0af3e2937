/**
 * Keeps what hubs depend on current after a change (HUB-CONTRACT): the retained site document of
 * every hub whose subtree the change touches (the hub and its ancestors), and, in a cluster, the
 * hub credentials and membership sets in the Redis replica. Called after the SQLite change is
 * committed, before the REST call answers.
 */
import type { Logger } from '../../common/logger.js';
import { reasonOf } from '../../common/errors.js';
import type { CredentialReplica } from '../credential-replica.js';
import type { MqttLink } from '../mqtt-link.js';
import type { Store } from '../store/index.js';

export interface HubChanges {
  /**
   * The subtrees of these hubs changed (null entries are ignored: a device behind no hub). Each
   * hub and its ancestors get a new site document; a hub that no longer exists has its cleared.
   */
  changed(...hubIds: Array<string | null | undefined>): Promise<void>;
}

export function createHubChanges(parts: { store: Pick<Store, 'hubAncestry'>; link: Pick<MqttLink, 'publishHubSite'>; credentials?: Pick<CredentialReplica, 'putHubs'>; logger: Logger }): HubChanges {
  const { store, link, credentials, logger } = parts;
  return {
    async changed(...hubIds) {
      const affected = new Set<string>();
      for (const hubId of hubIds) {
        if (!hubId) continue;
        affected.add(hubId);
        for (const ancestor of store.hubAncestry(hubId)) affected.add(ancestor);
      }
      if (affected.size === 0) return;
      await credentials?.putHubs();
      for (const hubId of affected) {
        // A failed publish is re-derived on the link's next connect (retained-publisher.ts).
        await link.publishHubSite(hubId).catch((error: unknown) => logger.warn('hub site not published', { hubId, reason: reasonOf(error) }));
      }
    },
  };
}
