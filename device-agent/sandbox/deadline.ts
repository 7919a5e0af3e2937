/**
 * The CPU budget of a module that runs on the agent's own thread. The metering rewriter
 * (metering/) puts a checkpoint at every function entry and loop header that spends fuel in
 * proportion to the instructions it guards; when the fuel runs out the module calls `tick`,
 * which grants more or, once the armed deadline has passed, throws. The throw unwinds the module
 * out of the agent's thread, so a runaway batch costs its budget plus at most one fuel grant.
 */
import { SandboxFault } from './types.js';

/**
 * Instruction weights between two looks at the clock: ~50 µs of typical code and still ~10 ms
 * if every instruction missed the cache, so a 100 ms budget ends within a few percent of it
 * while a clock read per 100,000 instructions costs nothing measurable.
 */
export const FUEL_PER_GRANT = 100_000;

export class DeadlineClock {
  private deadline = Number.POSITIVE_INFINITY;
  private armedAt = 0;
  private budgetMs = 0;
  private what = '';

  /** From now on `tick` fails once `budgetMs` have passed; `what` names the work in the fault. */
  arm(budgetMs: number, what: string): void {
    this.armedAt = performance.now();
    this.deadline = this.armedAt + budgetMs;
    this.budgetMs = budgetMs;
    this.what = what;
  }

  /** Between batches the module does not run; a stray call finds no deadline. */
  disarm(): void {
    this.deadline = Number.POSITIVE_INFINITY;
  }

  /** The module's `wasmfleet_meter.tick` import: more fuel, or the fault that stops it. */
  readonly tick = (): number => {
    const now = performance.now();
    if (now > this.deadline) {
      throw new SandboxFault('timeout', `${this.what} exceeded its CPU budget of ${this.budgetMs} ms; stopped after ${(now - this.armedAt).toFixed(1)} ms`);
    }
    return FUEL_PER_GRANT;
  };
}
