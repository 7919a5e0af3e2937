/**
 * What the agent needs from the module sandbox. The implementation runs each module in its own
 * worker thread with host-created memory, so a fault or a runaway loop costs only that module.
 */
import type { Manifest, ModuleConfig, RuntimeLimits } from '../protocol/index.js';
import type { ModuleCaps } from './footprint.js';
import type { SourceLocation } from './source-locator.js';

/**
 * The limits a module was granted (protocol/runtime-limits.ts), enforced by the sandbox. Its
 * `memoryPages` is the module's whole memory budget in 64 KiB pages: tables and compiled code are
 * charged first (footprint.ts), and linear memory is created with what is left as its maximum.
 */
export type SandboxLimits = RuntimeLimits;

export interface SandboxOptions {
  readonly wasm: Uint8Array;
  readonly manifest: Manifest;
  /** Effective params (manifest defaults overlaid with the deployment config). */
  readonly config: ModuleConfig;
  readonly limits: SandboxLimits;
  /** Largest batch the host will ever pass; the module reserves its input buffer for this. */
  readonly batchCapacity: number;
  /** Budget for worker boot, compile, the module's start function and wf_init; 5000 ms by default. */
  readonly startTimeoutMs?: number;
  /** Caps on tables, functions and code, checked before compiling; DEFAULT_MODULE_CAPS unless told. */
  readonly caps?: ModuleCaps;
  /** Receives the module's `trace()` lines (at most 20 per batch); they are dropped otherwise. */
  readonly onTrace?: (message: string) => void;
  /**
   * The sha256 (hex) of bytes the caller has already seen pass WebAssembly validation (the agent
   * validates every module it verifies). The metered sandbox then skips its own validate when the
   * bytes it is given hash to it; any other bytes are validated as always.
   */
  readonly validSha256?: string;
}

export interface BatchOutput {
  readonly metrics: { name: string; points: [number, number][] }[];
  readonly events: { name: string; t: number; value: number }[];
  readonly dropped: number;
}

export type SandboxFaultKind = 'invalid' | 'trap' | 'abort' | 'timeout' | 'memory' | 'crash';

/** Every failure of a module surfaces as this, with a reason an operator can read. */
export class SandboxFault extends Error {
  constructor(
    readonly kind: SandboxFaultKind,
    message: string,
    /** Where in the author's source it happened, when the module was built with a source map (already in `message`). */
    readonly at?: SourceLocation,
  ) {
    super(message);
    this.name = 'SandboxFault';
  }
}

export interface ModuleSandbox {
  /**
   * Runs one batch; rejects with SandboxFault. May be called again before earlier calls settle:
   * up to PIPELINE_DEPTH batches run back to back in the worker, later callers wait for a slot,
   * and all settle in call order. A fault rejects every batch not yet settled (the rest as
   * cancelled by it) and the sandbox is dead: close it.
   */
  process(timestamps: Float64Array, values: Float64Array): Promise<BatchOutput>;
  close(): Promise<void>;
}

/** Starts a sandbox for one module: what the agent, the API's trial start and the module kit call. */
export type SandboxFactory = (options: SandboxOptions) => Promise<ModuleSandbox>;
