/** The API's scheduled jobs, wired to the store with the configured schedules. */
import type { Logger } from '../../common/logger.js';
import type { FleetApiOptions } from '../config.js';
import type { Store } from '../store/index.js';
import type { RolloutEngine } from '../deployments/engine.js';
import { offlineDetection } from './offline-detection.js';
import { resultsRetention } from './results-retention.js';
import { resignDesired } from './resign-desired.js';
import { rolloutProgression } from './rollout-progression.js';
import type { MqttLink } from '../mqtt-link.js';
import type { FleetSigning } from '../signing/fleet-signing.js';
import { createScheduler, type JobScheduler } from './scheduler.js';
import type { FleetEvents } from '../events/index.js';

export type { JobScheduler, JobView, JobRun } from './scheduler.js';

export function createFleetJobs(store: Store, options: FleetApiOptions, logger: Logger, parts: { link: MqttLink; signing: FleetSigning; rollouts: RolloutEngine; events?: Pick<FleetEvents, 'timedOut'> }): JobScheduler {
  return createScheduler(
    [
      {
        name: 'offline-detection',
        schedule: options.jobs.offlineDetection,
        run: () => {
          const result = offlineDetection(store);
          parts.events?.timedOut(result.markedOffline);
          return result;
        },
      },
      { name: 'results-retention', schedule: options.jobs.resultsRetention, run: () => resultsRetention(store, options.retention) },
      { name: 'resign-desired', schedule: options.jobs.resignDesired, run: () => resignDesired(parts.link, parts.signing, options.signing) },
      { name: 'rollout-progression', schedule: options.jobs.rolloutProgression, run: () => rolloutProgression(parts.rollouts) },
    ],
    { enabled: options.jobs.enabled },
    logger.child({ component: 'fleet-api-jobs' }),
  );
}
