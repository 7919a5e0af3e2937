/**
 * The module sandbox as the agent sees it: one worker thread per module, a watchdog per batch,
 * and faults surfaced as SandboxFault. Batches cross to the worker through shared memory
 * (samples in, records out, a control word each way; see worker-protocol.ts), so a round trip
 * serialises nothing.
 * Owns: the worker's life, limits and fault reporting. Must not: parse manifests, fetch or
 * verify modules, or publish anything (the agent does); give a module any import beyond ABI v1.
 */
import { Worker } from 'node:worker_threads';
import { groupOutputs } from './group-outputs.js';
import type { DeclaredOutput } from './instance.js';
import { SandboxFault, type BatchOutput, type ModuleSandbox, type SandboxOptions } from './types.js';
import { CONTROL_SLOTS, COUNT, REQUEST, type ToMain, type WorkerInit } from './worker-protocol.js';

/** Worker boot, compile, start function and wf_init together; module code is a small part. */
export const DEFAULT_START_TIMEOUT_MS = 5000;

// The module's memory is external to V8's heap, so these bound only the host code in the worker.
const WORKER_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8, codeRangeSizeMb: 16, stackSizeMb: 4 };

interface Pending {
  resolve(message: ToMain): void;
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

  /** Waits for the worker's next answer, with the watchdog armed for `budgetMs`. */
  const awaitAnswer = (budgetMs: number, what: string, started?: () => void): Promise<ToMain> =>
    new Promise<ToMain>((resolve, reject) => {
      if (fault) return reject(fault);
      pending = { resolve, reject };
      watchdog = setTimeout(
        () => die(new SandboxFault('timeout', `${what} exceeded its budget of ${budgetMs} ms; worker terminated`)),
        budgetMs,
      );
      started?.();
    });

  worker.on('message', (message: ToMain) => {
    if (message.type === 'trace') return options.onTrace?.(message.message);
    if (message.type === 'fault') return die(new SandboxFault(message.kind, message.message));
    clearTimeout(watchdog);
    const waiting = pending;
    pending = undefined;
    waiting?.resolve(message);
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
    const ready = await awaitAnswer(options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, 'module start');
    outputs = (ready as Extract<ToMain, { type: 'ready' }>).outputs;
  } catch (error) {
    closed = true;
    await worker.terminate();
    throw error;
  }

  const records = new Float64Array(output);
  const slots = new Int32Array(control);

  /** Hands the batch over through the control words and wakes the worker if it sleeps. */
  const request = (count: number): void => {
    Atomics.store(slots, COUNT, count);
    Atomics.add(slots, REQUEST, 1);
    Atomics.notify(slots, REQUEST);
  };
  const inputTimes = new Float64Array(input, 0, batchCapacity);
  const inputValues = new Float64Array(input, batchCapacity * 8, batchCapacity);
  let queue: Promise<unknown> = Promise.resolve();

  const runOne = async (timestamps: Float64Array, values: Float64Array): Promise<BatchOutput> => {
    if (closed) throw new SandboxFault('crash', 'sandbox is closed');
    if (fault) throw fault;
    const count = values.length;
    inputTimes.set(timestamps);
    inputValues.set(values);
    const done = (await awaitAnswer(limits.cpuMsPerBatch, 'batch', () => request(count))) as Extract<ToMain, { type: 'done' }>;
    try {
      return groupOutputs(records, done.count, outputs, done.dropped);
    } catch (error) {
      const refused = new SandboxFault('trap', `host refused: ${(error as Error).message}`);
      die(refused);
      throw refused;
    }
  };

  return {
    process(timestamps, values) {
      if (timestamps.length !== values.length) {
        return Promise.reject(new RangeError(`timestamps (${timestamps.length}) and values (${values.length}) differ in length`));
      }
      if (values.length > batchCapacity) {
        return Promise.reject(new RangeError(`batch of ${values.length} samples exceeds batchCapacity ${batchCapacity}`));
      }
      // Batches share one input buffer, so they run strictly one after another.
      const run = queue.then(() => runOne(timestamps, values));
      queue = run.catch(() => undefined);
      return run;
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
