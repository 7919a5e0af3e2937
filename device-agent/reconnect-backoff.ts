/**
 * Reconnect delays: exponential backoff with full jitter. The n-th consecutive failed attempt
 * waits a uniformly random time in [0, min(maxMs, minMs · 2^n)), so a thousand agents that lost
 * the same broker spread their reconnects over the whole window instead of arriving together,
 * and the window widens while the broker stays down (docs/operations.md §Reconnect).
 */
export interface BackoffBounds {
  /** The first window; also the base that doubles. */
  readonly minMs: number;
  /** The widest window. */
  readonly maxMs: number;
}

/** Exponent past which the window is pinned at maxMs anyway; keeps 2^n finite. */
const MAX_EXPONENT = 30;

export function backoffCeiling(attempt: number, bounds: BackoffBounds): number {
  return Math.min(bounds.maxMs, bounds.minMs * 2 ** Math.min(attempt, MAX_EXPONENT));
}

/** The delay before attempt `attempt` (0 = the first after a loss); at least 1 ms. */
export function fullJitterDelay(attempt: number, bounds: BackoffBounds, random: () => number = Math.random): number {
  return Math.max(1, Math.floor(random() * backoffCeiling(attempt, bounds)));
}

export class ReconnectBackoff {
  private attempt = 0;

  constructor(
    private readonly bounds: BackoffBounds,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay for the next attempt; each call widens the window until maxMs. */
  next(): number {
    return fullJitterDelay(this.attempt++, this.bounds, this.random);
  }

  /** A connection succeeded: the next loss starts from the narrowest window again. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
