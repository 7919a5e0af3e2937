/**
 * Links a module to the host ABI by hand for the metering tests: the same imports instance.ts
 * provides (env.memory/abort/trace/seed, wasmfleet.param/declare_*), plus wasmfleet_meter.tick,
 * which instance.ts does not take. Runs whole batches and returns the raw output records.
 */
import { OUTPUT_RECORD_BYTES, importedMemory } from '../../../protocol/abi.js';
import type { Manifest } from '../../../protocol/index.js';

export interface AbiHost {
  readonly exports: Record<string, WebAssembly.ExportValue>;
  /** Copies a batch into slot 0 and runs wf_process; returns the records' raw bytes and dropped count. */
  run(timestamps: Float64Array, values: Float64Array): { records: Uint8Array; dropped: number };
  /** Runs wf_process on whatever slot 0 holds. */
  process(count: number): number;
  fill(timestamps: Float64Array, values: Float64Array): void;
}

export const BATCH = 1024;

export async function linkAbi(wasm: Uint8Array, manifest: Manifest, tick?: () => number): Promise<AbiHost> {
  const declared = importedMemory(wasm);
  if (!declared) throw new Error('binary does not import env.memory');
  const memory = new WebAssembly.Memory({ initial: declared.minimum, maximum: declared.maximum ?? 256, shared: declared.shared });
  const utf16 = new TextDecoder('utf-16le');
  const text = (ptr: number, bytes: number): string => utf16.decode(new Uint8Array(memory.buffer).slice(ptr, ptr + bytes));
  const outputs: string[] = [];
  const declare = (kind: string) => (ptr: number, bytes: number): number => {
    const key = `${kind}:${text(ptr, bytes)}`;
    if (!outputs.includes(key)) outputs.push(key);
    return outputs.indexOf(key);
  };
  const imports: WebAssembly.Imports = {
    env: {
      memory,
      abort: () => {
        throw new Error('module aborted');
      },
      trace: () => undefined,
      seed: () => 42,
    },
    wasmfleet: {
      param: (ptr: number, bytes: number): number => {
        const value = manifest.params[text(ptr, bytes)]?.default;
        return typeof value === 'boolean' ? Number(value) : (value ?? Number.NaN);
      },
      declare_metric: declare('metric'),
      declare_event: declare('event'),
    },
  };
  if (tick) imports.wasmfleet_meter = { tick };
  const { instance } = await WebAssembly.instantiate(wasm as Uint8Array<ArrayBuffer>, imports);
  const exports = instance.exports;
  const call = (name: string, ...args: number[]): number => (exports[name] as (...a: number[]) => number)(...args);
  const abi = call('wf_abi');
  const inputPtr = (abi === 2 ? call('wf_init', BATCH, BATCH, 1) : call('wf_init', BATCH, BATCH)) >>> 0;
  const times = new Float64Array(memory.buffer, inputPtr, BATCH);
  const values = new Float64Array(memory.buffer, inputPtr + BATCH * 8, BATCH);
  const process = (count: number): number => (abi === 2 ? call('wf_process', 0, count) : call('wf_process', count));
  const fill = (ts: Float64Array, vs: Float64Array): void => {
    times.set(ts);
    values.set(vs);
  };
  return {
    exports,
    fill,
    process,
    run(ts, vs) {
      fill(ts, vs);
      const written = process(ts.length);
      const at = call('wf_output') >>> 0;
      return { records: new Uint8Array(memory.buffer).slice(at, at + written * OUTPUT_RECORD_BYTES), dropped: call('wf_dropped') };
    },
  };
}

/** A deterministic signal with trend, oscillation and spikes, so every module emits something. */
export function signal(batch: number): [Float64Array, Float64Array] {
  const timestamps = new Float64Array(BATCH);
  const values = new Float64Array(BATCH);
  let state = 12345 + batch;
  for (let i = 0; i < BATCH; i++) {
    const n = batch * BATCH + i;
    state = (state * 1103515245 + 12345) % 2 ** 31;
    timestamps[i] = 1_700_000_000_000 + n * 10;
    values[i] = 20 + 5 * Math.sin(n / 25) + 2 * Math.sin(n / 3) + (state / 2 ** 31 - 0.5) + (n % 500 === 0 ? 40 : 0);
  }
  return [timestamps, values];
}
