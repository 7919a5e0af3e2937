/**
 * Starts an uploaded module once before it is accepted, with its manifest defaults, under the
 * limits the most generous profile grants. First the caps a device checks before compiling
 * (tables, functions, code: wasm-host/footprint.ts), then a start in the metered sandbox in a
 * child process of its own (wasm-host/trial.ts), so no upload can reach the server's heap or
 * event loop. Only running it shows a binary that disagrees with its manifest (a param, metric
 * or event the manifest does not declare), needs more memory than any profile grants, or hangs
 * or traps in its start code; the agent would find out on every device instead.
 */
import { capProblem, linearMemoryPages, moduleFootprint, type CapProblem } from '../../wasm-host/footprint.js';
import { trialStart } from '../../wasm-host/trial.js';
import { listProfileNames, loadProfile } from '../../firmware-profiles/index.js';
import { effectiveConfig, importedMemoryMinimum, type Manifest } from '../../protocol/index.js';

/** Long enough for a slow start on a busy server, short enough to keep an upload request bounded. */
const TRIAL_START_TIMEOUT_MS = 3000;

let largestLimits: { memoryPages: number; maxOutputsPerBatch: number } | undefined;

/** A module that cannot start within the most generous profile's limits runs nowhere. */
function largestModuleLimits(): { memoryPages: number; maxOutputsPerBatch: number } {
  largestLimits ??= listProfileNames()
    .map((name) => loadProfile(name).moduleLimits)
    .reduce((most, limits) => ({ memoryPages: Math.max(most.memoryPages, limits.memoryPages), maxOutputsPerBatch: Math.max(most.maxOutputsPerBatch, limits.maxOutputsPerBatch) }), { memoryPages: 1, maxOutputsPerBatch: 1 });
  return largestLimits;
}

/** The cap or memory budget every device would refuse the module for, as data; undefined when none. */
export function overLimitProblem(wasm: Uint8Array): CapProblem | undefined {
  const footprint = moduleFootprint(wasm);
  const capped = capProblem(footprint);
  if (capped) return capped;
  const granted = linearMemoryPages(footprint, largestModuleLimits().memoryPages, importedMemoryMinimum(wasm) ?? 1);
  return 'reason' in granted ? granted : undefined;
}

export async function trialStartProblem(manifest: Manifest, wasm: Uint8Array<ArrayBuffer>): Promise<string | undefined> {
  const limits = largestModuleLimits();
  const outcome = await trialStart({
    wasm,
    manifest,
    config: effectiveConfig(manifest, {}),
    limits: { memoryPages: limits.memoryPages, cpuMsPerBatch: TRIAL_START_TIMEOUT_MS, maxOutputsPerBatch: limits.maxOutputsPerBatch },
    batchCapacity: 1024,
    startTimeoutMs: TRIAL_START_TIMEOUT_MS,
  });
  return outcome.ok ? undefined : `it does not start with its manifest defaults: ${outcome.reason}`;
}
