/** Builds a Source for each profile source config; new kinds register here. */
import type { SourceConfig } from '../../firmware-profiles/index.js';
import { createSimulatedSource } from './simulated.js';
import type { Source } from './source.js';

export type { SampleBlock, Source } from './source.js';
export { createSignal, createSimulatedSource, sampleTime, type Signal } from './simulated.js';

export function createSource(config: SourceConfig): Source {
  switch (config.kind) {
    case 'simulated':
      return createSimulatedSource(config);
  }
}
