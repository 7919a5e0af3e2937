/**
 * What stands between `wasmfleet server`'s broker and the store it shares with the API, so the
 * store can close under a broker that has stopped (start-platform.ts, docs/operations.md §Stopping).
 */
import type { CredentialVerifier } from '../broker/index.js';
import { settledWithin } from '../common/stop-sequence.js';

/**
 * The broker's verifier, guarding the store it reads (directly, or not at all with Redis). Stopping
 * the broker first is not enough on its own: Aedes still runs the hooks of packets it read before
 * it closed (it authenticates a CONNECT after a setImmediate, and only then looks whether it has
 * closed meanwhile). So once the store starts closing, a new credential check answers nothing
 * (the broker is closed: the answer would go nowhere) and a hub's subtree lookup fails, which the
 * broker treats as a refusal; the checks already under way are waited for, since a check reads
 * the store when it starts and may write it when it ends (a rotated secret's first use retires
 * the old one).
 */
export function guardStore(verifier: CredentialVerifier): { verifier: CredentialVerifier; closing(maxWaitMs: number): Promise<void> } {
  const underWay = new Set<Promise<unknown>>();
  let closing = false;
  const membership = verifier.membership;
  return {
    verifier: {
      ...(membership
        ? {
            membership: {
              subtreeOf(hubId) {
                if (closing) throw new Error('the server is stopping: its store is closed to the broker');
                return membership.subtreeOf(hubId);
              },
            },
          }
        : {}),
      verify(username, password) {
        if (closing) return new Promise<never>(() => undefined);
        const check = verifier.verify(username, password);
        underWay.add(check);
        const forget = () => underWay.delete(check);
        check.then(forget, forget);
        return check;
      },
    },
    async closing(maxWaitMs) {
      closing = true;
      await settledWithin(Promise.allSettled([...underWay]), maxWaitMs);
    },
  };
}
