/**
 * Starts an uploaded module once in the real sandbox before it is accepted, with its manifest
 * defaults. Only running it shows a binary that disagrees with its manifest (a param, metric or
 * event the manifest does not declare), needs more memory than any profile grants, or hangs or
 * traps in its start code; the agent would find out on every device instead.
 */
import { startSandbox } from '../../wasm-host/module-sandbox.js';
import { SandboxFault } from '../../wasm-host/types.js';
import { listProfileNames, loadProfile } from '../../firmware-profiles/index.js';
import { effectiveConfig, type Manifest } from '../../protocol/index.js';

/** Long enough for a slow start on a busy server, short enough to keep an upload request bounded. */
const TRIAL_START_TIMEOUT_MS = 3000;

let largestMemoryCeiling: number | undefined;

/** A module that cannot start within the most generous profile's memory runs nowhere. */
function memoryCeiling(): number {
  largestMemoryCeiling ??= Math.max(...listProfileNames().map((name) => loadProfile(name).moduleLimits.memoryPages));
  return largestMemoryCeiling;
}

export async function trialStartProblem(manifest: Manifest, wasm: Uint8Array<ArrayBuffer>): Promise<string | undefined> {
  try {
    const sandbox = await startSandbox({
      wasm,
      manifest,
      config: effectiveConfig(manifest, {}),
      limits: { memoryPages: memoryCeiling(), cpuMsPerBatch: TRIAL_START_TIMEOUT_MS, maxOutputsPerBatch: 1024 },
      batchCapacity: 1024,
      startTimeoutMs: TRIAL_START_TIMEOUT_MS,
    });
    await sandbox.close();
    return undefined;
  } catch (error) {
    if (error instanceof SandboxFault) return `it does not start with its manifest defaults: ${error.message}`;
    throw error;
  }
}
