/**
 * Everything the agent keeps in its state directory, opened together: the result sequence, the
 * module cache, the last applied desired state and the trusted-keys list. Commits of an applied
 * desired state are queued in order, so the next start finds what this run applied; the stop
 * sequence waits for the queue (within its budget). A write that fails is logged and counted by
 * the store that owns the file; the agent runs on.
 */
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { DesiredState } from '../../protocol/index.js';
import { ResultSeq } from '../result-seq.js';
import { DesiredStore, type PersistedDesired } from './desired-store.js';
import { ModuleStore } from './module-store.js';
import { TrustStore } from './trust-store.js';

export class AgentDisk {
  readonly resultSeq: ResultSeq;
  readonly modules: ModuleStore;
  readonly desired: DesiredStore;
  readonly trust: TrustStore;
  private committing: Promise<void> = Promise.resolve();

  constructor(
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.resultSeq = new ResultSeq(stateDir);
    // Before any module runs: its first result then takes a number without waiting for the disk.
    this.resultSeq.reserveAhead();
    this.modules = new ModuleStore(stateDir, logger);
    this.desired = new DesiredStore(stateDir, logger);
    this.trust = new TrustStore(stateDir, logger);
  }

  /** What the last run applied, if it can be trusted. */
  persisted(deviceId: string): PersistedDesired | undefined {
    return this.desired.load(deviceId);
  }

  /** Queues the save of an applied desired state (null: cleared) after the modules it names. */
  commit(revision: number, state: DesiredState | null): void {
    this.committing = this.committing.then(async () => {
      // Modules first: a desired.json on disk should only name modules that are cached.
      await this.modules.idle();
      await this.desired.save({ revision, desired: state });
      try {
        this.modules.prune(new Set(state?.modules.map((m) => m.sha256)));
      } catch (error) {
        this.logger.warn('module cache not pruned', { error: reasonOf(error) });
      }
    });
  }

  /** Resolves once every commit queued so far is on disk (or has failed, logged), and no result-number reservation is on its way. */
  async idle(): Promise<void> {
    await Promise.all([this.committing, this.resultSeq.idle()]);
  }

  get writeFailures(): number {
    return this.modules.stats().writeFailures + this.desired.failures + this.trust.failures;
  }
}
