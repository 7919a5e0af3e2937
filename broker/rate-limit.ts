/**
 * Token buckets for the publish and connection rate limits (docs/broker.md §Rate limits).
 * A bucket holds up to `burst` tokens and refills at `ratePerSec`; a refused attempt takes no
 * token, so a client that backs off gets through again at the configured rate. `ratePerSec` 0
 * means "no limit". The clock is injectable so the arithmetic is testable without sleeping.
 */
export type Clock = () => number;

export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: Clock;
  #tokens: number;
  #at: number;

  constructor(ratePerSec: number, burst: number, now: Clock = Date.now) {
    this.#ratePerMs = ratePerSec / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#ratePerMs);
    this.#at = now;
  }

  /** True when a token is available (without taking it). */
  available(): boolean {
    if (this.#ratePerMs === 0) return true;
    this.#refill();
    return this.#tokens >= 1;
  }

  /** Takes a token if one is available; false means over the limit. */
  take(): boolean {
    if (!this.available()) return false;
    if (this.#ratePerMs !== 0) this.#tokens -= 1;
    return true;
  }

  /** A full bucket carries no state worth keeping; keyed buckets drop it. */
  full(): boolean {
    if (this.#ratePerMs === 0) return true;
    this.#refill();
    return this.#tokens >= this.#burst;
  }
}

const SWEEP_INTERVAL_MS = 10_000;

/**
 * New TCP connections: one bucket per remote address and one for the whole broker. A connection
 * is admitted only if both have a token, and then takes one from each, so a single address over
 * its own limit cannot use up the global allowance of everyone else.
 */
export class ConnectionRateLimiter {
  readonly #perAddress = new Map<string, TokenBucket>();
  readonly #global: TokenBucket;
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: Clock;
  #sweptAt: number;

  constructor(
    limits: { perAddressPerSec: number; perAddressBurst: number; globalPerSec: number; globalBurst: number },
    now: Clock = Date.now,
  ) {
    this.#rate = limits.perAddressPerSec;
    this.#burst = limits.perAddressBurst;
    this.#global = new TokenBucket(limits.globalPerSec, limits.globalBurst, now);
    this.#now = now;
    this.#sweptAt = now();
  }

  admit(address: string | undefined): boolean {
    this.#sweep();
    const key = address ?? 'unknown';
    let bucket = this.#perAddress.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.#rate, this.#burst, this.#now);
      this.#perAddress.set(key, bucket);
    }
    if (!bucket.available() || !this.#global.available()) return false;
    bucket.take();
    this.#global.take();
    return true;
  }

  /** Forgets addresses whose bucket has refilled, so memory follows recent connecters only. */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#sweptAt < SWEEP_INTERVAL_MS) return;
    this.#sweptAt = now;
    for (const [key, bucket] of this.#perAddress) if (bucket.full()) this.#perAddress.delete(key);
  }
}
