/**
 * One state file's saves, run one after another (so an older document can never land on top of
 * a newer one), each atomic. A failure is logged and counted, never thrown: the agent goes on.
 */
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { agentErrors } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';

export class QueuedSave {
  private writeFailures = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /** `what` names the document in the error; `consequence` tells the operator what a failure means. */
  save(text: string, what: string, consequence: string): Promise<void> {
    this.chain = this.chain.then(() =>
      writeFileAtomic(this.path, text).catch((error: unknown) => {
        this.writeFailures += 1;
        const failure = agentErrors.WF_AGENT_STATE_WRITE_FAILED({ what, path: this.path, reason: reasonOf(error) });
        this.logger.error(consequence, { code: failure.code, error: failure.message });
      }),
    );
    return this.chain;
  }

  get failures(): number {
    return this.writeFailures;
  }
}
