/** Shared by the sensor-source tests: configs through the profile schema, and draining a source. */
import type { Source } from '../../device-agent/sources/index.js';
import { parseProfile, type SourceConfig } from '../../firmware-profiles/index.js';

/** A validated source config (defaults filled), through the same schema profiles use. */
export function sourceConfig(source: Record<string, unknown>): SourceConfig {
  return parseProfile(
    {
      name: 'test',
      description: 'test',
      arch: 'x64',
      minNodeVersion: '20.19.0',
      heartbeatIntervalS: 10,
      batch: { intervalMs: 100, maxSamples: 64 },
      moduleLimits: { memoryPages: 16, cpuMsPerBatch: 100, maxOutputsPerBatch: 100, maxModules: 2 },
      sources: [source],
    },
    'test',
  ).sources[0]!;
}

/** Every value the source holds now. */
export function drain(source: Source): number[] {
  const values: number[] = [];
  for (let block = source.take(Date.now(), 1000); block; block = source.take(Date.now(), 1000)) values.push(...block.values);
  return values;
}
