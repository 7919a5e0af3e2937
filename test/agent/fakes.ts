/** A scripted stand-in for the worker sandbox, for unit tests of agent logic only. */
import type { BatchOutput, ModuleSandbox, SandboxOptions } from '../../wasm-host/types.js';
import { SandboxFault } from '../../wasm-host/types.js';

export interface FakeSandboxes {
  readonly started: SandboxOptions[];
  readonly open: Set<ModuleSandbox>;
  /** Faults queued for the next process() calls of any sandbox. */
  readonly faults: SandboxFault[];
  factory(options: SandboxOptions): Promise<ModuleSandbox>;
}

export function fakeSandboxes(): FakeSandboxes {
  const fakes: FakeSandboxes = {
    started: [],
    open: new Set(),
    faults: [],
    async factory(options) {
      fakes.started.push(options);
      const sandbox: ModuleSandbox = {
        async process(timestamps, values): Promise<BatchOutput> {
          const fault = fakes.faults.shift();
          if (fault) throw fault;
          return { metrics: [{ name: 'count', points: [[timestamps[0] ?? 0, values.length]] }], events: [], dropped: 0 };
        },
        async close() {
          fakes.open.delete(sandbox);
        },
      };
      fakes.open.add(sandbox);
      return sandbox;
    },
  };
  return fakes;
}

export { SandboxFault };
