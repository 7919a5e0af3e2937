/** The API's scheduled jobs, wired to the store with the configured schedules. */
import type { Logger } from '../../common/logger.js';
import type { FleetApiOptions } from '../config.js';
import type { Store } from '../store/index.js';
import type { RolloutEngine } from '../deployments/engine.js';
import { offlineDetection } from './offline-detection.js';
import { resultsRetention } from './results-retention.js';
import { resignDesired, type ResignResult } from './resign-desired.js';
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
        changed: (result) => (result as ReturnType<typeof offlineDetection>).markedOffline.length > 0,
      },
      {
        name: 'results-retention',
        schedule: options.jobs.resultsRetention,
        run: () => resultsRetention(store, options.retention),
        changed: (result) => anyPositive(result as ReturnType<typeof resultsRetention>),
      },
      {
        name: 'resign-desired',
        schedule: options.jobs.resignDesired,
        run: () => resignDesired(parts.link, parts.signing, options.signing),
        // A warning (the trusted-keys list needs the offline root key soon) is worth seeing too.
        changed: (result) => (result as ResignResult).resigned > 0 || (result as ResignResult).warning !== undefined,
      },
      {
        name: 'rollout-progression',
        schedule: options.jobs.rolloutProgression,
        run: () => rolloutProgression(parts.rollouts),
        changed: (result) => anyPositive(result as Awaited<ReturnType<typeof rolloutProgression>>),
      },
    ],
    { enabled: options.jobs.enabled },
    logger.child({ component: 'fleet-api-jobs' }),
  );
}

/** True when any count in a job's summary is above zero. */
function anyPositive(summary: Readonly<Record<string, number>>): boolean {
  return Object.values(summary).some((count) => count > 0);
}
