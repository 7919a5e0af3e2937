/**
 * The newest trusted-keys list this agent accepted, in `stateDir/trust.json`, so a key rotation
 * or revocation learnt from the broker survives a restart and a replayed older list (or the one
 * in the agent's config file) cannot bring a revoked key back [WF-P-SIG-2]. What is read is
 * checked again against the root key by the caller: the file is a cache, not an authority.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { schemaProblems } from '../../common/validate.js';
import { TrustedKeysSchema, type TrustedKeys } from '../../protocol/index.js';
import { agentErrors } from '../errors.js';
import { QueuedSave } from './queued-save.js';

export const TRUST_FILE = 'trust.json';

export class TrustStore {
  readonly path: string;
  private readonly saves: QueuedSave;

  constructor(
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.path = join(stateDir, TRUST_FILE);
    this.saves = new QueuedSave(this.path, logger);
  }

  /** The stored list if it is one (schema only); undefined when absent or unreadable (logged). */
  load(): TrustedKeys | undefined {
    let document: unknown;
    try {
      document = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.refuse(reasonOf(error));
      return undefined;
    }
    const problems = schemaProblems(TrustedKeysSchema, document);
    if (problems.length > 0) {
      this.refuse(`invalid at '${problems[0]!.field}': ${problems[0]!.message}`);
      return undefined;
    }
    return document as TrustedKeys;
  }

  /** Queues an atomic save; never rejects (a failure is logged and counted). */
  save(list: TrustedKeys): Promise<void> {
    const text = JSON.stringify(list) + '\n';
    return this.saves.save(text, `trusted-keys list version ${list.version}`, 'trusted-keys list not saved; a restart falls back to the previous one');
  }

  get failures(): number {
    return this.saves.failures;
  }

  private refuse(reason: string): void {
    const error = agentErrors.WF_AGENT_STATE_UNREADABLE({ path: this.path, reason });
    this.logger.error('stored trusted-keys list ignored', { code: error.code, error: error.message });
  }
}
