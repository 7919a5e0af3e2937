/**
 * The CPU budget of a module that runs on the agent's own thread. The metering rewriter
 * (metering/) puts a checkpoint at every function entry and loop header that spends fuel in
 * proportion to the instructions it guards, and one before every instruction whose cost grows
 * with an operand (bulk memory and table operations, `memory.grow`) that spends fuel in
 * proportion to that length; when the fuel runs out the module calls `tick`, which grants more
 * or, once the budget has passed, throws. The throw unwinds the module out of the agent's thread.
 *
 * The clock starts at `arm` (one clock read per batch), so the deadline and the time the fault
 * reports are the real time since the batch began. A runaway batch is stopped after its budget
 * plus at most one grant of work (or one bulk operation, whichever is longer).
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
  private budgetMs = 0;
  private what = '';
  private grant = FUEL_PER_GRANT;
  private startedAt = 0;
  private deadline = Number.POSITIVE_INFINITY;

  /** A new piece of work (a batch, the module's start) with its own budget; `what` names it in the fault. */
  arm(budgetMs: number, what: string): void {
    this.budgetMs = budgetMs;
    this.what = what;
    this.grant = Math.min(FUEL_PER_GRANT, Math.max(1, Math.round(budgetMs * FUEL_PER_BUDGET_MS)));
    this.startedAt = performance.now();
    this.deadline = this.startedAt + budgetMs;
  }

  /** The module's `wasmfleet_meter.tick` import: more fuel, or the fault that stops it. */
  readonly tick = (): number => {
    const now = performance.now();
    if (now > this.deadline) {
      throw new SandboxFault('timeout', `${this.what} exceeded its CPU budget of ${this.budgetMs} ms; stopped after ${(now - this.startedAt).toFixed(1)} ms`);
    }
    return this.grant;
  };
}
