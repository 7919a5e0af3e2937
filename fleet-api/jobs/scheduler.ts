/**
 * Named scheduled jobs on node-cron 4. Each run is logged and its outcome kept, so the jobs are
 * listable over REST, and `run(name)` executes the same wrapper on demand (tests, operators).
 */
import { jobMetrics } from '../metrics.js';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../common/logger.js';
import { reasonOf } from '../../common/errors.js';

export interface JobDefinition {
  name: string;
  schedule: string;
  run(): unknown;
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
      logger.info('job finished', { job: name, reason, durationMs: job.last.durationMs, result });
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
      });
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
