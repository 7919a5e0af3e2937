/**
 * The worker thread that hosts exactly one module instance. It only moves numbers between the
 * shared buffers and the module's memory and reports faults; the watchdog, the grouping of
 * outputs and the public API live in the main thread (module-sandbox.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { abiProblem } from '../../protocol/abi.js';
import { classify } from './faults.js';
import { instantiateModule, type ModuleInstance } from './instance.js';
import { COUNT, DROPPED, RECORDS, REQUEST, RESPONSE, TRACED, WAITING, WORKER_SPIN_MS, type ToMain, type WorkerInit } from './worker-protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (message: ToMain): void => port.postMessage(message);

const MAX_TRACES_PER_BATCH = 20;
let traces = 0;
const onTrace = (message: string): void => {
  if (++traces <= MAX_TRACES_PER_BATCH) post({ type: 'trace', message });
};

const control = new Int32Array(init.control);
const input = new Float64Array(init.input);
const output = new Float64Array(init.output);
const inputTimes = input.subarray(0, init.batchCapacity);
const inputValues = input.subarray(init.batchCapacity);
let instance: ModuleInstance | undefined;

function fail(error: unknown, during: 'start' | 'batch'): void {
  const fault = classify(error, instance?.memory, init.memoryPages);
  // At start any module failure means it cannot run here: the caller sees it as invalid.
  post({ type: 'fault', kind: during === 'start' && fault.kind !== 'crash' ? 'invalid' : fault.kind, message: fault.message });
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
  // the first batch between our 'ready' message and this line.
  let seen = 0;
  // Batches mostly repeat their size, so the sized views are kept rather than made per batch.
  let sized = init.batchCapacity;
  let times = inputTimes;
  let values = inputValues;
  for (;;) {
    seen = nextRequest(seen);
    const count = Atomics.load(control, COUNT);
    traces = 0;
    if (count !== sized) {
      sized = count;
      times = inputTimes.subarray(0, count);
      values = inputValues.subarray(0, count);
    }
    try {
      module.write(times, values, count);
      const written = module.run(count);
      module.copyRecords(output, written);
      const dropped = module.dropped();
      control[RECORDS] = written;
      control[DROPPED] = dropped;
      control[TRACED] = traces;
      // The seq-cst store publishes the plain writes above; the main thread reads them after it.
      Atomics.store(control, RESPONSE, seen);
      // The main thread stopped polling and waits for a message (see awaitResponse there).
      if (traces > 0 || Atomics.load(control, WAITING) === seen) post({ type: 'done', seq: seen });
    } catch (error) {
      return fail(error, 'batch');
    }
  }
}

async function start(): Promise<void> {
  const wasm = new Uint8Array(init.wasm);
  const problem = abiProblem(wasm);
  if (problem) {
    post({ type: 'fault', kind: 'invalid', message: problem });
    return port.close();
  }
  try {
    instance = await instantiateModule({
      wasm,
      manifest: init.manifest,
      config: init.config,
      memoryPages: init.memoryPages,
      batchCapacity: init.batchCapacity,
      maxOutputs: init.maxOutputs,
      onTrace,
    });
  } catch (error) {
    return fail(error, 'start');
  }
  post({ type: 'ready', outputs: instance.outputs });
  // From here the thread only serves batches; it ends when the main thread terminates it.
  serve(instance);
}

void start();
