/** Plain TypeScript twin of modules-as/examples/ema, same arithmetic in the same order. */
import type { ModuleConfig } from '../../protocol/index.js';
import { OutputCollector, numberParam, type ReferenceOptions } from './output.js';
import type { ReferenceModule } from './types.js';

export function createEma(config: ModuleConfig = {}, options: ReferenceOptions = {}): ReferenceModule {
  const alpha = numberParam(config, 'alpha', 0.1);
  const every = Math.trunc(numberParam(config, 'every', 10));
  const out = new OutputCollector(options.maxOutputs);
  let average = 0;
  let seeded = false;
  let sinceEmit = 0;
  return {
    process(timestamps, values) {
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (seeded) {
          average = alpha * v + (1 - alpha) * average;
        } else {
          average = v;
          seeded = true;
        }
        if (++sinceEmit === every) {
          sinceEmit = 0;
          out.metric('ema', timestamps[i]!, average);
        }
      }
      return out.finish();
    },
  };
}
