/**
 * A lighter sandbox that runs a module on the agent's own thread: it really validates, compiles,
 * checks the ABI, links (host-created memory with its maximum, the ABI v1 imports only), runs
 * wf_init and every batch, and classifies faults like the worker sandbox. What it skips is what
 * costs a thread per module: the worker isolation (a module that loops forever blocks the agent),
 * the per-batch CPU watchdog and the isolate heap caps. It exists so one process can simulate
 * hundreds of devices (bench/rollout-scale.ts); a gateway should keep the worker sandbox.
 * Select it with `startAgent(config, { startSandbox: startInlineSandbox })`.
 */
import { compiledAbiProblem } from '../protocol/abi.js';
import { classify } from './sandbox/faults.js';
import { createGrouper } from './sandbox/group-outputs.js';
import { instantiateModule, type ModuleInstance } from './sandbox/instance.js';
import { SandboxFault, type BatchOutput, type ModuleSandbox, type SandboxOptions } from './sandbox/types.js';

export async function startInlineSandbox(options: SandboxOptions): Promise<ModuleSandbox> {
  const wasm = new Uint8Array(options.wasm);
  if (!WebAssembly.validate(wasm)) throw new SandboxFault('invalid', 'not a valid WebAssembly binary');
  let compiled: WebAssembly.Module;
  try {
    compiled = new WebAssembly.Module(wasm);
  } catch (error) {
    throw new SandboxFault('invalid', `WebAssembly compile failed: ${(error as Error).message}`);
  }
  const problem = compiledAbiProblem(compiled);
  if (problem) throw new SandboxFault('invalid', problem);

  let instance: ModuleInstance | undefined;
  try {
    instance = await instantiateModule({
      wasm,
      compiled,
      manifest: options.manifest,
      config: options.config,
      memoryPages: options.limits.memoryPages,
      batchCapacity: options.batchCapacity,
      maxOutputs: options.limits.maxOutputsPerBatch,
      ...(options.onTrace ? { onTrace: options.onTrace } : {}),
    });
  } catch (error) {
    const fault = classify(error, undefined, options.limits.memoryPages);
    throw new SandboxFault(fault.kind, fault.message);
  }
  const live = instance;
  const group = createGrouper(live.outputs);
  let dead: SandboxFault | undefined;

  return {
    async process(timestamps: Float64Array, values: Float64Array): Promise<BatchOutput> {
      if (dead) throw dead;
      try {
        const count = Math.min(timestamps.length, options.batchCapacity);
        live.write(timestamps, values, count);
        const written = live.run(count);
        return group(live.records(written), written, live.dropped());
      } catch (error) {
        const fault = classify(error, live.memory, options.limits.memoryPages);
        dead = new SandboxFault(fault.kind, fault.message);
        throw dead;
      }
    },
    async close(): Promise<void> {
      dead ??= new SandboxFault('crash', 'sandbox closed');
    },
  };
}
