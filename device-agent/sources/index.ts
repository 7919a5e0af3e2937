/** Builds a Source for each profile source config; new kinds register here. */
import { silentLogger, type Logger } from '../../common/logger.js';
import type { SourceConfig } from '../../firmware-profiles/index.js';
import { createMqttSource } from './mqtt-bridge.js';
import { createSerialSource } from './serial.js';
import { createSimulatedSource } from './simulated.js';
import type { Source } from './source.js';
import { createIioSource, createThermalSource } from './sysfs.js';
import { createUdpSource } from './udp.js';

export type { SampleBlock, Source, SourceStats } from './source.js';
export { createSignal, createSimulatedSource, deviceSeed, sampleTime, type Signal } from './simulated.js';
export { sourceErrors } from './errors.js';

/** `deviceId` personalises simulated signals; hardware sources ignore it. */
export function createSource(config: SourceConfig, deviceId?: string, logger: Logger = silentLogger): Source {
  switch (config.kind) {
    case 'simulated':
      return createSimulatedSource(config, deviceId);
    case 'sysfs-thermal':
      return createThermalSource(config, logger);
    case 'sysfs-iio':
      return createIioSource(config, logger);
    case 'mqtt':
      return createMqttSource(config, logger);
    case 'serial':
      return createSerialSource(config, logger);
    case 'udp':
      return createUdpSource(config, logger);
  }
}
