/**
 * Callers waiting for a desired revision to be applied (`RunningAgent.whenApplied`): each resolves
 * once that revision or a later one is applied, rejects after its timeout, or when the agent stops.
 */
import { agentErrors } from './errors.js';

interface Waiter {
  readonly revision: number;
  settle(): void;
}

export class ApplyWaiters {
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  constructor(
    private readonly deviceId: string,
    private readonly appliedRevision: () => number,
  ) {}

  wait(revision: number, timeoutMs: number): Promise<void> {
    if (this.appliedRevision() >= revision) return Promise.resolve();
    if (this.closed) return Promise.reject(agentErrors.WF_AGENT_STOPPED({ deviceId: this.deviceId }));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        revision,
        settle: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          if (this.appliedRevision() >= revision) resolve();
          else reject(agentErrors.WF_AGENT_STOPPED({ deviceId: this.deviceId }));
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(agentErrors.WF_AGENT_APPLY_TIMEOUT({ revision, timeoutMs, applied: this.appliedRevision() }));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** A revision was applied: everyone waiting for it (or an earlier one) resolves. */
  applied(revision: number): void {
    for (const waiter of this.waiters) if (revision >= waiter.revision) waiter.settle();
  }

  /** The agent stops: whoever still waits is told so. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters) waiter.settle();
  }
}
