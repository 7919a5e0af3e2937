/**
 * The checks a desired state passes before the reconciler sees it, because the broker is not
 * trusted [WF-P-SIG-4]: a trusted-keys list it carries is offered to the keeper first (so a
 * rotated fleet key arrives with the first state it signs), then a fleet key must have signed it,
 * and it must not have expired (freeze: a withheld update cannot be replaced by an old state
 * forever). The revision floor (rollback) is the reconciler's, which persists it.
 */
import type { WasmfleetError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { checkDesiredSigners, type SignedDesiredState } from '../protocol/index.js';
import { agentErrors } from './errors.js';
import type { TrustKeeper } from './trust-keeper.js';

export type DesiredCheck = { ok: true } | { ok: false; error: WasmfleetError };

export function verifyDesired(state: SignedDesiredState, keeper: TrustKeeper, logger: Logger, now = Date.now()): DesiredCheck {
  const { revision } = state;
  if (state.trust) {
    const offered = keeper.offer(state.trust, now);
    if (typeof offered === 'object') {
      return { ok: false, error: agentErrors.WF_AGENT_TRUST_REFUSED({ version: state.trust.version, reason: offered.refused }) };
    }
    if (offered === 'adopted') logger.info('trusted keys updated from the desired state', { revision, trustVersion: keeper.version });
  }
  const keys = keeper.keys(now);
  if (!keys.ok) return { ok: false, error: agentErrors.WF_AGENT_DESIRED_SIGNATURE({ revision, reason: keys.reason }) };
  const signed = checkDesiredSigners(state, keys.keys);
  if (!signed.ok) return { ok: false, error: agentErrors.WF_AGENT_DESIRED_SIGNATURE({ revision, reason: `not signed by a trusted fleet key: ${signed.reason}` }) };
  if (Date.parse(state.expiresAt) <= now) return { ok: false, error: agentErrors.WF_AGENT_DESIRED_EXPIRED({ revision, expiresAt: state.expiresAt }) };
  return { ok: true };
}
