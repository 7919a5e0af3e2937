/**
 * Runs a built module on samples with no broker: the same sandbox and the same limits the agent
 * would grant on a device of the given profile, so a module behaves locally as it will in the field.
 */
import { startSandbox } from '../../../wasm-host/module-sandbox.js';
import { SandboxFault, type BatchOutput } from '../../../wasm-host/types.js';
import { loadProfile } from '../../../firmware-profiles/index.js';
import { configProblem, effectiveConfig, grantLimits, type ModuleConfig } from '../../../protocol/index.js';
import type { BuiltModule } from './build-module.js';
import { moduleKitErrors } from './errors.js';
import type { Samples } from './samples-csv.js';

export interface LocalRunOptions {
  readonly config?: ModuleConfig;
  readonly batchSize?: number;
  /** Firmware profile whose module ceilings apply; sim-x86-64 by default. */
  readonly profile?: string;
}

/** Every batch's output joined in order: metrics merged by name in order of first appearance. */
export function mergeOutputs(outputs: readonly BatchOutput[]): BatchOutput {
  const metrics = new Map<string, [number, number][]>();
  const events: BatchOutput['events'] = [];
  let dropped = 0;
  for (const output of outputs) {
    for (const metric of output.metrics) {
      const points = metrics.get(metric.name) ?? [];
      points.push(...metric.points);
      metrics.set(metric.name, points);
    }
    events.push(...output.events);
    dropped += output.dropped;
  }
  return { metrics: [...metrics].map(([name, points]) => ({ name, points })), events, dropped };
}

export async function runModuleOnSamples(built: BuiltModule, samples: Samples, options: LocalRunOptions = {}): Promise<BatchOutput> {
  const profile = loadProfile(options.profile ?? 'sim-x86-64');
  const config = options.config ?? {};
  const problem = configProblem(built.manifest, config);
  if (problem) throw moduleKitErrors.WF_MODULE_CONFIG_INVALID({ reason: problem });
  const batchSize = options.batchSize ?? profile.batch.maxSamples;
  const { name, version } = built.manifest;
  const asKitError = (error: unknown, from: number, to: number): unknown =>
    error instanceof SandboxFault ? moduleKitErrors.WF_MODULE_FAULT({ name, version, kind: error.kind, reason: error.message, from, to }) : error;
  const sandbox = await startSandbox({
    wasm: built.bytes,
    manifest: built.manifest,
    config: effectiveConfig(built.manifest, config),
    limits: grantLimits(profile.moduleLimits, built.manifest.limits),
    batchCapacity: batchSize,
  }).catch((error: unknown) => {
    throw asKitError(error, 0, -1);
  });
  const outputs: BatchOutput[] = [];
  let start = 0;
  try {
    for (; start < samples.values.length; start += batchSize) {
      const end = Math.min(start + batchSize, samples.values.length);
      outputs.push(await sandbox.process(samples.timestamps.subarray(start, end), samples.values.subarray(start, end)));
    }
  } catch (error) {
    throw asKitError(error, start, Math.min(start + batchSize, samples.values.length) - 1);
  } finally {
    await sandbox.close();
  }
  return mergeOutputs(outputs);
}
