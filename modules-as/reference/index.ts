/**
 * Plain TypeScript reference implementations of the example and library modules, keyed by
 * module name. Used to check the Wasm builds output for output (test/modules-as), as the expected results of
 * the full-loop integration test, and as the JS baseline of bench/module-throughput.
 * Missing params fall back to the same defaults as each manifest.json.
 */
import { createDownsample } from './downsample.js';
import { createEma } from './ema.js';
import { createFft } from './fft.js';
import { createThreshold } from './threshold.js';
import { createVibration } from './vibration.js';
import { createZscore } from './zscore.js';
import type { ModuleConfig } from '../../protocol/index.js';
import type { ReferenceOptions } from './output.js';
import type { ReferenceFactory, ReferenceModule } from './types.js';

export type { ReferenceFactory, ReferenceModule } from './types.js';
export type { ReferenceOptions } from './output.js';
export { temperatureSignal, batchesOf, type Signal, type SignalOptions } from './signal.js';
export { vibrationSignal, type Tone, type VibrationSignalOptions } from './vibration-signal.js';

export const references: Readonly<Record<string, ReferenceFactory>> = Object.freeze({
  ema: createEma,
  threshold: createThreshold,
  zscore: createZscore,
  vibration: createVibration,
  fft: createFft,
  downsample: createDownsample,
});

export function hasReference(name: string): boolean {
  return Object.hasOwn(references, name);
}

/** A fresh reference instance for module `name`; throws for a module without a reference. */
export function referenceFor(name: string, config: ModuleConfig = {}, options: ReferenceOptions = {}): ReferenceModule {
  if (!hasReference(name)) throw new RangeError(`no reference implementation for module '${name}'`);
  return references[name]!(config, options);
}
