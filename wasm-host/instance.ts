/**
 * One instantiated module and the host side of the ABI (protocol/abi.ts): host-created memory
 * with a maximum (shared for ABI 2), the import object that is the module's whole capability,
 * and the batch data path (one Float64Array.set per input array, one Float64Array view over the
 * outputs). Exports are called directly: no loader, so no wrapper or argument juggling per call.
 * Runs wherever it is created: the worker in production, the main thread in benchmarks.
 */
import { OUTPUT_RECORD_BYTES, binaryAbiVersion, importedMemory, type AbiVersion } from '../protocol/abi.js';
import type { Manifest, ModuleConfig } from '../protocol/index.js';
import { HostRefusal, ModuleAbort } from './faults.js';
import { METER_IMPORT_MODULE, METER_IMPORT_NAME } from './metering/index.js';

export interface InstanceSpec {
  readonly wasm: Uint8Array;
  /** The same bytes already compiled, when the caller has them; saves a second compile. */
  readonly compiled?: WebAssembly.Module;
  readonly manifest: Manifest;
  readonly config: ModuleConfig;
  readonly memoryPages: number;
  readonly batchCapacity: number;
  readonly maxOutputs: number;
  /** Input slots an ABI 2 module reserves (the host's pipeline depth); ABI 1 modules have one. */
  readonly slots?: number;
  readonly onTrace?: (message: string) => void;
  /**
   * The metering import of a binary rewritten by metering/ (the metered sandbox): more fuel, or
   * a throw that stops the module. `compiled` must then be the rewritten binary, `wasm` the original.
   */
  readonly meter?: () => number;
  /**
   * Give an ABI 2 module a private memory although it declares a shared one (the metering
   * rewriter unshares it): nothing else writes it when the module runs on the caller's thread,
   * and a private memory copies faster.
   */
  readonly privateMemory?: boolean;
}

export interface DeclaredOutput {
  readonly kind: 'metric' | 'event';
  readonly name: string;
}

interface AbiExports {
  wf_abi(): number;
  /** ABI 1: (inputCapacity, outputCapacity); ABI 2 adds the slot count. */
  wf_init(inputCapacity: number, outputCapacity: number, slots?: number): number;
  /** ABI 1: (count); ABI 2: (slot, count). */
  wf_process(a: number, b?: number): number;
  wf_output(): number;
  wf_dropped(): number;
}

export interface ModuleInstance {
  readonly abi: AbiVersion;
  /** Shared (another thread may write the input slots) when `abi` is 2, unless `privateMemory`. */
  readonly memory: WebAssembly.Memory;
  /** Indexed by output id, as the module emits them in records. */
  readonly outputs: readonly DeclaredOutput[];
  /** Start of the input slots: slot s has timestamps at inputPtr + s*cap*16, values 8*cap after. */
  readonly inputPtr: number;
  /** Input slots the module reserved: `spec.slots` for ABI 2, 1 for ABI 1. */
  readonly slots: number;
  /** Copies a batch into an input slot; `count` samples from each array. */
  write(timestamps: Float64Array, values: Float64Array, count: number, slot?: number): void;
  /** Runs wf_process on what the input slot holds; returns the number of records. */
  run(count: number, slot?: number): number;
  /** View of the records wf_process just wrote (3 f64 each); valid until the next call. */
  records(count: number): Float64Array;
  /** Copies the records wf_process just wrote to the start of `target`. */
  copyRecords(target: Float64Array, count: number): void;
  dropped(): number;
}

const MAX_NAME_BYTES = 256;
const MAX_MESSAGE_CHARS = 1024;
// Buffer's UTF-16 decoding, not TextDecoder('utf-16le'), which loads an ICU converter (~128 KiB
// resident) into an agent that otherwise never touches ICU.
const utf16 = (buffer: ArrayBufferLike, ptr: number, byteLength: number): string => Buffer.from(buffer, ptr, byteLength).toString('utf16le');

function readUtf16(memory: WebAssembly.Memory, ptr: number, byteLength: number): string {
  const buffer = memory.buffer;
  if (ptr < 0 || byteLength < 0 || byteLength % 2 !== 0 || ptr + byteLength > buffer.byteLength) {
    throw new HostRefusal(`string at ${ptr} (${byteLength} bytes) lies outside the module's memory`);
  }
  return utf16(buffer, ptr, byteLength);
}

