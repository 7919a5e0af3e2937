/**
 * How module-sandbox.ts (main thread) and worker.ts talk. Batches go through a ring of
 * PIPELINE_DEPTH slots in shared memory, numbered by sequence: batch `seq` uses slot
 * `seq & (PIPELINE_DEPTH - 1)`. The main thread writes samples into the slot's input area and
 * its COUNT, then moves REQUEST to `seq`. For an ABI 2 module the input areas are the module's
 * own input slots, in its shared memory, so the worker copies nothing in; for ABI 1 they are in
 * `input` and the worker copies each batch into the module's memory. Then the worker serves every batch up to REQUEST in order,
 * writes the slot's output records, RECORDS, DROPPED and TRACED, then moves RESPONSE to the seq
 * it answered. A slot is written again only after the main thread has read its answer, so the
 * two sides never touch the same slot at once. Start-up, faults, traces and slow batches are
 * rare and use postMessage.
 *
 * Waking a sleeping thread, or receiving a message, costs tens of microseconds: several times a
 * batch of work. So both sides poll briefly first: the worker for the next request
 * (WORKER_SPIN_MS), the main thread for the response (MAIN_SPIN_MS), and only then fall back to
 * sleeping: Atomics.wait in the worker, a `done` message for the main thread (Atomics.waitAsync
 * would do, but in Node 20 it does not keep the event loop alive and has lost wake-ups).
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Manifest, ModuleConfig } from '../protocol/index.js';
import type { DeclaredOutput } from './instance.js';
import type { SourceLocation } from './source-locator.js';
import type { SandboxFaultKind } from './types.js';

export interface WorkerInit {
  readonly wasm: ArrayBuffer;
  readonly manifest: Manifest;
  readonly config: ModuleConfig;
  readonly memoryPages: number;
  readonly batchCapacity: number;
  readonly maxOutputs: number;
  /**
   * ABI 1 only (undefined for ABI 2, whose slots live in the module's memory): per slot
   * batchCapacity timestamps then batchCapacity values, written by the main thread.
   */
  readonly input: SharedArrayBuffer | undefined;
  /** Per slot: maxOutputs records of (id, t, value), written by the worker. */
  readonly output: SharedArrayBuffer;
  /** CONTROL_SLOTS Int32 words, indexed by the constants below. */
  readonly control: SharedArrayBuffer;
  /** One f64: when the worker started batch STARTED, in ms since the epoch (timeOrigin + now). */
  readonly startedAt: SharedArrayBuffer;
}

/**
 * Batches that may be handed over before the first is answered. A throughput win needs only
 * enough to keep the worker busy while the main thread groups the previous answer and copies
 * in the next batch; each slot costs batchCapacity * 16 bytes in and maxOutputs * 24 bytes out,
 * and a fault cancels every batch in flight, so more would buy memory and lost work, not speed.
 * A power of two: slots are picked by the seq's low bits.
 */
export const PIPELINE_DEPTH = 4;

// Words each side writes sit on cache lines of their own (16 Int32 = 64 bytes): the main
// thread polls RESPONSE, and a worker write to any word sharing its line would cost both sides
// a cache-line transfer.
const LINE = 16;
/** Main → worker: sequence number of the latest batch handed over (wraps as Int32). */
export const REQUEST = 0;
/** Main → worker: the batch the main thread stopped polling for; the worker then posts `done`. */
export const WAITING = 1;
/** Worker → main: sequence number of the latest batch answered; written after its slot. */
export const RESPONSE = LINE;
/** Worker → main: the batch the worker is running or last ran; the watchdog times it. */
export const STARTED = 2 * LINE;
const GLOBAL_WORDS = 3 * LINE;
/** Per slot: samples in the batch (main → worker). */
export const COUNT = 0;
/** Per slot: records in the slot's output area (worker → main). */
export const RECORDS = 1;
/** Per slot: outputs the module could not fit in the batch (worker → main). */
export const DROPPED = 2;
/** Per slot: trace messages posted during the batch; if any, a `done` follows them. */
export const TRACED = 3;
const SLOT_WORDS = 4;
export const CONTROL_SLOTS = GLOBAL_WORDS + PIPELINE_DEPTH * SLOT_WORDS;

/** Index in `control` of a per-slot word for batch `seq`. */
export const slotWord = (seq: number, word: number): number => GLOBAL_WORDS + (seq & (PIPELINE_DEPTH - 1)) * SLOT_WORDS + word;

/** The same clock in both threads: each thread's own timeOrigin makes now() comparable. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

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

export interface Ready {
  readonly type: 'ready';
  readonly outputs: readonly DeclaredOutput[];
  /** ABI 2: the module's shared memory and where its PIPELINE_DEPTH input slots start. */
  readonly slots?: { readonly memory: WebAssembly.Memory; readonly inputPtr: number };
}

/** Per ring slot: where the main thread writes a batch's timestamps and values. */
export interface SlotInput {
  readonly times: Float64Array;
  readonly values: Float64Array;
}

/** PIPELINE_DEPTH slot views over `buffer`, laid out from `offset` as protocol/abi.ts says. */
export function slotInputs(buffer: ArrayBufferLike, offset: number, batchCapacity: number): SlotInput[] {
  return Array.from({ length: PIPELINE_DEPTH }, (_, slot) => ({
    times: new Float64Array(buffer, offset + slot * batchCapacity * 16, batchCapacity),
    values: new Float64Array(buffer, offset + slot * batchCapacity * 16 + batchCapacity * 8, batchCapacity),
  }));
}

export type ToMain =
  | Ready
  /** After a batch the main thread waits for (WAITING), or that posted traces: it follows them. */
  | { readonly type: 'done'; readonly seq: number }
  | { readonly type: 'trace'; readonly message: string }
  | { readonly type: 'fault'; readonly kind: SandboxFaultKind; readonly message: string; readonly at?: SourceLocation };
