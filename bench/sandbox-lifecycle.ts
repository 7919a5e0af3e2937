/**
 * Module lifecycle costs: starting a sandbox (worker, compile, instantiate, wf_init) against a bare
 * compile + instantiate in the main thread, and how long the watchdog takes to stop a runaway
 * batch against the budget it was given.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startSandbox } from '../device-agent/sandbox/module-sandbox.js';
import { SandboxFault, type SandboxOptions } from '../device-agent/sandbox/types.js';
import { ensureBuilt } from '../modules-as/tools/build-examples.js';
import { fromRoot } from '../common/paths.js';
import { effectiveConfig } from '../protocol/index.js';
import { figure, median, type BenchFigure } from './figure.js';

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

export async function benchSandboxLifecycle(options: { starts?: number; runaways?: number } = {}): Promise<BenchFigure[]> {
  const ema = await optionsFor(fromRoot('modules-as', 'examples', 'ema'), 1000);

  const first = performance.now();
  await (await startSandbox(ema)).close();
  const firstMs = performance.now() - first;
  const starts: number[] = [];
  for (let i = 0; i < (options.starts ?? 15); i += 1) {
    // Modules start at apply time, not back to back: give the spare worker time to boot.
    await pause(120);
    const start = performance.now();
    const sandbox = await startSandbox(ema);
    starts.push(performance.now() - start);
    await sandbox.close();
  }
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
  const stops: number[] = [];
  for (let i = 0; i < (options.runaways ?? 3); i += 1) {
    const sandbox = await startSandbox(spin);
    const start = performance.now();
    // The spin fixture loops forever on a batch whose first value is above 100.
    const outcome = await sandbox.process(Float64Array.of(0), Float64Array.of(1000)).then(
      () => 'returned',
      (error: unknown) => (error instanceof SandboxFault ? error.kind : 'other'),
    );
    stops.push(performance.now() - start);
    await sandbox.close();
    if (outcome !== 'timeout') throw new Error(`runaway batch ended with ${outcome}, not a watchdog timeout`);
  }

  return [
    figure({
      bench: 'sandbox-lifecycle/instantiate',
      subject: `startSandbox(ema) after the first (median of ${starts.length}; first took ${firstMs.toFixed(1)} ms)`,
      baseline: 'bare compile + instantiate of the same binary in the main thread (median of 50)',
      unit: 'ms',
      subjectValue: median(starts),
      baselineValue: median(bare),
      note: `lower is better; target < 5 ms; includes worker hand-over, ABI check, wf_init and the ready message; max ${Math.max(...starts).toFixed(1)} ms`,
    }),
    figure({
      bench: 'sandbox-lifecycle/watchdog',
      subject: `runaway batch stopped (median of ${stops.length})`,
      baseline: 'its CPU budget',
      unit: 'ms',
      subjectValue: median(stops),
      baselineValue: budgetMs,
      note: `target ratio <= 2; worst ${Math.max(...stops).toFixed(1)} ms`,
    }),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchSandboxLifecycle(), null, 2));
}
