/**
 * The module sandbox as the agent sees it: one worker thread per module, a watchdog per batch,
 * and faults surfaced as SandboxFault. Batches cross to the worker through shared memory
 * (samples in, records out, control words each way; see worker-protocol.ts), so a round trip
 * serialises nothing. A batch that ends within MAIN_SPIN_MS is answered without a trip through
 * the event loop; a longer one waits asynchronously under the watchdog.
 * Owns: the worker's life, limits and fault reporting. Must not: parse manifests, fetch or
 * verify modules, or publish anything (the agent does); give a module any import beyond ABI v1.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { createGrouper } from './group-outputs.js';
import type { DeclaredOutput } from './instance.js';
import { SandboxFault, type BatchOutput, type ModuleSandbox, type SandboxOptions } from './types.js';
import {
  CONTROL_SLOTS,
  COUNT,
  DROPPED,
  MAIN_SPIN_MS,
  RECORDS,
  REQUEST,
  RESPONSE,
  TRACED,
  WAITING,
  type ToMain,
  type WorkerInit,
} from './worker-protocol.js';

const SPIN_MISSES_BEFORE_BACKOFF = 4;
/** A power of two: batches are picked by their sequence number's low bits. */
const SPIN_PROBE_EVERY = 16;

/** Worker boot, compile, start function and wf_init together; module code is a small part. */
export const DEFAULT_START_TIMEOUT_MS = 5000;

// The module's memory is external to V8's heap, so these bound only the host code in the worker.
const WORKER_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8, codeRangeSizeMb: 16, stackSizeMb: 4 };

interface Pending {
  /** The batch this waits for; none while waiting for start. */
  readonly seq?: number;
  resolve(message?: ToMain): void;
  reject(fault: SandboxFault): void;
}


function checkOptions(options: SandboxOptions): void {
  const { limits, batchCapacity } = options;
  const positive = (value: number, name: string): void => {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  };
  positive(batchCapacity, 'batchCapacity');
  positive(limits.memoryPages, 'limits.memoryPages');
  positive(limits.cpuMsPerBatch, 'limits.cpuMsPerBatch');
  positive(limits.maxOutputsPerBatch, 'limits.maxOutputsPerBatch');
}

