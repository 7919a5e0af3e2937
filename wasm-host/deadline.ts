/**
 * The CPU budget of a module that runs on the agent's own thread. The metering rewriter
 * (metering/) puts a checkpoint at every function entry and loop header that spends fuel in
 * proportion to the instructions it guards; when the fuel runs out the module calls `tick`,
 * which grants more or, once the budget has passed, throws. The throw unwinds the module out of
 * the agent's thread.
 *
 * The clock starts at the first tick after `arm`, not at `arm` itself: a batch that never runs
 * out of fuel (most batches) then costs no clock read at all. What runs before that first tick
 * is the fuel left from the previous grant, at most one grant of work, so a runaway batch is
 * stopped after its budget plus at most two grants.
 */
import { SandboxFault } from './types.js';

/**
 * Instruction weights between two looks at the clock: ~50 µs of typical code and still ~10 ms
 * if every instruction missed the cache, so a 100 ms budget ends within a few percent of it
 * while a clock read per 100,000 instructions costs nothing measurable. Small budgets get
 * smaller grants (10,000 per ms), so two grants stay well under their budget.
 */
export const FUEL_PER_GRANT = 100_000;
const FUEL_PER_BUDGET_MS = 10_000;

export class DeadlineClock {
  /** arm() calls so far, and the one whose clock is running. */
  private armed = 0;
  private running = -1;
  private budgetMs = 0;
  private what = '';
  private grant = FUEL_PER_GRANT;
  private startedAt = 0;
  private deadline = Number.POSITIVE_INFINITY;

  /** A new piece of work (a batch, the module's start) with its own budget; `what` names it in the fault. */
  arm(budgetMs: number, what: string): void {
    this.armed += 1;
    this.budgetMs = budgetMs;
    this.what = what;
    this.grant = Math.min(FUEL_PER_GRANT, Math.max(1, Math.round(budgetMs * FUEL_PER_BUDGET_MS)));
  }

  /** The module's `wasmfleet_meter.tick` import: more fuel, or the fault that stops it. */
  readonly tick = (): number => {
    const now = performance.now();
    if (this.running !== this.armed) {
      this.running = this.armed;
      this.startedAt = now;
      this.deadline = now + this.budgetMs;
    } else if (now > this.deadline) {
      throw new SandboxFault('timeout', `${this.what} exceeded its CPU budget of ${this.budgetMs} ms; stopped after ${(now - this.startedAt).toFixed(1)} ms`);
    }
    return this.grant;
  };
}
