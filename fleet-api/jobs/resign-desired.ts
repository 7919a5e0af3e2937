/**
 * Keeps signatures fresh (docs/security.md §Freeze): agents refuse a desired state past its
 * `expiresAt`, so this re-publishes, freshly signed, every desired state that would expire within
 * the margin. It also re-signs the trusted-keys list before it expires when the root key is on
 * this server; when the root key is offline it says so in its result, which GET /api/v1/jobs shows.
 */
import type { MqttLink } from '../mqtt-link.js';
import type { FleetSigning } from '../signing/fleet-signing.js';

export interface ResignLimits {
  readonly resignMarginS: number;
  readonly trustedKeysMarginS: number;
}

export interface ResignResult {
  due: number;
  resigned: number;
  trustedKeysVersion: number;
  trustedKeysExpiresAt: string;
  /** Set when the trusted-keys list needs the (offline) root key soon. */
  warning?: string;
}

export async function resignDesired(link: MqttLink, signing: FleetSigning, limits: ResignLimits, now: () => number = Date.now): Promise<ResignResult> {
  const at = now();
  let warning: string | undefined;
  let refreshed = false;
  if (Date.parse(signing.trustedKeys().expiresAt) - at <= limits.trustedKeysMarginS * 1000) {
    if (signing.rootOnline()) refreshed = signing.refreshTrustedKeys(limits.trustedKeysMarginS * 1000, at) !== undefined;
    else warning = `trusted-keys list version ${signing.trustedKeys().version} expires at ${signing.trustedKeys().expiresAt} and the root key is offline: sign a new one (wasmfleet keys sign-trusted)`;
  }
  // A new list must reach every agent, so every desired state goes out again with it.
  const outcome = refreshed
    ? { due: -1, published: await link.republishDesired() }
    : await link.resignExpiring(at + limits.resignMarginS * 1000);
  const list = signing.trustedKeys();
  return {
    due: outcome.due < 0 ? outcome.published : outcome.due,
    resigned: outcome.published,
    trustedKeysVersion: list.version,
    trustedKeysExpiresAt: list.expiresAt,
    ...(warning ? { warning } : {}),
  };
}
