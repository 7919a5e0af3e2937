/**
 * Module lifecycle costs, for both isolations: starting a sandbox (metered: rewrite with
 * checkpoints, compile, instantiate, wf_init on the agent's thread; worker: worker hand-over,
 * compile, instantiate, wf_init) against a bare compile + instantiate in the main thread, and how
 * long each takes to stop a runaway batch against the budget it was given.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startSandbox } from '../wasm-host/module-sandbox.js';
import { startMeteredSandbox } from '../wasm-host/metered-sandbox.js';
import type { ModuleSandbox } from '../wasm-host/types.js';
import { SandboxFault, type SandboxOptions } from '../wasm-host/types.js';
import { ensureBuilt } from '../modules-as/tools/build-examples.js';
import { fromRoot } from '../common/paths.js';
import { effectiveConfig } from '../protocol/index.js';
import { figure, median, type BenchFigure } from './figure.js';
import { abuseManifest, abuseModule, type Runaway } from '../test/fixtures/hostile/abuse-modules.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function optionsFor(dir: string, cpuMsPerBatch: number): Promise<SandboxOptions> {
  const built = await ensureBuilt(dir);
  return {
    wasm: built.bytes,
    manifest: built.manifest,
    config: effectiveConfig(built.manifest, {}),
    limits: { memoryPages: 16, cpuMsPerBatch, maxOutputsPerBatch: 1024 },
    batchCapacity: 1024,
  };
}

/**
 * The same module under a new hash (a custom section with a counter appended), so the metered
 * sandbox's compiled-module cache misses: the start of a module this agent has never run.
 */
let variant = 0;
function unseen(options: SandboxOptions): SandboxOptions {
  variant += 1;
  const name = new TextEncoder().encode('wf-bench');
  const payload = [name.length, ...name, variant & 0xff, (variant >> 8) & 0xff];
  return { ...options, wasm: Uint8Array.from([...options.wasm, 0x00, payload.length, ...payload]) };
}

async function startTimes(start: (options: SandboxOptions) => Promise<ModuleSandbox>, options: () => SandboxOptions, count: number): Promise<{ first: number; rest: number[] }> {
  const at = performance.now();
  await (await start(options())).close();
  const first = performance.now() - at;
  const rest: number[] = [];
  for (let i = 0; i < count; i += 1) {
    // Modules start at apply time, not back to back: give the spare worker time to boot.
    await pause(120);
    const began = performance.now();
    const sandbox = await start(options());
    rest.push(performance.now() - began);
    await sandbox.close();
  }
  return { first, rest };
}

/** A hand-assembled module whose wf_process loops over one bulk instruction forever (the hostile suite's fixture). */
function bulkRunaway(runaway: Runaway, cpuMsPerBatch: number): SandboxOptions {
  return { wasm: abuseModule({ runaway }), manifest: abuseManifest(`runaway-${runaway.replace('.', '-')}`), config: {}, limits: { memoryPages: 16, cpuMsPerBatch, maxOutputsPerBatch: 64 }, batchCapacity: 1024 };
}

async function runawayStops(start: (options: SandboxOptions) => Promise<ModuleSandbox>, spin: SandboxOptions, count: number): Promise<number[]> {
  const stops: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const sandbox = await start(spin);
    const began = performance.now();
    // The spin fixture loops forever on a batch whose first value is above 100.
    const outcome = await sandbox.process(Float64Array.of(0), Float64Array.of(1000)).then(
      () => 'returned',
      (error: unknown) => (error instanceof SandboxFault ? error.kind : 'other'),
    );
    stops.push(performance.now() - began);
    await sandbox.close();
    if (outcome !== 'timeout') throw new Error(`runaway batch ended with ${outcome}, not a timeout`);
  }
  return stops;
}

