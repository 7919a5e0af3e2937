import type { ModuleConfig } from '../../protocol/index.js';
import type { BatchOutput } from '../../wasm-host/types.js';
import type { ReferenceOptions } from './output.js';

/** A module's algorithm in plain TypeScript: stateful across batches, like the Wasm instance. */
export interface ReferenceModule {
  process(timestamps: Float64Array, values: Float64Array): BatchOutput;
}

export type ReferenceFactory = (config?: ModuleConfig, options?: ReferenceOptions) => ReferenceModule;
