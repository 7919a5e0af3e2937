/**
 * The host ABI: the whole surface between the host and a module. See docs/modules.md §ABI.
 *
 * ABI 2 (what the SDK builds; no per-call marshalling helpers, no copy inside the worker):
 *   memory         the module imports `env.memory` as a *shared* memory, which the host creates
 *                  with the module's limit as maximum [WF-P-ABI-2]. The agent's main thread
 *                  and the module's worker both see it.
 *   host → module  `wf_init(inputCapacity, outputCapacity, slots) -> inputPtr`: the module
 *                  reserves `slots` input areas back to back, each inputCapacity f64 timestamps
 *                  then inputCapacity f64 values. The host writes a batch straight into a free
 *                  slot from its main thread and the worker calls `wf_process(slot, count)`, so
 *                  the next batch is written while the module runs the previous one.
 *   module → host  `wf_process` returns how many output records it wrote at `wf_output()`; a
 *                  record is three f64: (output id, t, value). Ids come from
 *                  `wasmfleet.declare_metric` / `wasmfleet.declare_event`, called during init.
 *                  `wf_dropped()` tells how many outputs did not fit this batch.
 * ABI 1 (still run): a private memory, `wf_init(inputCapacity, outputCapacity)` with one input
 *                  area, `wf_process(count)`; the worker copies each batch into that area.
 */
import { ABI_VERSION, SUPPORTED_ABI_VERSIONS, type AbiVersion } from './version.js';
import { readableImports, wasmInterface, type ImportedMemory, type WasmInterface } from './wasm-interface.js';

/** Every import a module may declare, as "module.name" → kind [WF-P-ABI-1]. */
export const ABI_IMPORTS: Readonly<Record<string, WebAssembly.ImportExportKind>> = Object.freeze({
  'env.memory': 'memory',
  'env.abort': 'function',
  'env.trace': 'function',
  'env.seed': 'function',
  'wasmfleet.param': 'function',
  'wasmfleet.declare_metric': 'function',
  'wasmfleet.declare_event': 'function',
});

export const ABI_REQUIRED_EXPORTS: Readonly<Record<string, WebAssembly.ImportExportKind>> = Object.freeze({
  wf_abi: 'function',
  wf_init: 'function',
  wf_process: 'function',
  wf_output: 'function',
  wf_dropped: 'function',
});

/** Bytes per output record: (id, t, value) as three f64. */
export const OUTPUT_RECORD_BYTES = 24;

export { ABI_VERSION, SUPPORTED_ABI_VERSIONS, type AbiVersion };

/**
 * Structural check of a module binary against the ABI, without running it. Returns the reason
 * it is refused, or undefined. Used by the API on upload and by the agent before instantiating.
 * Validates, then reads the imports and exports from the binary itself: no compile (which would
 * create a native module, ~5 times the validate, only to be dropped; a host that runs the module
 * compiles what it runs and checks that with compiledAbiProblem).
 */
export function abiProblem(wasm: Uint8Array<ArrayBuffer>): string | undefined {
  let valid: boolean;
  try {
    valid = WebAssembly.validate(wasm);
  } catch (error) {
    return `WebAssembly compile failed: ${(error as Error).message}`;
  }
  if (!valid) return 'not a valid WebAssembly binary';
  const surface = wasmInterface(wasm);
  // A binary that validates has readable sections; this is a reader bug, not the module's fault.
  if (!surface) return 'not a valid WebAssembly binary';
  return interfaceAbiProblem(surface);
}

/**
 * The same check on an already compiled module, so a host that runs it compiles only once.
 * `hostImports` are imports the host itself added by rewriting the binary (the agent's metering
 * checkpoints); each must then appear exactly once, so a module cannot have declared it itself.
 */
export function compiledAbiProblem(compiled: WebAssembly.Module, hostImports: readonly string[] = []): string | undefined {
  return interfaceAbiProblem({ imports: WebAssembly.Module.imports(compiled), exports: WebAssembly.Module.exports(compiled) }, hostImports);
}

/** The ABI's rule on a module's interface, however it was read (binary or compiled module). */
function interfaceAbiProblem(surface: WasmInterface, hostImports: readonly string[] = []): string | undefined {
  let importsMemory = false;
  const hostAdded = new Map(hostImports.map((key) => [key, 0]));
  for (const entry of surface.imports) {
    const key = `${entry.module}.${entry.name}`;
    const seen = hostAdded.get(key);
    if (seen !== undefined) {
      if (seen > 0) return `import ${key} is reserved for the host`;
      hostAdded.set(key, 1);
      continue;
    }
    const allowed = ABI_IMPORTS[key];
    if (allowed === undefined) return `import ${key} is outside the ABI allow-list`;
    if (allowed !== entry.kind) return `import ${key} must be a ${allowed}, not a ${entry.kind}`;
    if (key === 'env.memory') importsMemory = true;
  }
  const exports = new Map(surface.exports.map((e) => [e.name, e.kind]));
  for (const [name, kind] of Object.entries(ABI_REQUIRED_EXPORTS)) {
    if (!exports.has(name)) return `required export ${name} is missing`;
    if (exports.get(name) !== kind) return `export ${name} must be a ${kind}`;
  }
  if ([...exports.values()].includes('memory')) return 'module defines its own memory; it must import env.memory from the host';
  if (!importsMemory) return 'module does not import env.memory from the host';
  return undefined;
}

export type { ImportedMemory };

/** The ABI a binary is built for, told by its memory import: shared is 2, private is 1. */
export function binaryAbiVersion(memory: ImportedMemory): AbiVersion {
  return memory.shared ? 2 : 1;
}

/**
 * The initial page count the module declares for its imported `env.memory`; undefined when the
 * binary does not import a memory or its import section is malformed.
 */
export function importedMemoryMinimum(wasm: Uint8Array): number | undefined {
  return importedMemory(wasm)?.minimum;
}

/**
 * The limits of the module's imported `env.memory`, read from the binary's import section (the
 * JS API does not expose them). Undefined when the binary does not import a memory or its import
 * section is malformed.
 */
export function importedMemory(wasm: Uint8Array): ImportedMemory | undefined {
  for (const entry of readableImports(wasm)) if (entry.module === 'env' && entry.name === 'memory' && entry.memory) return entry.memory;
  return undefined;
}
