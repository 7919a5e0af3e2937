/**
 * node-cron 4 prints its own warnings as coloured text on the console (its default logger), which
 * breaks a JSON-lines log. Each task gets our logger instead (node-cron's `logger` option), and
 * missed executions, which a starved event loop produces once per second per job, are counted
 * from its `execution:missed` event and logged once a minute per job with the count, as data.
 */
import type { Logger as CronLogger, ScheduledTask } from 'node-cron';
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

const MISSED_LOG_INTERVAL_MS = 60_000;

/** node-cron's logger interface on top of ours; its messages become `msg`, errors `error`. */
export function cronLogger(logger: Logger): CronLogger {
  const withError = (error?: Error) => (error ? { error: reasonOf(error) } : undefined);
  return {
    info: (message) => logger.debug(message),
    warn: (message) => logger.warn(message),
    error: (message, error) => (message instanceof Error ? logger.error('scheduled task failed', { error: reasonOf(message) }) : logger.error(message, withError(error))),
    debug: (message, error) => (message instanceof Error ? logger.debug('node-cron', { error: reasonOf(message) }) : logger.debug(message, withError(error))),
  };
}

/** Counts a task's missed executions and logs them at most once a minute. */
export function reportMissedExecutions(task: ScheduledTask, job: string, logger: Logger, now: () => number = Date.now): void {
  let missed = 0;
  let loggedAt = -Infinity;
  task.on('execution:missed', (context) => {
    missed += 1;
    if (now() - loggedAt < MISSED_LOG_INTERVAL_MS) return;
    loggedAt = now();
    logger.warn('scheduled runs missed: the event loop was busy', { job, missed, lastMissedAt: context.date.toISOString() });
    missed = 0;
  });
}
