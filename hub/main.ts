/**
 * `wasmfleet hub --config FILE`: loads the config (refused with the field named), starts the hub
 * with its result custody, and stops it on SIGINT/SIGTERM: the hub's own stop is bounded at
 * STOP_BOUND_MS (3.2 s) and the process ends within PROCESS_STOP_BOUND_MS (5 s) whatever the uplink
 * or the disk do. Logs are JSON lines on stderr.
 */
import { createLogger, type Logger } from '../common/logger.js';
import { exitWhenStopped, onShutdownSignal } from '../common/signals.js';
import { loadHubConfig } from './config.js';
import { openResultCustody } from './custody/index.js';
import { startHub, type RunningHub } from './hub.js';

export interface RunHubOptions {
  readonly logger?: Logger;
  readonly signals?: readonly NodeJS.Signals[];
}

/** Resolves once the hub runs; it then stays up until one of the signals arrives. */
export async function runHubFromConfigFile(path: string, options: RunHubOptions = {}): Promise<RunningHub> {
  const config = loadHubConfig(path);
  const logger = options.logger ?? createLogger({ level: config.logLevel ?? 'info', component: 'hub' });
  const hub = await startHub(config, { logger, openCustody: openResultCustody });
  const removeListeners = onShutdownSignal((signal) => {
    logger.info('signal received; stopping', { hubId: config.hubId, signal });
    exitWhenStopped(hub.close(), { logger });
  }, options.signals);
  return {
    ...hub,
    get uplinkConnected() {
      return hub.uplinkConnected;
    },
    close: () => {
      removeListeners();
      return hub.close();
    },
  };
}
