/**
 * How module-sandbox.ts (main thread) and worker.ts talk. Batches go through shared memory: the
 * main thread writes samples into `input`, the count into `control` and bumps REQUEST; the
 * worker answers in `output` and `control` and bumps RESPONSE. Waking a sleeping thread costs
 * tens of microseconds on small machines, more than a batch of work, so the worker spins
 * briefly (WORKER_SPIN_MS) before it sleeps. Start-up, faults and traces are rare and use
 * postMessage.
 */
import type { Manifest, ModuleConfig } from '../../protocol/index.js';
import type { DeclaredOutput } from './instance.js';
import type { SandboxFaultKind } from './types.js';

export interface WorkerInit {
  readonly wasm: ArrayBuffer;
  readonly manifest: Manifest;
  readonly config: ModuleConfig;
  readonly memoryPages: number;
  readonly batchCapacity: number;
  readonly maxOutputs: number;
  /** batchCapacity timestamps then batchCapacity values, written by the main thread. */
  readonly input: SharedArrayBuffer;
  /** maxOutputs records of (id, t, value), written by the worker. */
  readonly output: SharedArrayBuffer;
  /** CONTROL_SLOTS Int32 slots, indexed by the constants below. */
  readonly control: SharedArrayBuffer;
}

export const REQUEST = 0;
export const COUNT = 1;
export const CONTROL_SLOTS = 2;

/** How long the worker polls for the next batch before it sleeps in Atomics.wait. */
export const WORKER_SPIN_MS = 0.2;

export type ToMain =
  | { readonly type: 'ready'; readonly outputs: readonly DeclaredOutput[] }
  | { readonly type: 'done'; readonly count: number; readonly dropped: number }
  | { readonly type: 'trace'; readonly message: string }
  | { readonly type: 'fault'; readonly kind: SandboxFaultKind; readonly message: string };
