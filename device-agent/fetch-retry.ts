/**
 * Module fetches that are worth another try, and when. Not finding the module on its topic in
 * time, a subscription the broker refused, or the agent stopping mid-fetch say nothing about the
 * module: the link or the broker was in the way, and the same entry may well arrive on the next
 * try. The module stays `starting` with the reason [WF-P-T-3c], and the fleet's apply timeout
 * judges a device that never gets there. Bytes that arrived and did not verify (a malformed
 * envelope, a hash, size or manifest that is not the entry's, a signature the trusted keys do not
 * vouch for) are a failure the fleet must see, yet say more about the copy that came than about the
 * module: a relay may hold a stale or tampered copy, the trusted keys may not have caught up with a
 * rotation, and another delivery can be the genuine one. Those are reported failed and fetched
 * again on the same timer. Anything else (target, ABI, config, fit) is the verdict on verified
 * bytes and final for that entry.
 */
import { isWasmfleetError } from '../common/errors.js';
import { agentErrors } from './errors.js';
import { backoffCeiling, type BackoffBounds } from './reconnect-backoff.js';

/** The link or the broker was in the way. */
const RETRYABLE_FETCH_CODES: ReadonlySet<string> = new Set([
  agentErrors.WF_AGENT_MODULE_NOT_FOUND.code,
  agentErrors.WF_AGENT_MODULE_SUBSCRIBE_REFUSED.code,
  agentErrors.WF_AGENT_STOPPED.code,
]);

/** What arrived was not what the entry names, or not signed as the trusted keys require. */
const UNVERIFIED_DELIVERY_CODES: ReadonlySet<string> = new Set([
  agentErrors.WF_AGENT_MODULE_MALFORMED.code,
  agentErrors.WF_AGENT_MODULE_HASH_MISMATCH.code,
  agentErrors.WF_AGENT_MODULE_SIZE_MISMATCH.code,
  agentErrors.WF_AGENT_MODULE_MANIFEST_MISMATCH.code,
  agentErrors.WF_AGENT_MODULE_SIGNATURE.code,
]);

/**
 * `retry`: still starting, tried again; `refetch`: failed, and tried again; `final`: failed for this
 * entry. Decided on the error's code, never its words.
 */
export type FetchFailureKind = 'retry' | 'refetch' | 'final';

export function fetchFailureKind(error: unknown): FetchFailureKind {
  if (!isWasmfleetError(error)) return 'final';
  if (RETRYABLE_FETCH_CODES.has(error.code)) return 'retry';
  return UNVERIFIED_DELIVERY_CODES.has(error.code) ? 'refetch' : 'final';
}

/**
 * A fetch can fail with the link up (the module reached the hub or broker after our wait ended,
 * or a subscription was refused for a moment), and the broker may never deliver the desired
 * state again to trigger a retry; so failed fetches are also retried on a timer, from 5 s
 * widening to 5 min, as long as the revision that names them is the one applied.
 */
export const DEFAULT_FETCH_RETRY: BackoffBounds = { minMs: 5_000, maxMs: 300_000 };

/**
 * The retry timer of one reconciler. It only says a retry is due (`onDue`, then `takeDue`); the
 * reconciler runs it in its apply loop, so a retry never overlaps an apply.
 */
export class FetchRetryTimer {
  private timer: NodeJS.Timeout | undefined;
  /** Timed retries since the last success or new revision. */
  private tries = 0;
  /** The timer fired and the retry has not been taken yet. */
  private due = false;

  constructor(
    private readonly bounds: BackoffBounds,
    private readonly onDue: () => void,
  ) {}

  /** Arms the timer while a fetch waits for its retry; disarms it and forgets the count otherwise. */
  update(waiting: boolean): void {
    if (!waiting) {
      this.reset();
      return;
    }
    if (this.timer || this.due) return;
    // Half fixed, half jitter: never immediate, and a site's devices do not retry in step.
    const ceiling = backoffCeiling(this.tries++, this.bounds);
    const delay = Math.ceil(ceiling / 2 + Math.random() * (ceiling / 2));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.onDue();
    }, delay);
    // The agent's own lifetime is its link and sources; a pending retry never holds it open.
    this.timer.unref();
  }

  /** True once per firing: the caller retries now. */
  takeDue(): boolean {
    const due = this.due;
    this.due = false;
    return due;
  }

  /** A new revision's fetches get the first window again, whatever the last one's count. */
  reset(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.tries = 0;
  }
}
