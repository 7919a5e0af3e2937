/** Plain TypeScript twin of modules-as/examples/threshold. */
import type { ModuleConfig } from '../../protocol/index.js';
import { OutputCollector, numberParam, type ReferenceOptions } from './output.js';
import type { ReferenceModule } from './types.js';

export function createThreshold(config: ModuleConfig = {}, options: ReferenceOptions = {}): ReferenceModule {
  const high = numberParam(config, 'high', 24);
  const low = numberParam(config, 'low', 23);
  if (low > high) throw new RangeError('threshold: param low must not exceed high');
  const out = new OutputCollector(options.maxOutputs);
  let on = false;
  return {
    process(timestamps, values) {
      const n = values.length;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!on && v >= high) {
          on = true;
          out.event('alarm_on', timestamps[i]!, v);
        } else if (on && v <= low) {
          on = false;
          out.event('alarm_off', timestamps[i]!, v);
        }
      }
      if (n > 0) out.metric('state', timestamps[n - 1]!, on ? 1 : 0);
      return out.finish();
    },
  };
}
