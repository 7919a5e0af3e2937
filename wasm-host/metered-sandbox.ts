/**
 * The default sandbox: a module runs on the agent's own thread, so three modules cost their
 * memories and code, not three ~9 MiB worker isolates. What a worker's watchdog did, the binary
 * now does itself: before compiling, the agent rewrites the (already verified) module with
 * metering checkpoints (metering/), whose `tick` import looks at the batch's deadline and
 * throws past it (deadline.ts). The rest is the worker sandbox's: validation, the ABI check,
 * host-created memory with its maximum, the output cap, faults classified the same way.
 * Not isolated from the agent's thread: a batch delays the agent by at most its CPU budget.
 * Owns: one module's life on this thread. Must not: fetch, verify or publish anything.
 */
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { compiledAbiProblem } from '../protocol/abi.js';
import { DeadlineClock } from './deadline.js';
import { classify, locateFault, startFault } from './faults.js';
import { createGrouper } from './group-outputs.js';
import { instantiateModule, type ModuleInstance } from './instance.js';
import { instrumentForMetering, MeteringRefusal, METER_IMPORT_MODULE, METER_IMPORT_NAME } from './metering/index.js';
import type { CodeOffsetMap } from './metering/offset-map.js';
import { SourceLocator } from './source-locator.js';
import { batchProblem, budgetedMemoryPages, checkSandboxOptions, DEFAULT_START_TIMEOUT_MS } from './options.js';
import { SandboxFault, type BatchOutput, type ModuleSandbox, type SandboxOptions } from './types.js';

const METER_IMPORT = `${METER_IMPORT_MODULE}.${METER_IMPORT_NAME}`;

/**
 * The rewriter marks every checkpoint's branch unlikely (a `metadata.code.branch_hint` section);
 * V8 11 (Node 20) reads it only behind this flag. It changes code layout and register
 * allocation, never semantics, and took ~10% off the checkpoints' cost in tight loops (fft,
 * threshold). Set before the first compile; other V8 versions are left alone (untested here,
 * and an unknown flag prints an error).
 */
if (process.versions.v8.startsWith('11.')) setFlagsFromString('--experimental-wasm-branch-hinting');

/**
 * Rewritten and compiled binaries by the hash of the original, so a module restarted after a
 * fault (or redeployed with another config) starts without a rewrite and a compile. Small:
 * the compiled code is what a running module holds anyway. One per agent (meteredSandboxFactory):
 * simulated devices sharing a process each rewrite and compile for themselves, as gateways do.
 */
const COMPILED_CACHE_SIZE = 4;
interface CompiledMetered {
  readonly module: WebAssembly.Module;
  /** Metered offsets back to the original's, for a fault's source line. */
  readonly codeOffsets: CodeOffsetMap;
}
export type CompiledCache = Map<string, CompiledMetered>;
/** For callers outside an agent (tests, benches, the trial child): one cache for the process. */
const processCache: CompiledCache = new Map();

/** `wasm` must have passed WebAssembly.validate. */
async function compileMetered(wasm: Uint8Array<ArrayBuffer>, key: string, compiledCache: CompiledCache): Promise<CompiledMetered> {
  const cached = compiledCache.get(key);
  if (cached) {
    compiledCache.delete(key);
    compiledCache.set(key, cached);
    return cached;
  }
  // The caller validated these bytes (startMeteredSandbox, before the footprint).
  let metered: Uint8Array<ArrayBuffer>;
  let codeOffsets: CodeOffsetMap;
  try {
    ({ wasm: metered, codeOffsets } = instrumentForMetering(wasm, { unshareMemory: true }));
  } catch (error) {
    if (error instanceof MeteringRefusal) throw new SandboxFault('invalid', `cannot meter this module: ${error.message}`);
    throw error;
  }
  let compiled: WebAssembly.Module;
  try {
    compiled = await WebAssembly.compile(metered);
  } catch (error) {
    throw new SandboxFault('invalid', `WebAssembly compile failed: ${(error as Error).message}`);
  }
  const problem = compiledAbiProblem(compiled, [METER_IMPORT]);
  if (problem) throw new SandboxFault('invalid', problem);
  const entry = { module: compiled, codeOffsets };
  compiledCache.set(key, entry);
  if (compiledCache.size > COMPILED_CACHE_SIZE) compiledCache.delete(compiledCache.keys().next().value!);
  return entry;
}

/** A metered sandbox factory with its own compiled cache: one per agent (wasm-host/select.ts). */
export function meteredSandboxFactory(): (options: SandboxOptions) => Promise<ModuleSandbox> {
  const cache: CompiledCache = new Map();
  return (options) => startMeteredSandbox(options, cache);
}

export async function startMeteredSandbox(options: SandboxOptions, compiledCache: CompiledCache = processCache): Promise<ModuleSandbox> {
  checkSandboxOptions(options);
  const { limits, batchCapacity } = options;
  const wasm = new Uint8Array(options.wasm);
  const key = createHash('sha256').update(wasm).digest('hex');
  // Validated once here, for the footprint parser and the compile both (each validated on its own
  // before: WebAssembly.validate was 13.5% of an agents process's busy time in a rollout once
  // every agent compiled for itself). Bytes in the compiled cache were validated when compiled: a
  // module restarted after a fault, or redeployed with another config, is not validated again.
  // Nor are bytes the caller vouches for by their hash (options.validSha256).
  // The caller's word counts only for the bytes it names: the hash is of what we were given. In a
  // profile of an agent's first start, this validate was 13% of it, right after the agent's own
  // ABI check had compiled the same bytes.
  const known = options.validSha256 === key || compiledCache.has(key);
  if (!known && !WebAssembly.validate(wasm)) throw new SandboxFault('invalid', 'not a valid WebAssembly binary');
  const memoryPages = budgetedMemoryPages(options, true);
  const { module: compiled, codeOffsets } = await compileMetered(wasm, key, compiledCache);
  // Only a debug build carries a map; a release build's faults read as they always did.
  const locator = SourceLocator.forBinary(wasm, codeOffsets);

  const clock = new DeadlineClock();
  const startBudgetMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let instance: ModuleInstance;
  clock.arm(startBudgetMs, 'module start');
  try {
    instance = await instantiateModule({
      wasm,
      compiled,
      manifest: options.manifest,
      config: options.config,
      memoryPages,
      batchCapacity,
      maxOutputs: limits.maxOutputsPerBatch,
      meter: clock.tick,
      privateMemory: true,
      ...(options.onTrace ? { onTrace: options.onTrace } : {}),
    });
  } catch (error) {
    const fault = startFault(locateFault(classify(error, undefined, memoryPages), error, locator));
    throw new SandboxFault(fault.kind, fault.message, fault.at);
  }
  const live = instance;
  const group = createGrouper(live.outputs);
  let dead: SandboxFault | undefined;

  return {
    async process(timestamps: Float64Array, values: Float64Array): Promise<BatchOutput> {
      const refused = batchProblem(timestamps, values, batchCapacity);
      if (refused) throw refused;
      if (dead) throw dead;
      clock.arm(limits.cpuMsPerBatch, 'batch');
      try {
        const count = timestamps.length;
        live.write(timestamps, values, count);
        const written = live.run(count);
        return group(live.records(written), written, live.dropped());
      } catch (error) {
        const fault = locateFault(classify(error, live.memory, memoryPages), error, locator);
        dead = new SandboxFault(fault.kind, fault.message, fault.at);
        throw dead;
      }
    },
    async close(): Promise<void> {
      dead ??= new SandboxFault('crash', 'sandbox closed');
    },
  };
}
