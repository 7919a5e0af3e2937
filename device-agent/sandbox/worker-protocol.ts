/**
 * How module-sandbox.ts (main thread) and worker.ts talk. Batches go through shared memory: the
 * main thread writes samples into `input`, the count into COUNT and bumps REQUEST; the worker
 * writes records into `output`, RECORDS, DROPPED and TRACED, then sets RESPONSE to the request
 * it answered. Start-up, faults, traces and slow batches are rare and use postMessage.
 *
 * Waking a sleeping thread, or receiving a message, costs tens of microseconds: several times a
 * batch of work. So both sides poll briefly first: the worker for the next request
 * (WORKER_SPIN_MS), the main thread for the response (MAIN_SPIN_MS), and only then fall back to
 * sleeping: Atomics.wait in the worker, a `done` message for the main thread (Atomics.waitAsync
 * would do, but in Node 20 it does not keep the event loop alive and has lost wake-ups).
 */
import { availableParallelism } from 'node:os';
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

/** Main → worker: sequence number of the latest batch handed over (wraps as Int32). */
export const REQUEST = 0;
/** Main → worker: samples in the batch. */
export const COUNT = 1;
/** Worker → main: sequence number of the latest batch answered; written last. */
export const RESPONSE = 2;
/** Worker → main: records in `output` for the answered batch. */
export const RECORDS = 3;
/** Worker → main: outputs the module could not fit in the answered batch. */
export const DROPPED = 4;
/** Worker → main: trace messages posted during the answered batch; if any, a `done` follows them. */
export const TRACED = 5;
/** Main → worker: the batch the main thread stopped polling for; the worker then posts `done`. */
export const WAITING = 6;
export const CONTROL_SLOTS = 7;

// On a single core a polling thread only takes the CPU from the thread it is waiting for.
const CAN_SPIN = availableParallelism() > 1;

/**
 * How long the worker polls for the next batch before it sleeps in Atomics.wait: long enough to
 * cover the main thread handing the result to its caller and writing the next batch.
 */
export const WORKER_SPIN_MS = CAN_SPIN ? 0.2 : 0;

/**
 * How long the main thread blocks polling for the response before it waits asynchronously. It
 * blocks the agent's event loop, so it stays far below anything a timer or socket would notice;
 * 60 µs covers copy in, wf_process and copy out for a 1,024-sample batch of a light module
 * (EMA ≈ 6 µs) with room for a slow wake-up, while a heavy module wastes at most this per batch.
 */
export const MAIN_SPIN_MS = CAN_SPIN ? 0.06 : 0;

export type ToMain =
  | { readonly type: 'ready'; readonly outputs: readonly DeclaredOutput[] }
  /** After a batch the main thread waits for (WAITING), or that posted traces: it follows them. */
  | { readonly type: 'done'; readonly seq: number }
  | { readonly type: 'trace'; readonly message: string }
  | { readonly type: 'fault'; readonly kind: SandboxFaultKind; readonly message: string };
