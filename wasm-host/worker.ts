/**
 * The worker thread that hosts exactly one module instance. It only moves numbers between the
 * shared buffers and the module's memory and reports faults; the watchdog, the grouping of
 * outputs and the public API live in the main thread (module-sandbox.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { compiledAbiProblem } from '../protocol/abi.js';
import { HostRefusal, classify, locateFault, startFault } from './faults.js';
import { SourceLocator } from './source-locator.js';
import { instantiateModule, warmUpWasm, type ModuleInstance } from './instance.js';
import {
  COUNT,
  DROPPED,
  PIPELINE_DEPTH,
  RECORDS,
  REQUEST,
  RESPONSE,
  STARTED,
  TRACED,
  WAITING,
  WORKER_SPIN_MS,
  epochMs,
  slotInputs,
  slotWord,
  type SlotInput,
  type ToMain,
  type WorkerInit,
} from './worker-protocol.js';

const port = parentPort!;
// A spare worker boots before it has a module (worker-pool.ts), so init usually arrives as the
// first message; workerData still works for a worker started with it.
// The port queues the init message until the listener below is attached, so warming up first
// cannot lose it.
if (!workerData) await warmUpWasm();
const init: WorkerInit =
  (workerData as WorkerInit | null) ??
  (await new Promise<WorkerInit>((resolve) => port.once('message', (message: { type: 'init'; init: WorkerInit }) => resolve(message.init))));
const post = (message: ToMain): void => port.postMessage(message);

const MAX_TRACES_PER_BATCH = 20;
let traces = 0;
const onTrace = (message: string): void => {
  if (++traces <= MAX_TRACES_PER_BATCH) post({ type: 'trace', message });
};

const control = new Int32Array(init.control);
const startedAt = new Float64Array(init.startedAt);
/** ABI 1: the ring's input slots, copied into the module's single input area per batch. */
const copiedInputs: SlotInput[] | undefined = init.input ? slotInputs(init.input, 0, init.batchCapacity) : undefined;
const slotOutputs = Array.from({ length: PIPELINE_DEPTH }, (_, slot) => new Float64Array(init.output, slot * init.maxOutputs * 24, init.maxOutputs * 3));
let instance: ModuleInstance | undefined;

function fail(error: unknown, during: 'start' | 'batch'): void {
  const classified = locateFault(classify(error, instance?.memory, init.memoryPages), error, SourceLocator.forBinary(new Uint8Array(init.wasm)));
  const fault = during === 'start' ? startFault(classified) : classified;
  post({ type: 'fault', kind: fault.kind, message: fault.message, ...(fault.at ? { at: fault.at } : {}) });
  port.close();
}

/** Returns once REQUEST moves past `seen`: a short poll first, then sleep. */
function nextRequest(seen: number): number {
  const spinUntil = performance.now() + WORKER_SPIN_MS;
  for (let i = 0; Atomics.load(control, REQUEST) === seen; i++) {
    if ((i & 63) === 0 && performance.now() > spinUntil) Atomics.wait(control, REQUEST, seen);
  }
  return Atomics.load(control, REQUEST);
}

function serve(module: ModuleInstance): void {
  // Starts from the initial value, not a fresh load: the main thread may already have posted
  // the first batches between our 'ready' message and this line.
  let seen = 0;
  for (;;) {
    const latest = nextRequest(seen);
    // Everything up to `latest` is ready; serving it back to back is where pipelining pays.
    while (seen !== latest) {
      const seq = (seen + 1) | 0;
      const slot = seq & (PIPELINE_DEPTH - 1);
      const count = Atomics.load(control, slotWord(seq, COUNT));
      traces = 0;
      startedAt[0] = epochMs();
      // Published after the time: a watchdog that reads this seq then the time never sees an
      // older start than the batch's own, so it cannot blame queue time on it.
      Atomics.store(control, STARTED, seq);
      try {
        let written: number;
        if (copiedInputs) {
          const input = copiedInputs[slot]!;
          module.write(input.times, input.values, count);
          written = module.run(count);
        } else written = module.run(count, slot);
        module.copyRecords(slotOutputs[slot]!, written);
        control[slotWord(seq, RECORDS)] = written;
        control[slotWord(seq, DROPPED)] = module.dropped();
        control[slotWord(seq, TRACED)] = traces;
        // The seq-cst store publishes the plain writes above; the main thread reads them after it.
        Atomics.store(control, RESPONSE, seq);
        // The main thread stopped polling and waits for a message (see waitAsync there).
        if (traces > 0 || Atomics.load(control, WAITING) === seq) post({ type: 'done', seq });
      } catch (error) {
        return fail(error, 'batch');
      }
      seen = seq;
    }
  }
}

async function start(): Promise<void> {
  const wasm = new Uint8Array(init.wasm);
  // Compiled once, here, for both the ABI check and instantiation.
  let compiled: WebAssembly.Module | undefined;
  let problem: string | undefined;
  if (!WebAssembly.validate(wasm)) problem = 'not a valid WebAssembly binary';
  else {
    try {
      compiled = new WebAssembly.Module(wasm);
      problem = compiledAbiProblem(compiled);
    } catch (error) {
      problem = `WebAssembly compile failed: ${(error as Error).message}`;
    }
  }
  if (problem || !compiled) {
    post({ type: 'fault', kind: 'invalid', message: problem ?? 'not compiled' });
    return port.close();
  }
  try {
    instance = await instantiateModule({
      wasm,
      compiled,
      manifest: init.manifest,
      config: init.config,
      memoryPages: init.memoryPages,
      batchCapacity: init.batchCapacity,
      maxOutputs: init.maxOutputs,
      slots: PIPELINE_DEPTH,
      onTrace,
    });
  } catch (error) {
    return fail(error, 'start');
  }
  if ((instance.abi === 2) !== (init.input === undefined)) {
    return fail(new HostRefusal(`the host prepared for ABI ${init.input ? 1 : 2}, the module is ABI ${instance.abi}`), 'start');
  }
  post({ type: 'ready', outputs: instance.outputs, ...(instance.abi === 2 ? { slots: { memory: instance.memory, inputPtr: instance.inputPtr } } : {}) });
  // From here the thread only serves batches; it ends when the main thread terminates it.
  serve(instance);
}

void start();