/** An AssemblyScript string by pointer alone: its byte length sits in the header before it. */
function readManagedString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return '';
  const buffer = memory.buffer;
  if (ptr < 4 || ptr > buffer.byteLength) return '<invalid string pointer>';
  const byteLength = new DataView(buffer).getUint32(ptr - 4, true);
  const capped = Math.min(byteLength & ~1, MAX_MESSAGE_CHARS * 2, buffer.byteLength - ptr);
  return utf16(buffer, ptr, capped & ~1);
}

function readName(memory: WebAssembly.Memory, ptr: number, byteLength: number): string {
  if (byteLength > MAX_NAME_BYTES) throw new HostRefusal(`name of ${byteLength} bytes is longer than ${MAX_NAME_BYTES}`);
  return readUtf16(memory, ptr, byteLength);
}

function paramValue(spec: InstanceSpec, name: string): number {
  const declared = spec.manifest.params[name];
  // Refused here rather than answered with NaN, so the reason names the param.
  if (!declared) throw new HostRefusal(`param '${name}' is not declared in manifest ${spec.manifest.name}`);
  const value = spec.config[name] ?? declared.default;
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** The smallest valid module: magic number and version, nothing else. */
const EMPTY_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/**
 * The first instantiation in a fresh isolate costs milliseconds of one-time warm-up, so a spare
 * worker pays it while idle, not a module start.
 */
export async function warmUpWasm(): Promise<void> {
  await WebAssembly.instantiate(EMPTY_MODULE, {});
}

/** Compiles, links and initialises a module; throws what `classify` understands. */
export async function instantiateModule(spec: InstanceSpec): Promise<ModuleInstance> {
  const declared = importedMemory(spec.wasm);
  const abi = declared ? binaryAbiVersion(declared) : 1;
  if (abi !== spec.manifest.abi) {
    throw new HostRefusal(
      `manifest says abi ${spec.manifest.abi}, but the binary is built for ABI ${abi} (its env.memory import is ${declared?.shared ? 'shared' : 'not shared'})`,
    );
  }
  const minimum = declared?.minimum ?? 1;
  if (minimum > spec.memoryPages) {
    throw new HostRefusal(`module needs ${minimum} memory pages at start; its limit is ${spec.memoryPages}`);
  }
  // A module may declare a lower maximum than its limit; a memory above it would not link.
  const maximum = Math.min(spec.memoryPages, declared?.maximum ?? spec.memoryPages);
  const shared = abi === 2 && spec.privateMemory !== true;
  const memory = new WebAssembly.Memory({ initial: Math.max(1, minimum), maximum, shared });
  const slots = abi === 2 ? (spec.slots ?? 1) : 1;
  const outputs: DeclaredOutput[] = [];
  let initialised = false;

  const declare = (kind: DeclaredOutput['kind'], ptr: number, byteLength: number): number => {
    const name = readName(memory, ptr, byteLength);
    if (initialised) throw new HostRefusal(`${kind} '${name}' declared after wf_init; declare outputs at top level`);
    const allowed = kind === 'metric' ? spec.manifest.metrics : spec.manifest.events;
    if (!allowed.some((item) => item.name === name)) {
      throw new HostRefusal(`${kind} '${name}' is not declared in manifest ${spec.manifest.name}`);
    }
    const existing = outputs.findIndex((o) => o.kind === kind && o.name === name);
    if (existing >= 0) return existing;
    outputs.push({ kind, name });
    return outputs.length - 1;
  };

  // Exactly the ABI imports (plus the meter of a rewritten binary); abiProblem has already
  // refused any binary that imports outside them.
  const imports: WebAssembly.Imports = {
    env: {
      memory,
      abort(msg: number, file: number, line: number, column: number): never {
        const text = readManagedString(memory, msg) || 'abort';
        throw new ModuleAbort(`abort: ${text} at ${readManagedString(memory, file)}:${line}:${column}`, text);
      },
      trace(msg: number, count: number, ...args: number[]): void {
        spec.onTrace?.(`${readManagedString(memory, msg)}${count > 0 ? ' ' + args.slice(0, count).join(', ') : ''}`);
      },
      seed: (): number => Date.now(),
    },
    wasmfleet: {
      param: (ptr: number, byteLength: number): number => paramValue(spec, readName(memory, ptr, byteLength)),
      declare_metric: (ptr: number, byteLength: number): number => declare('metric', ptr, byteLength),
      declare_event: (ptr: number, byteLength: number): number => declare('event', ptr, byteLength),
    },
    ...(spec.meter ? { [METER_IMPORT_MODULE]: { [METER_IMPORT_NAME]: spec.meter } } : {}),
  };

  const compiled = spec.compiled ?? (await WebAssembly.compile(spec.wasm as Uint8Array<ArrayBuffer>));
  const instance = await WebAssembly.instantiate(compiled, imports);
  const exports = instance.exports as unknown as AbiExports;
  const reported = exports.wf_abi();
  if (reported !== abi) throw new HostRefusal(`wf_abi() returned ${reported}; the binary's memory import and manifest say ABI ${abi}`);
  const inputPtr = (abi === 2 ? exports.wf_init(spec.batchCapacity, spec.maxOutputs, slots) : exports.wf_init(spec.batchCapacity, spec.maxOutputs)) >>> 0;
  initialised = true;
  const slotBytes = spec.batchCapacity * 16;
  if (inputPtr % 8 !== 0 || inputPtr + slots * slotBytes > memory.buffer.byteLength) {
    throw new HostRefusal(`wf_init returned input area ${inputPtr}, not an aligned area of ${slots} slots inside memory`);
  }

  // Views die when a private memory grows (its buffer is detached, and a detached view reads
  // length 0), so they are rebuilt then. Views over a shared memory never die: the slots were
  // reserved before any growth and a shared memory never moves. Reading `memory.buffer` costs
  // ~25 ns (a call into the runtime), so the batch path looks at the views' lengths instead.
  let times: Float64Array[] = [];
  let values: Float64Array[] = [];
  const views = (): void => {
    if (times.length !== 0 && times[0]!.length !== 0) return;
    const buffer = memory.buffer;
    times = [];
    values = [];
    for (let slot = 0; slot < slots; slot++) {
      times.push(new Float64Array(buffer, inputPtr + slot * slotBytes, spec.batchCapacity));
      values.push(new Float64Array(buffer, inputPtr + slot * slotBytes + spec.batchCapacity * 8, spec.batchCapacity));
    }
  };

  const noRecords = new Float64Array(0);
  let recordsView = noRecords;
  const records = (count: number): Float64Array => {
    const ptr = exports.wf_output() >>> 0;
    const length = count * 3;
    // Same place and size batch after batch for most modules: the view made for an earlier
    // batch was checked then, and is still attached when its length reads as it was made.
    if (length !== 0 && recordsView.length === length && recordsView.byteOffset === ptr) return recordsView;
    const refusal = (): HostRefusal => new HostRefusal(`wf_output returned ${ptr}, not an aligned area inside memory`);
    if (ptr % 8 !== 0) throw refusal();
    // No records: nothing is read, so where the area lies does not matter.
    if (length === 0) return noRecords;
    const buffer = memory.buffer;
    if (ptr + count * OUTPUT_RECORD_BYTES > buffer.byteLength) throw refusal();
    recordsView = new Float64Array(buffer, ptr, length);
    return recordsView;
  };

  const { wf_process: process, wf_dropped: droppedOf } = exports;
  return {
    abi,
    memory,
    outputs,
    inputPtr,
    slots,
    write(ts, vs, count, slot = 0) {
      views();
      times[slot]!.set(count === ts.length ? ts : ts.subarray(0, count));
      values[slot]!.set(count === vs.length ? vs : vs.subarray(0, count));
    },
    run(count, slot = 0) {
      const written = abi === 2 ? process(slot, count) : process(count);
      if (!Number.isInteger(written) || written < 0 || written > spec.maxOutputs) {
        throw new HostRefusal(`wf_process returned ${written} records; the output area holds ${spec.maxOutputs}`);
      }
      return written;
    },
    records,
    copyRecords(target, count) {
      target.set(records(count));
    },
    dropped() {
      return Math.max(0, droppedOf() | 0);
    },
  };
}