export async function benchSandboxLifecycle(options: { starts?: number; runaways?: number } = {}): Promise<BenchFigure[]> {
  const ema = await optionsFor(fromRoot('modules-as', 'examples', 'ema'), 1000);
  const count = options.starts ?? 15;
  const metered = await startTimes(startMeteredSandbox, () => ema, count);
  const meteredCold = await startTimes(startMeteredSandbox, () => unseen(ema), count);
  const worker = await startTimes(startSandbox, () => ema, count);
  const bare: number[] = [];
  for (let i = 0; i < 50; i += 1) {
    const start = performance.now();
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
    new WebAssembly.Instance(new WebAssembly.Module(ema.wasm as Uint8Array<ArrayBuffer>), {
      env: { memory, abort: () => undefined, trace: () => undefined, seed: () => 0 },
      wasmfleet: { param: () => 0.1, declare_metric: () => 0, declare_event: () => 0 },
    });
    bare.push(performance.now() - start);
  }

  const budgetMs = 100;
  const spin = await optionsFor(fromRoot('test', 'fixtures', 'hostile', 'spin'), budgetMs);
  const runaways = options.runaways ?? 3;
  const meteredStops = await runawayStops(startMeteredSandbox, spin, runaways);
  const workerStops = await runawayStops(startSandbox, spin, runaways);
  const bulkStops = new Map<string, number[]>();
  for (const runaway of ['table.fill', 'memory.fill'] as const) {
    bulkStops.set(`${runaway}/metered`, await runawayStops(startMeteredSandbox, bulkRunaway(runaway, budgetMs), runaways));
    bulkStops.set(`${runaway}/worker`, await runawayStops(startSandbox, bulkRunaway(runaway, budgetMs), runaways));
  }

  const bareLine = 'bare compile + instantiate of the same binary in the main thread (median of 50)';
  const startFigure = (bench: string, subject: string, times: { first: number; rest: number[] }, includes: string) =>
    figure({
      bench,
      subject: `${subject} (median of ${times.rest.length}; first took ${times.first.toFixed(1)} ms)`,
      baseline: bareLine,
      unit: 'ms',
      subjectValue: median(times.rest),
      baselineValue: median(bare),
      note: `lower is better; target < 5 ms; includes ${includes}; max ${Math.max(...times.rest).toFixed(1)} ms`,
    });
  const stopFigure = (bench: string, subject: string, stops: number[]) =>
    figure({
      bench,
      subject: `${subject} (median of ${stops.length})`,
      baseline: 'its CPU budget',
      unit: 'ms',
      subjectValue: median(stops),
      baselineValue: budgetMs,
      note: `target ratio <= 2; worst ${Math.max(...stops).toFixed(1)} ms`,
    });
  return [
    startFigure('sandbox-lifecycle/instantiate', 'startMeteredSandbox(ema) after the first, compiled module cached by hash', metered, 'the ABI check, instantiate and wf_init'),
    startFigure('sandbox-lifecycle/instantiate-unseen', 'startMeteredSandbox of a module never started before', meteredCold, 'the metering rewrite, compile, ABI check, instantiate and wf_init'),
    startFigure('sandbox-lifecycle/instantiate-worker', 'startSandbox(ema) (isolation: worker) after the first', worker, 'worker hand-over, compile, ABI check, wf_init and the ready message'),
    stopFigure('sandbox-lifecycle/watchdog', 'metered sandbox: runaway batch stopped by its checkpoints', meteredStops),
    stopFigure('sandbox-lifecycle/watchdog-worker', 'worker sandbox: runaway batch stopped by terminating the worker', workerStops),
    stopFigure('sandbox-lifecycle/table-fill', 'metered sandbox: a loop of table.fill (1024 entries) stopped by its length charges', bulkStops.get('table.fill/metered')!),
    stopFigure('sandbox-lifecycle/table-fill-worker', 'worker sandbox: a loop of table.fill (1024 entries) stopped by the watchdog', bulkStops.get('table.fill/worker')!),
    stopFigure('sandbox-lifecycle/memory-fill', 'metered sandbox: a loop of memory.fill (64 KiB) stopped by its length charges', bulkStops.get('memory.fill/metered')!),
    stopFigure('sandbox-lifecycle/memory-fill-worker', 'worker sandbox: a loop of memory.fill (64 KiB) stopped by the watchdog', bulkStops.get('memory.fill/worker')!),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchSandboxLifecycle(), null, 2));
}
