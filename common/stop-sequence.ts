/**
 * A stop as an explicit list of named steps, each with its own time budget, run in order. A step
 * that outlives its budget is abandoned (JavaScript cannot cancel it; its AbortSignal tells it to
 * give up) and the next one starts, so the whole stop takes at most the sum of the budgets,
 * whatever a peer, a disk or a module does. What was abandoned is named in the outcome and the log.
 */
import { reasonOf } from './errors.js';
import type { Logger } from './logger.js';

export interface StopStep {
  readonly name: string;
  /** The longest this step may take; past it the sequence moves on. */
  readonly maxMs: number;
  run(signal: AbortSignal): unknown;
}

export interface StopOutcome {
  readonly elapsedMs: number;
  /** Steps abandoned at their budget. */
  readonly overran: readonly string[];
  /** Steps that threw or rejected. */
  readonly failed: readonly string[];
}

/** The bound a sequence guarantees: the sum of its steps' budgets. */
export function stopBound(steps: readonly StopStep[]): number {
  return steps.reduce((sum, step) => sum + step.maxMs, 0);
}

/** Resolves true once `work` settles (either way), false if `ms` pass first; never rejects. */
export async function settledWithin(work: PromiseLike<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  const settled = Promise.resolve(work).then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runStopSequence(steps: readonly StopStep[], logger: Logger): Promise<StopOutcome> {
  const started = Date.now();
  const overran: string[] = [];
  const failed: string[] = [];
  for (const step of steps) {
    const controller = new AbortController();
    let failure: unknown;
    const work = (async () => step.run(controller.signal))().catch((error: unknown) => {
      failure = error;
    });
    const done = await settledWithin(work, step.maxMs);
    controller.abort();
    if (!done) {
      overran.push(step.name);
      logger.warn('stop step abandoned at its time budget', { step: step.name, maxMs: step.maxMs });
    } else if (failure !== undefined) {
      failed.push(step.name);
      logger.warn('stop step failed', { step: step.name, error: reasonOf(failure) });
    }
  }
  return { elapsedMs: Date.now() - started, overran, failed };
}

/** Sleeps until `ms` pass or `signal` aborts, whichever is first. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
