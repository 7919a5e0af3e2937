/**
 * Desired-state composition, kept pure so the rules are easy to test: a deployment replaces the
 * same-named module on a device and keeps the others; an identical entry is a no-op, so
 * redeploying what a device already runs never bumps its revision [WF-P-DS-1].
 */
import { PROTOCOL_VERSION, type DesiredModule, type DesiredState } from '../../protocol/index.js';

/** The parts of an entry that change what the agent runs; deploymentId is bookkeeping. */
const essence = (entry: DesiredModule): string =>
  JSON.stringify([entry.name, entry.version, entry.sha256, entry.size, sortKeys(entry.config), entry.input ?? null, entry.limits ?? null]);

function sortKeys(record: Record<string, unknown>): Array<[string, unknown]> {
  return Object.keys(record)
    .sort()
    .map((key) => [key, record[key]]);
}

export interface Composition {
  state: DesiredState;
  /** False when the device already has an identical entry: nothing to store or publish. */
  changed: boolean;
}

export function composeDesired(
  deviceId: string,
  current: DesiredState | null,
  currentRevision: number,
  entry: DesiredModule,
  issuedAt: string,
): Composition {
  const modules = current?.modules ?? [];
  const index = modules.findIndex((m) => m.name === entry.name);
  const existing = index >= 0 ? modules[index] : undefined;
  if (current && existing && essence(existing) === essence(entry)) return { state: current, changed: false };
  const next = [...modules];
  if (index >= 0) next[index] = entry;
  else next.push(entry);
  return {
    state: { v: PROTOCOL_VERSION, deviceId, revision: currentRevision + 1, issuedAt, modules: next },
    changed: true,
  };
}
