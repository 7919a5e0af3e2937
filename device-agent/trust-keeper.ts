/**
 * The keys this agent trusts [WF-P-SIG-2]: the root public key from its config, and the newest
 * root-signed trusted-keys list it has seen (config file, `stateDir/trust.json`, or one carried
 * by a desired state). A list is adopted only if the root signed it, it has not expired, and its
 * version is above the current one; so neither a forged list nor a replayed older one (which
 * could bring a revoked key back) is ever used.
 */
import type { Logger } from '../common/logger.js';
import { trustedKeysExpiry, trustedKeysSignatureProblem, type AgentTrust, type TrustedKey, type TrustedKeys } from '../protocol/index.js';
import { agentErrors } from './errors.js';
import type { TrustStore } from './state/trust-store.js';

export type KeysNow = { ok: true; keys: readonly TrustedKey[] } | { ok: false; reason: string };

export type Offered = 'adopted' | 'not-newer' | { refused: string };

export class TrustKeeper {
  private current: TrustedKeys;
  /**
   * The root-signature check of the list in force, done once per list: keys() runs for every
   * desired state and module the agent verifies, and checking the root's signature each time
   * was the largest single share of an agent's CPU in a rollout (a canonical-JSON encoding and an
   * Ed25519 verification each). Keyed by the list object, which is replaced, never changed.
   */
  private checked: { list: TrustedKeys; problem: string | undefined } | undefined;

  constructor(
    private readonly trust: AgentTrust,
    private readonly store: TrustStore | undefined,
    private readonly logger: Logger,
    now = Date.now(),
  ) {
    this.current = trust.keys;
    // The check made here is the one keys() uses: verifying the same list again at the first
    // desired state was one Ed25519 verification per device in a rollout for nothing.
    const signature = trustedKeysSignatureProblem(trust.keys, trust.root);
    this.checked = { list: trust.keys, problem: signature };
    const configured = signature ?? trustedKeysExpiry(trust.keys, now);
    // An expired list in the config is still the floor: a newer one may come from the broker.
    if (configured !== undefined && !configured.includes('expired')) {
      this.logger.error('trusted-keys list in the agent config refused', { reason: configured });
    }
    const stored = store?.load();
    if (stored && stored.version > this.current.version) {
      // Only the signature: nothing has expired for the floor, expiry is checked on use, and a
      // stored list that expired still outranks the config's older one.
      const problem = trustedKeysSignatureProblem(stored, trust.root);
      if (problem === undefined) {
        this.current = stored;
        this.checked = { list: stored, problem: undefined };
      } else this.logger.error('stored trusted-keys list refused', { reason: problem });
    }
  }

  get version(): number {
    return this.current.version;
  }

  get list(): TrustedKeys {
    return this.current;
  }

  /** The keys in force now, or why there are none (list expired or never validly signed). */
  keys(now = Date.now()): KeysNow {
    if (this.checked?.list !== this.current) this.checked = { list: this.current, problem: trustedKeysSignatureProblem(this.current, this.trust.root) };
    const problem = this.checked.problem ?? trustedKeysExpiry(this.current, now);
    if (problem !== undefined) return { ok: false, reason: agentErrors.WF_AGENT_TRUST_UNUSABLE({ reason: problem }).message };
    return { ok: true, keys: this.current.keys };
  }

  /** Offers a list from the broker; adopts and persists it when it is newer and root-signed. */
  offer(list: TrustedKeys, now = Date.now()): Offered {
    if (list.version <= this.current.version) return 'not-newer';
    const signature = trustedKeysSignatureProblem(list, this.trust.root);
    const problem = signature ?? trustedKeysExpiry(list, now);
    if (problem !== undefined) return { refused: problem };
    this.logger.info('trusted-keys list adopted', { from: this.current.version, to: list.version, keys: list.keys.map((key) => `${key.role}:${key.name}`) });
    this.current = list;
    this.checked = { list, problem: undefined };
    void this.store?.save(list);
    return 'adopted';
  }
}
