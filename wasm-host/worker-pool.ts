/**
 * Booting a worker thread (a fresh V8 isolate that loads the worker's code) takes tens of
 * milliseconds; compiling and instantiating a typical module takes well under one. So one worker
 * is kept booted and idle: a module start takes it and sends its init, and a replacement boots
 * in the background. The spare is unref'd, so it never keeps a process alive, and costs one idle
 * isolate of memory (set the count to 0 on the smallest gateways).
 */
import type { Worker } from 'node:worker_threads';

/** Per-isolate caps, so a module cannot exhaust the gateway's heap through the worker itself. */
export const WORKER_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8, codeRangeSizeMb: 16, stackSizeMb: 4 };

const WORKER_URL = new URL('./worker.js', import.meta.url);

let spareCount = 1;
let spare: Worker | undefined;

/**
 * worker_threads, loaded on first use: an agent that runs modules metered (the default) never
 * needs it, and a built-in loaded at start costs resident memory for the agent's whole life.
 */
let WorkerThread: typeof Worker | undefined;
export async function loadWorkerThreads(): Promise<void> {
  WorkerThread ??= (await import('node:worker_threads')).Worker;
}

function boot(): Worker {
  if (!WorkerThread) throw new Error('worker pool used before loadWorkerThreads()');
  const worker = new WorkerThread(WORKER_URL, { resourceLimits: WORKER_LIMITS, stdout: true, stderr: true });
  worker.unref();
  return worker;
}

function refill(): void {
  if (spareCount === 0 || spare) return;
  const worker = boot();
  const forget = () => {
    if (spare === worker) spare = undefined;
  };
  worker.once('error', forget);
  worker.once('exit', forget);
  spare = worker;
}

/** A booted worker waiting for its `init` message; the caller owns it from now on. */
export function takeWorker(): Worker {
  const worker = spare ?? boot();
  spare = undefined;
  worker.removeAllListeners('error');
  worker.removeAllListeners('exit');
  worker.ref();
  // Module output only reaches the host through the ABI; anything printed is discarded. Resumed
  // only now: a flowing stream would keep the process alive for an idle spare.
  worker.stdout.resume();
  worker.stderr.resume();
  setImmediate(refill);
  return worker;
}

/** How many idle workers to keep booted (0 or 1); 0 also ends the current spare. */
export async function setSpareWorkers(count: 0 | 1): Promise<void> {
  await loadWorkerThreads();
  spareCount = count;
  if (count === 0 && spare) {
    const idle = spare;
    spare = undefined;
    await idle.terminate();
  } else refill();
}
