/** Plain TypeScript twin of modules-as/examples/zscore (score first, then Welford update). */
import type { ModuleConfig } from '../../protocol/index.js';
import { OutputCollector, numberParam, type ReferenceOptions } from './output.js';
import type { ReferenceModule } from './types.js';

export function createZscore(config: ModuleConfig = {}, options: ReferenceOptions = {}): ReferenceModule {
  const threshold = numberParam(config, 'threshold', 3);
  const warmup = Math.trunc(numberParam(config, 'warmup', 50));
  const out = new OutputCollector(options.maxOutputs);
  let seen = 0;
  let mean = 0;
  let m2 = 0;
  return {
    process(timestamps, values) {
      const n = values.length;
      let maxAbs = 0;
      let scored = false;
      for (let i = 0; i < n; i++) {
        const x = values[i]!;
        if (seen >= warmup) {
          scored = true;
          const std = Math.sqrt(m2 / (seen - 1));
          if (std > 0) {
            const z = (x - mean) / std;
            const abs = Math.abs(z);
            if (abs > maxAbs) maxAbs = abs;
            if (abs > threshold) out.event('anomaly', timestamps[i]!, z);
          }
        }
        seen += 1;
        const delta = x - mean;
        mean += delta / seen;
        m2 += delta * (x - mean);
      }
      if (scored) out.metric('zscore_max', timestamps[n - 1]!, maxAbs);
      return out.finish();
    },
  };
}
