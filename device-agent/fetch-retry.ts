/**
 * Which failures to get a module's bytes are worth another try. Not finding the module on its
 * topic in time, a subscription the broker refused, or the agent stopping mid-fetch say nothing
 * about the module: the link or the broker was in the way, and the same entry may well arrive on
 * the next try. The module stays `starting` with the reason [WF-P-T-3c], and the fleet's apply
 * timeout judges a device that never gets there. Anything else (a refused envelope, hash, size,
 * manifest, signature, target or ABI) is the module's own verdict and final for that entry.
 */
import { isWasmfleetError } from '../common/errors.js';
import { agentErrors } from './errors.js';

/** Decided on the error's code, never its words. */
const RETRYABLE_FETCH_CODES: ReadonlySet<string> = new Set([
  agentErrors.WF_AGENT_MODULE_NOT_FOUND.code,
  agentErrors.WF_AGENT_MODULE_SUBSCRIBE_REFUSED.code,
  agentErrors.WF_AGENT_STOPPED.code,
]);

export function isRetryableFetchFailure(error: unknown): boolean {
  return isWasmfleetError(error) && RETRYABLE_FETCH_CODES.has(error.code);
}
