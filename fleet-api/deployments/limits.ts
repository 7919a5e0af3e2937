/**
 * Runtime limits a deployment puts on its devices' desired entries. The manifest and the
 * deployment each *request* maxima; the entry carries, per key, the smaller of the two, and the
 * agent later grants the smaller of that and its profile's ceiling [docs/modules.md#runtime-limits].
 * A request above the profile's ceiling is therefore not an error: it simply grants the ceiling.
 */
import type { ModuleLimits } from '../../protocol/index.js';

const KEYS = ['memoryPages', 'cpuMsPerBatch', 'maxOutputsPerBatch'] as const satisfies ReadonlyArray<keyof ModuleLimits>;

/** Per key the smallest of the given requests; undefined when none requests anything. */
export function mergeLimits(...requests: ReadonlyArray<ModuleLimits | null | undefined>): ModuleLimits | undefined {
  const merged: ModuleLimits = {};
  for (const key of KEYS) {
    const values = requests.map((r) => r?.[key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) merged[key] = Math.min(...values);
  }
  return Object.keys(merged).length > 0 ? merged : undefined;
}
