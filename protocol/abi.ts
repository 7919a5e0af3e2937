/**
 * Host ABI v1: the whole surface between the host and a module. See docs/modules.md §ABI.
 *
 * Data path (no per-call marshalling helpers, so the host path stays cheap):
 *   host → module  `wf_init(inputCapacity, outputCapacity) -> inputPtr`: the module reserves
 *                  inputCapacity f64 timestamps followed by inputCapacity f64 values, once.
 *                  Each batch the host writes samples there and calls `wf_process(count)`.
 *   module → host  `wf_process` returns how many output records it wrote at `wf_output()`; a
 *                  record is three f64: (output id, t, value). Ids come from
 *                  `wasmfleet.declare_metric` / `wasmfleet.declare_event`, called during init.
 *                  `wf_dropped()` tells how many outputs did not fit this batch.
 * Memory is always the host's: the module imports `env.memory`, created with a maximum, so it
 * cannot grow past its limit [WF-P-ABI-2].
 */
import { ABI_VERSION } from './version.js';

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

export { ABI_VERSION };

/**
 * Structural check of a module binary against ABI v1, without running it. Returns the reason
 * it is refused, or undefined. Used by the API on upload and by the agent before instantiating.
 */
export function abiProblem(wasm: Uint8Array<ArrayBuffer>): string | undefined {
  if (!WebAssembly.validate(wasm)) return 'not a valid WebAssembly binary';
  let compiled: WebAssembly.Module;
  try {
    compiled = new WebAssembly.Module(wasm);
  } catch (error) {
    return `WebAssembly compile failed: ${(error as Error).message}`;
  }
  return compiledAbiProblem(compiled);
}

/** The same check on an already compiled module, so a host that runs it compiles only once. */
export function compiledAbiProblem(compiled: WebAssembly.Module): string | undefined {
  let importsMemory = false;
  for (const entry of WebAssembly.Module.imports(compiled)) {
    const key = `${entry.module}.${entry.name}`;
    const allowed = ABI_IMPORTS[key];
    if (allowed === undefined) return `import ${key} is outside the ABI v${ABI_VERSION} allow-list`;
    if (allowed !== entry.kind) return `import ${key} must be a ${allowed}, not a ${entry.kind}`;
    if (key === 'env.memory') importsMemory = true;
  }
  const exports = new Map(WebAssembly.Module.exports(compiled).map((e) => [e.name, e.kind]));
  for (const [name, kind] of Object.entries(ABI_REQUIRED_EXPORTS)) {
    if (!exports.has(name)) return `required export ${name} is missing`;
    if (exports.get(name) !== kind) return `export ${name} must be a ${kind}`;
  }
  if ([...exports.values()].includes('memory')) return 'module defines its own memory; it must import env.memory from the host';
  if (!importsMemory) return 'module does not import env.memory from the host';
  return undefined;
}

/**
 * The initial page count the module declares for its imported `env.memory`, read from the
 * binary's import section; the host must create the memory at least this large or instantiation
 * fails. Undefined when the binary does not import a memory or its import section is malformed.
 */
export function importedMemoryMinimum(wasm: Uint8Array): number | undefined {
  let at = 8; // magic + version
  const byte = (): number => {
    if (at >= wasm.length) throw new RangeError('truncated');
    return wasm[at++]!;
  };
  const leb = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new RangeError('LEB128 too long');
  };
  const name = (): string => {
    const length = leb();
    const text = new TextDecoder().decode(wasm.subarray(at, at + length));
    at += length;
    return text;
  };
  const limits = (): number => {
    const flags = byte();
    const minimum = leb();
    if (flags & 1) leb();
    return minimum;
  };
  try {
    while (at < wasm.length) {
      const id = byte();
      const size = leb();
      if (id !== 2) {
        at += size;
        continue;
      }
      const count = leb();
      for (let i = 0; i < count; i++) {
        const key = `${name()}.${name()}`;
        const kind = byte();
        if (kind === 0) leb();
        else if (kind === 1) (byte(), limits());
        else if (kind === 2) {
          const minimum = limits();
          if (key === 'env.memory') return minimum;
        } else if (kind === 3) (byte(), byte());
        else return undefined;
      }
      return undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
