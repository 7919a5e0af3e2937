/**
 * The last applied desired state and its revision, in `stateDir/desired.json`. It is what the
 * agent resumes from when it restarts without a broker, and its revision is the floor below
 * which a desired state is refused as stale, so rollback protection survives a restart
 * [WF-P-DS-1]. Owns this one file; what to apply is the reconciler's business.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import { isoTime } from '../../common/iso-time.js';
import type { Logger } from '../../common/logger.js';
import { schemaProblems } from '../../common/validate.js';
import { DesiredStateSchema, SignedDesiredStateSchema, type DesiredState } from '../../protocol/index.js';
import { agentErrors } from '../errors.js';
import { QueuedSave } from './queued-save.js';

export const DESIRED_FILE = 'desired.json';

export interface PersistedDesired {
  /** The applied revision; kept even when the desired state was cleared (null). */
  readonly revision: number;
  readonly desired: DesiredState | null;
}

export class DesiredStore {
  readonly path: string;
  private readonly saves: QueuedSave;

  constructor(
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.path = join(stateDir, DESIRED_FILE);
    this.saves = new QueuedSave(this.path, logger);
  }

  /** The persisted state, or undefined when there is none or it cannot be trusted (logged). */
  load(deviceId: string): PersistedDesired | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.refuse(reasonOf(error));
      return undefined;
    }
    let document: { revision?: unknown; desired?: unknown };
    try {
      document = JSON.parse(text) as typeof document;
    } catch (error) {
      this.refuse(`not JSON: ${reasonOf(error)}`);
      return undefined;
    }
    const { revision, desired } = document ?? {};
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
      this.refuse('revision must be a non-negative integer');
      return undefined;
    }
    if (desired === null) return { revision, desired: null };
    // The signed form is what the agent verified and saves; the plain one is from older agents.
    const signed = typeof desired === 'object' && desired !== null && 'signatures' in desired;
    const problems = schemaProblems(signed ? SignedDesiredStateSchema : DesiredStateSchema, desired);
    if (problems.length > 0) {
      this.refuse(`desired state invalid at '${problems[0]!.field}': ${problems[0]!.message}`);
      return undefined;
    }
    const state = desired as DesiredState;
    if (state.deviceId !== deviceId) {
      // A state directory copied from another device must not make this one run its modules.
      this.refuse(`it belongs to device '${state.deviceId}'`);
      return undefined;
    }
    if (state.revision !== revision) {
      this.refuse(`revision ${revision} differs from the desired state's ${state.revision}`);
      return undefined;
    }
    return { revision, desired: state };
  }

  /** Queues an atomic save; never rejects: a failure is logged and counted, the agent goes on. */
  save(persisted: PersistedDesired): Promise<void> {
    const document = JSON.stringify({ revision: persisted.revision, desired: persisted.desired, savedAt: isoTime() }) + '\n';
    return this.saves.save(document, `desired state revision ${persisted.revision}`, 'desired state not saved; a restart without the broker resumes an older state');
  }

  get failures(): number {
    return this.saves.failures;
  }

  private refuse(reason: string): void {
    const error = agentErrors.WF_AGENT_STATE_UNREADABLE({ path: this.path, reason });
    this.logger.error('persisted desired state ignored; waiting for the broker', { code: error.code, error: error.message });
  }
}
