/**
 * Builds a Source for each profile source config; new kinds register here. Every kind but the
 * simulated one is imported when a profile uses it, so an agent carries in memory only the
 * sources (and the Node built-ins behind them: dgram, tty, child_process) its hardware has.
 */
import { silentLogger, type Logger } from '../../common/logger.js';
import type { SourceConfig } from '../../firmware-profiles/index.js';
import { createSimulatedSource } from './simulated.js';
import type { Source } from './source.js';

export type { SampleBlock, Source, SourceStats } from './source.js';
export { createSignal, createSimulatedSource, deviceSeed, sampleTime, type Signal } from './simulated.js';
export { sourceErrors } from './errors.js';

/** `deviceId` personalises simulated signals; hardware sources ignore it. */
export async function createSource(config: SourceConfig, deviceId?: string, logger: Logger = silentLogger): Promise<Source> {
  switch (config.kind) {
    case 'simulated':
      return createSimulatedSource(config, deviceId);
    case 'sysfs-thermal':
      return (await import('./sysfs.js')).createThermalSource(config, logger);
    case 'sysfs-iio':
      return (await import('./sysfs.js')).createIioSource(config, logger);
    case 'mqtt':
      return (await import('./mqtt-bridge.js')).createMqttSource(config, logger);
    case 'serial':
      return (await import('./serial.js')).createSerialSource(config, logger);
    case 'udp':
      return (await import('./udp.js')).createUdpSource(config, logger);
  }
}
