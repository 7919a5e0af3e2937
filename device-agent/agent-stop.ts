/**
 * The agent's stop, as an explicit sequence with a budget per step (docs/operations.md §Stopping).
 * Its bound, the sum of the budgets, sits inside the process bound of common/signals.ts, so
 * `wasmfleet agent` exits within PROCESS_STOP_BOUND_MS of SIGTERM whatever the broker, the disk
 * or a module does. Results not acked by then stay in the spool on disk and the next start sends
 * them; a step that overruns is named in the `stopped` log line.
 */
import type { MqttClient } from 'mqtt';
import { reasonOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { settledWithin, type StopStep } from '../common/stop-sequence.js';
import { endLink } from './link-end.js';
import type { ResultPath } from './result-path.js';
import type { StateReporter } from './reporter.js';
import type { AgentDisk } from './state/agent-disk.js';

export interface StoppableParts {
  readonly client: MqttClient;
  readonly modules: { stop(): Promise<void> };
  readonly sources: { stop(): void };
  readonly disk: AgentDisk;
  readonly results: ResultPath;
  readonly reporter: StateReporter;
  readonly logger: Logger;
}

/** Per-step budgets in ms; their sum (4.5 s) leaves the process half a second to exit (5 s bound). */
export const AGENT_STOP_BUDGET_MS = {
  /** Modules stop: worker threads are terminated, metered ones end their current batch. */
  modules: 1000,
  sources: 100,
  /** The last applied desired state reaches desired.json. */
  desiredState: 400,
  /** A short wait for the API's acks, so a clean stop leaves little to resend (2 s, as before stops were budgeted). */
  acks: 2000,
  /** The spool is fsync'd and its loss ledger saved. */
  spool: 600,
  /** The retained `shutdown` status and a DISCONNECT, or just a closed socket. */
  link: 400,
} as const;

/** How long the status publish may wait for its PUBACK; endLink takes the rest of the budget. */
const SHUTDOWN_STATUS_MS = 150;

export function agentStopSteps(parts: StoppableParts): StopStep[] {
  const budget = AGENT_STOP_BUDGET_MS;
  return [
    { name: 'modules', maxMs: budget.modules, run: () => parts.modules.stop() },
    { name: 'sources', maxMs: budget.sources, run: () => parts.sources.stop() },
    { name: 'desired-state', maxMs: budget.desiredState, run: () => parts.disk.idle() },
    { name: 'acks', maxMs: budget.acks, run: (signal) => parts.results.awaitAcks(signal) },
    { name: 'spool', maxMs: budget.spool, run: () => parts.results.close() },
    {
      name: 'link',
      maxMs: budget.link,
      run: async () => {
        if (parts.client.connected) {
          let failure: string | undefined = `no PUBACK within ${SHUTDOWN_STATUS_MS} ms`;
          const published = parts.reporter.publishStatus(false, 'shutdown').then(
            () => (failure = undefined),
            (error: unknown) => (failure = reasonOf(error)),
          );
          await settledWithin(published, SHUTDOWN_STATUS_MS);
          if (failure !== undefined) parts.logger.warn('shutdown status not acknowledged; the broker may announce connection-lost', { reason: failure });
        }
        await endLink(parts.client);
      },
    },
  ];
}
