/**
 * What both sandboxes (metered and worker) check of their options and assume by default, so the
 * two isolations accept exactly the same inputs.
 */
import { importedMemory } from '../protocol/abi.js';
import { checkFootprint, linearMemoryPages } from './footprint.js';
import { SandboxFault, type SandboxOptions } from './types.js';

/** Compile, the module's start function and wf_init together (plus a worker boot for the worker sandbox). */
export const DEFAULT_START_TIMEOUT_MS = 5000;

export function checkSandboxOptions(options: SandboxOptions): void {
  const { limits, batchCapacity } = options;
  const positive = (value: number, name: string): void => {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  };
  positive(batchCapacity, 'batchCapacity');
  positive(limits.memoryPages, 'limits.memoryPages');
  positive(limits.cpuMsPerBatch, 'limits.cpuMsPerBatch');
  positive(limits.maxOutputsPerBatch, 'limits.maxOutputsPerBatch');
}

/** Refuses a batch the sandbox cannot take; undefined when it is fine. */
export function batchProblem(timestamps: Float64Array, values: Float64Array, batchCapacity: number): RangeError | undefined {
  if (timestamps.length !== values.length) return new RangeError(`timestamps (${timestamps.length}) and values (${values.length}) differ in length`);
  if (values.length > batchCapacity) return new RangeError(`batch of ${values.length} samples exceeds batchCapacity ${batchCapacity}`);
  return undefined;
}

/**
 * The pages of linear memory a module gets once its tables and code are charged to its budget,
 * checked before anything is compiled; a module over a cap or its budget is refused as invalid.
 * `validated`: these exact bytes already passed WebAssembly.validate in this process (a host's
 * cache of compiled modules says so), so the footprint parser may read them without validating
 * again.
 */
export function budgetedMemoryPages(options: SandboxOptions, validated = false): number {
  if (!validated && !WebAssembly.validate(options.wasm as Uint8Array<ArrayBuffer>)) throw new SandboxFault('invalid', 'not a valid WebAssembly binary');
  const checked = checkFootprint(options.wasm, options.caps);
  if ('reason' in checked) throw new SandboxFault('invalid', `module is over its limits: ${checked.reason}`);
  const granted = linearMemoryPages(checked.footprint, options.limits.memoryPages, importedMemory(options.wasm)?.minimum ?? 1);
  if ('reason' in granted) throw new SandboxFault('invalid', `module is over its memory budget: ${granted.reason}`);
  return granted.pages;
}
