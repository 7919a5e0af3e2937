/** The API's scheduled jobs, wired to the store with the configured schedules. */
import type { Logger } from '../../common/logger.js';
import type { FleetApiOptions } from '../config.js';
import type { Store } from '../store/index.js';
import { offlineDetection } from './offline-detection.js';
import { resultsRetention } from './results-retention.js';
import { createScheduler, type JobScheduler } from './scheduler.js';

export type { JobScheduler, JobView, JobRun } from './scheduler.js';
export const JOB_NAMES = ['offline-detection', 'results-retention'] as const;

export function createFleetJobs(store: Store, options: FleetApiOptions, logger: Logger): JobScheduler {
  return createScheduler(
    [
      { name: 'offline-detection', schedule: options.jobs.offlineDetection, run: () => offlineDetection(store) },
      { name: 'results-retention', schedule: options.jobs.resultsRetention, run: () => resultsRetention(store, options.retention) },
    ],
    { enabled: options.jobs.enabled },
    logger.child({ component: 'fleet-api-jobs' }),
  );
}
