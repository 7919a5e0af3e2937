/**
 * The module sandbox as the agent sees it: one worker thread per module, a watchdog per batch,
 * and faults surfaced as SandboxFault. Batches cross to the worker through a ring of shared
 * slots (samples in, records out, control words each way; see worker-protocol.ts and ring.ts),
 * so a round trip serialises nothing, and a caller may hand over up to PIPELINE_DEPTH batches
 * before the first is answered. A batch that ends within MAIN_SPIN_MS of its caller awaiting it
 * is answered without a trip through the event loop; a longer one waits for a message.
 * Owns: the worker's life, limits and fault reporting. Must not: parse manifests, fetch or
 * verify modules, or publish anything (the agent does); give a module any import beyond ABI v1.
 */
import { createGrouper } from './group-outputs.js';
import { SandboxFault, type BatchOutput, type ModuleSandbox, type SandboxOptions } from './types.js';
import { BatchRing } from './ring.js';
import { loadWorkerThreads, takeWorker } from './worker-pool.js';
import { CONTROL_SLOTS, PIPELINE_DEPTH, slotInputs, type Ready, type ToMain, type WorkerInit } from './worker-protocol.js';
import { importedMemory } from '../protocol/abi.js';
import { batchProblem, budgetedMemoryPages, checkSandboxOptions, DEFAULT_START_TIMEOUT_MS } from './options.js';

interface Pending {
  resolve(message: ToMain): void;
  reject(fault: SandboxFault): void;
}

export async function startSandbox(options: SandboxOptions): Promise<ModuleSandbox> {
  checkSandboxOptions(options);
  const memoryPages = budgetedMemoryPages(options);
  await loadWorkerThreads();
  const { limits, batchCapacity } = options;
  // ABI 2 modules (shared memory import) take batches in their own input slots: no copy area.
  const sharedSlots = importedMemory(options.wasm)?.shared === true;
  const input = sharedSlots ? undefined : new SharedArrayBuffer(PIPELINE_DEPTH * batchCapacity * 16);
  const output = new SharedArrayBuffer(PIPELINE_DEPTH * limits.maxOutputsPerBatch * 24);
  const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const startedAt = new SharedArrayBuffer(8);
  const init: WorkerInit = {
    wasm: options.wasm.slice().buffer as ArrayBuffer,
    manifest: options.manifest,
    config: options.config,
    memoryPages,
    batchCapacity,
    maxOutputs: limits.maxOutputsPerBatch,
    input,
    output,
    control,
    startedAt,
  };
  const worker = takeWorker();
  worker.postMessage({ type: 'init', init }, [init.wasm]);

  let fault: SandboxFault | undefined;
  let closed = false;
  /** Only while starting; batches then go through `ring`. */
  let starting: Pending | undefined;
  let startTimer: NodeJS.Timeout | undefined;
  let ring: BatchRing | undefined;

  const die = (next: SandboxFault): void => {
    if (fault || closed) return;
    fault = next;
    clearTimeout(startTimer);
    void worker.terminate();
    const waiting = starting;
    starting = undefined;
    waiting?.reject(next);
    ring?.fail(next);
  };

  worker.on('message', (message: ToMain) => {
    if (message.type === 'trace') return options.onTrace?.(message.message);
    if (message.type === 'done') return ring?.done(message.seq);
    if (message.type === 'fault') {
      // Batches the worker answered before it failed keep their results.
      ring?.harvest();
      return die(new SandboxFault(message.kind, message.message, message.at));
    }
    clearTimeout(startTimer);
    const waiting = starting;
    starting = undefined;
    waiting?.resolve(message);
  });
  worker.on('error', (error: Error & { code?: string }) => {
    const why = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'worker ran out of heap' : error.message;
    die(new SandboxFault('crash', `worker crashed: ${why}`));
  });
  worker.on('exit', (code) => die(new SandboxFault('crash', `worker exited unexpectedly with code ${code}`)));

  const startBudgetMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  let ready: Ready;
  try {
    ready = (await new Promise<ToMain>((resolve, reject) => {
      if (fault) return reject(fault);
      starting = { resolve, reject };
      startTimer = setTimeout(
        () => die(new SandboxFault('timeout', `module start exceeded its budget of ${startBudgetMs} ms; worker terminated`)),
        startBudgetMs,
      );
    })) as Ready;
  } catch (error) {
    closed = true;
    await worker.terminate();
    throw error;
  }

  const batches = new BatchRing({
    control: new Int32Array(control),
    inputs: ready.slots ? slotInputs(ready.slots.memory.buffer, ready.slots.inputPtr, batchCapacity) : slotInputs(input!, 0, batchCapacity),
    output,
    startedAt,
    batchCapacity,
    maxOutputs: limits.maxOutputsPerBatch,
    cpuMsPerBatch: limits.cpuMsPerBatch,
    group: createGrouper(ready.outputs),
    onFault: die,
  });
  ring = batches;

  return {
    process(timestamps, values) {
      const refused = batchProblem(timestamps, values, batchCapacity);
      if (refused) return Promise.reject(refused);
      if (closed) return Promise.reject(new SandboxFault('crash', 'sandbox is closed'));
      if (fault) return Promise.reject(fault);
      return batches.submit(timestamps, values);
    },
    async close() {
      if (closed) return;
      batches.fail(fault ?? new SandboxFault('crash', 'sandbox closed while a batch was running'));
      closed = true;
      await worker.terminate();
    },
  };
}
