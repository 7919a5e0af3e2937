/**
 * `wasmfleet agent --config FILE`: loads the config (refusing it with the field named), starts
 * the agent and stops it cleanly on SIGINT/SIGTERM, so the retained status says `shutdown`
 * rather than the will's `connection-lost`. Logs are JSON lines on stderr. After a signal the
 * process exits within PROCESS_STOP_BOUND_MS whatever the broker or the disk do
 * (docs/operations.md §Stopping).
 */
import { createLogger, type Logger } from '../common/logger.js';
import { exitWhenStopped, onShutdownSignal } from '../common/signals.js';
import { startAgent, type RunningAgent } from './agent.js';
import { loadAgentConfig, loadAgentProfile } from './config.js';
import { applyAgentMemoryFlags } from './memory.js';

export interface RunAgentOptions {
  readonly logger?: Logger;
  /** Signals that stop the agent and end the process; the defaults are what service managers and Ctrl-C send. */
  readonly signals?: readonly NodeJS.Signals[];
}

/** Resolves once the agent runs; it then stays up until one of the signals arrives. */
export async function runAgentFromConfigFile(path: string, options: RunAgentOptions = {}): Promise<RunningAgent> {
  applyAgentMemoryFlags();
  const config = loadAgentConfig(path);
  const profile = loadAgentProfile(config);
  const logger = options.logger ?? createLogger({ level: config.logLevel ?? 'info', component: 'agent' });
  const agent = await startAgent(config, { logger, profile });
  logger.info('agent started', { deviceId: config.deviceId, profile: profile.name, config: path });

  const removeListeners = onShutdownSignal((signal) => {
    logger.info('signal received; stopping', { deviceId: config.deviceId, signal });
    exitWhenStopped(agent.stop(), { logger: logger.child({ deviceId: config.deviceId }) });
  }, options.signals);
  const stop = agent.stop;
  return {
    ...agent,
    stop: () => {
      removeListeners();
      return stop();
    },
  };
}