export async function startSandbox(options: SandboxOptions): Promise<ModuleSandbox> {
  checkOptions(options);
  const { limits, batchCapacity } = options;
  const input = new SharedArrayBuffer(batchCapacity * 16);
  const output = new SharedArrayBuffer(limits.maxOutputsPerBatch * 24);
  const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const slots = new Int32Array(control);
  const init: WorkerInit = {
    wasm: options.wasm.slice().buffer as ArrayBuffer,
    manifest: options.manifest,
    config: options.config,
    memoryPages: limits.memoryPages,
    batchCapacity,
    maxOutputs: limits.maxOutputsPerBatch,
    input,
    output,
    control,
  };
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: init,
    transferList: [init.wasm],
    resourceLimits: WORKER_LIMITS,
    stdout: true,
    stderr: true,
  });

  let fault: SandboxFault | undefined;
  let closed = false;
  let pending: Pending | undefined;
  let watchdog: NodeJS.Timeout | undefined;

  const die = (next: SandboxFault): void => {
    if (fault || closed) return;
    fault = next;
    clearTimeout(watchdog);
    void worker.terminate();
    const waiting = pending;
    pending = undefined;
    waiting?.reject(next);
  };

  const settle = (message?: ToMain): void => {
    clearTimeout(watchdog);
    const waiting = pending;
    pending = undefined;
    waiting?.resolve(message);
  };

  /** Waits for the worker's next `ready` or `done` message, with the watchdog armed for `budgetMs`. */
  const awaitMessage = (budgetMs: number, what: string): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      if (fault) return reject(fault);
      pending = { resolve, reject };
      watchdog = setTimeout(
        () => die(new SandboxFault('timeout', `${what} exceeded its budget of ${budgetMs} ms; worker terminated`)),
        budgetMs,
      );
    });

  worker.on('message', (message: ToMain) => {
    if (message.type === 'trace') return options.onTrace?.(message.message);
    if (message.type === 'fault') return die(new SandboxFault(message.kind, message.message));
    if (message.type === 'ready' || message.seq === pending?.seq) settle(message);
  });
  worker.on('error', (error: Error & { code?: string }) => {
    const why = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'worker ran out of heap' : error.message;
    die(new SandboxFault('crash', `worker crashed: ${why}`));
  });
  worker.on('exit', (code) => die(new SandboxFault('crash', `worker exited unexpectedly with code ${code}`)));
  // Module output only reaches the host through the ABI; anything printed is discarded.
  worker.stdout.resume();
  worker.stderr.resume();

  let outputs: readonly DeclaredOutput[];
  try {
    const ready = await awaitMessage(options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, 'module start');
    outputs = (ready as Extract<ToMain, { type: 'ready' }>).outputs;
  } catch (error) {
    closed = true;
    await worker.terminate();
    throw error;
  }

  const group = createGrouper(outputs);
  const records = new Float64Array(output);
  const inputTimes = new Float64Array(input, 0, batchCapacity);
  const inputValues = new Float64Array(input, batchCapacity * 8, batchCapacity);
  let seq = 0;

  /** Reads the answer the worker published in shared memory; it refuses what it cannot group. */
  const collect = (): BatchOutput => {
    try {
      return group(records, slots[RECORDS]!, slots[DROPPED]!);
    } catch (error) {
      const refused = new SandboxFault('trap', `host refused: ${(error as Error).message}`);
      die(refused);
      throw refused;
    }
  };

  /**
   * Polls RESPONSE for at most MAIN_SPIN_MS; true when the worker answered `expected`. The
   * clock is read every 32 polls only, as it costs more than a poll. A module whose batches
   * outlast the spin, or a machine too busy to run the worker, would have the main thread burn
   * the whole spin on every batch for nothing: after SPIN_MISSES_BEFORE_BACKOFF misses in a row
   * only one batch in SPIN_PROBE_EVERY spins, to notice when batches are quick again.
   */
  let misses = 0;
  const spinFor = (expected: number): boolean => {
    const backedOff = misses >= SPIN_MISSES_BEFORE_BACKOFF && (expected & (SPIN_PROBE_EVERY - 1)) !== 0;
    if (MAIN_SPIN_MS <= 0 || backedOff) return Atomics.load(slots, RESPONSE) === expected;
    const until = performance.now() + MAIN_SPIN_MS;
    for (let i = 1; Atomics.load(slots, RESPONSE) !== expected; i++) {
      if ((i & 31) === 0 && performance.now() > until) {
        misses++;
        return false;
      }
    }
    misses = 0;
    return true;
  };

  /**
   * The slow path, with the watchdog armed: the batch settles on the worker's `done` message.
   * WAITING asks for that message; the store-then-load here and the worker's RESPONSE
   * store-then-WAITING load are sequentially consistent, so at least one side sees the other and
   * the answer cannot be missed (a `done` for a batch already settled here is ignored).
   */
  const awaitResponse = (expected: number): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      if (fault) return reject(fault);
      pending = { resolve, reject, seq: expected };
      watchdog = setTimeout(
        () => die(new SandboxFault('timeout', `batch exceeded its budget of ${limits.cpuMsPerBatch} ms; worker terminated`)),
        limits.cpuMsPerBatch,
      );
      Atomics.store(slots, WAITING, expected);
      // A batch with traces always waits for its `done`, which follows the traces.
      if (Atomics.load(slots, RESPONSE) === expected && slots[TRACED] === 0) settle();
    });

  const runOne = (timestamps: Float64Array, values: Float64Array): BatchOutput | Promise<BatchOutput> => {
    if (closed) throw new SandboxFault('crash', 'sandbox is closed');
    if (fault) throw fault;
    const count = values.length;
    inputTimes.set(timestamps);
    inputValues.set(values);
    seq = (seq + 1) | 0;
    Atomics.store(slots, COUNT, count);
    Atomics.store(slots, REQUEST, seq);
    Atomics.notify(slots, REQUEST);
    if (spinFor(seq) && slots[TRACED] === 0) return collect();
    return awaitResponse(seq).then(collect);
  };

  // Batches share one input buffer, so they run strictly one after another: `busy` counts the
  // batches not yet settled and `tail` settles after the latest of them.
  let busy = 0;
  let tail: Promise<unknown> = Promise.resolve();
  const release = (): void => {
    busy--;
  };
  const queue = (run: Promise<BatchOutput>): Promise<BatchOutput> => {
    busy++;
    tail = run.then(release, release);
    return run;
  };

  return {
    process(timestamps, values) {
      if (timestamps.length !== values.length) {
        return Promise.reject(new RangeError(`timestamps (${timestamps.length}) and values (${values.length}) differ in length`));
      }
      if (values.length > batchCapacity) {
        return Promise.reject(new RangeError(`batch of ${values.length} samples exceeds batchCapacity ${batchCapacity}`));
      }
      if (busy > 0) return queue(tail.then(() => runOne(timestamps, values)));
      // Idle: the batch starts now, and usually ends within the spin, with no promise chain.
      let result: BatchOutput | Promise<BatchOutput>;
      try {
        result = runOne(timestamps, values);
      } catch (error) {
        return Promise.reject(error);
      }
      return result instanceof Promise ? queue(result) : Promise.resolve(result);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(watchdog);
      const waiting = pending;
      pending = undefined;
      waiting?.reject(fault ?? new SandboxFault('crash', 'sandbox closed while a batch was running'));
      await worker.terminate();
    },
  };
}
