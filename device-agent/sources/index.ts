/** Builds a Source for each profile source config; new kinds register here. */
import type { SourceConfig } from '../../firmware-profiles/index.js';
import { createSimulatedSource } from './simulated.js';
import type { Source } from './source.js';

export type { SampleBlock, Source } from './source.js';
export { createSignal, createSimulatedSource, deviceSeed, sampleTime, type Signal } from './simulated.js';

/** `deviceId` personalises simulated signals; hardware sources ignore it. */
export function createSource(config: SourceConfig, deviceId?: string): Source {
  switch (config.kind) {
    case 'simulated':
      return createSimulatedSource(config, deviceId);
  }
}
