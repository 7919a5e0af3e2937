/**
 * Named scheduled jobs on node-cron 4. Each run's outcome is kept, so the jobs are listable over
 * REST, and `run(name)` executes the same wrapper on demand (tests, operators). A scheduled run is
 * logged at info only when it changed something (its definition says what that means), otherwise
 * at debug: a job that ticks every second must not fill the log.
 */
import { jobMetrics } from '../metrics.js';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../common/logger.js';
import { reasonOf } from '../../common/errors.js';
import { cronLogger, reportMissedExecutions } from './cron-log.js';

export interface JobDefinition {
  name: string;
  schedule: string;
  run(): unknown;
  /** Whether a run's result is a change worth an info line; without it, every run is. */
  changed?(result: unknown): boolean;
}

export interface JobRun {
  at: string;
  durationMs: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface JobView {
  name: string;
  schedule: string;
  enabled: boolean;
  running: boolean;
  nextRun: string | null;
  lastRun: JobRun | null;
}

export interface JobScheduler {
  list(): JobView[];
  /** Runs one job now; rejects with the job's error so callers see the failure. */
  run(name: string): Promise<unknown>;
  stop(): Promise<void>;
}

export function createScheduler(definitions: readonly JobDefinition[], options: { enabled: boolean }, logger: Logger): JobScheduler {
  const jobs = new Map<string, { definition: JobDefinition; task?: ScheduledTask; last: JobRun | null; running: boolean }>();

  const execute = async (name: string, reason: 'scheduled' | 'invoked'): Promise<unknown> => {
    const job = jobs.get(name);
    if (!job) throw new RangeError(`runJob(name): no job named '${name}'; known: ${[...jobs.keys()].join(', ')}`);
    const started = Date.now();
    job.running = true;
    try {
      const result = await job.definition.run();
      job.last = { at: new Date(started).toISOString(), durationMs: Date.now() - started, ok: true, result };
      const changed = job.definition.changed?.(result) ?? true;
      const fields = { job: name, reason, durationMs: job.last.durationMs, result };
      if (reason === 'invoked' || changed) logger.info('job finished', fields);
      else logger.debug('job finished', fields);
      return result;
    } catch (error) {
      job.last = { at: new Date(started).toISOString(), durationMs: Date.now() - started, ok: false, error: reasonOf(error) };
      logger.error('job failed', { job: name, reason, error });
      throw error;
    } finally {
      job.running = false;
      if (job.last) jobMetrics.ran(name, job.last.durationMs / 1000, job.last.ok);
    }
  };

  for (const definition of definitions) {
    if (jobs.has(definition.name)) throw new RangeError(`job name '${definition.name}' is used twice`);
    const entry: { definition: JobDefinition; task?: ScheduledTask; last: JobRun | null; running: boolean } = { definition, last: null, running: false };
    jobs.set(definition.name, entry);
    if (options.enabled) {
      // The cron callback must not reject: a failed run is already logged and recorded.
      entry.task = cron.schedule(definition.schedule, () => execute(definition.name, 'scheduled').catch(() => undefined), {
        name: `wasmfleet-${definition.name}`,
        noOverlap: true,
        logger: cronLogger(logger.child({ job: definition.name })),
      });
      reportMissedExecutions(entry.task, definition.name, logger);
    }
  }

  return {
    list: () =>
      [...jobs.values()].map(({ definition, task, last, running }) => ({
        name: definition.name,
        schedule: definition.schedule,
        enabled: task !== undefined,
        running,
        nextRun: task?.getNextRun()?.toISOString() ?? null,
        lastRun: last,
      })),
    run: (name) => execute(name, 'invoked'),
    async stop() {
      for (const job of jobs.values()) {
        await job.task?.destroy();
        job.task = undefined;
      }
    },
  };
}
