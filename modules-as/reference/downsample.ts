/** Plain TypeScript twin of modules-as/examples/downsample. */
import type { ModuleConfig } from '../../protocol/index.js';
import { OutputCollector, numberParam, type ReferenceOptions } from './output.js';
import type { ReferenceModule } from './types.js';

export function createDownsample(config: ModuleConfig = {}, options: ReferenceOptions = {}): ReferenceModule {
  const window = Math.trunc(numberParam(config, 'window', 10));
  const out = new OutputCollector(options.maxOutputs);
  let filled = 0;
  let sum = 0;
  let lo = Infinity;
  let hi = -Infinity;
  return {
    process(timestamps, values) {
      for (let i = 0; i < values.length; i++) {
        const x = values[i]!;
        sum += x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        if (++filled === window) {
          const t = timestamps[i]!;
          out.metric('min', t, lo);
          out.metric('max', t, hi);
          out.metric('mean', t, sum / window);
          out.metric('count', t, window);
          filled = 0;
          sum = 0;
          lo = Infinity;
          hi = -Infinity;
        }
      }
      return out.finish();
    },
  };
}
