/** Plain TypeScript twin of modules-as/examples/vibration (running sums per tumbling window). */
import type { ModuleConfig } from '../../protocol/index.js';
import { OutputCollector, numberParam, type ReferenceOptions } from './output.js';
import type { ReferenceModule } from './types.js';

export function createVibration(config: ModuleConfig = {}, options: ReferenceOptions = {}): ReferenceModule {
  const window = Math.trunc(numberParam(config, 'window', 256));
  const out = new OutputCollector(options.maxOutputs);
  let filled = 0;
  let sumSquares = 0;
  let maxAbs = 0;
  return {
    process(timestamps, values) {
      for (let i = 0; i < values.length; i++) {
        const x = values[i]!;
        sumSquares += x * x;
        const abs = Math.abs(x);
        if (abs > maxAbs) maxAbs = abs;
        if (++filled === window) {
          const t = timestamps[i]!;
          const r = Math.sqrt(sumSquares / window);
          out.metric('rms', t, r);
          out.metric('peak', t, maxAbs);
          out.metric('crest', t, r > 0 ? maxAbs / r : 0);
          filled = 0;
          sumSquares = 0;
          maxAbs = 0;
        }
      }
      return out.finish();
    },
  };
}
