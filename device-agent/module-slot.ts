/**
 * One desired module entry as the reconciler holds it: its runner once it runs, or why it does not
 * (refused for good, or a fetch waiting for its retry), and what the reported state says of it.
 */
import { isDeepStrictEqual } from 'node:util';
import type { DesiredModule, ReportedModule } from '../protocol/index.js';
import type { ModuleRunner } from './module-runner.js';

export interface Slot {
  readonly key: string;
  readonly desired: DesiredModule;
  runner?: ModuleRunner;
  detach?: () => void;
  /** Why it will not run (verification, source, config, capacity): final for this entry. */
  failure?: string;
  /** Linear memory pages granted to its runner, counted against the profile's memory budget. */
  grantedPages?: number;
  /**
   * Why its last fetch failed, when that failure is worth another try (fetch-retry.ts): the link
   * dropped, the module was not there yet. It is still `starting`, and is retried.
   */
  retrying?: string;
  /**
   * Why the bytes that arrived did not verify (fetch-retry.ts): reported failed, yet fetched again
   * with the retries, since another delivery may carry the genuine module.
   */
  unverified?: string;
}

/** Whether its fetch is tried again with the timer and on redelivery. */
export function awaitsRefetch(slot: Slot): boolean {
  return slot.retrying !== undefined || slot.unverified !== undefined;
}

/** A deployment runs a module at most once on a device, so this names a running instance. */
export function slotKey(desired: DesiredModule): string {
  return `${desired.deploymentId}/${desired.name}`;
}

/** Whether a new entry differs from the running one in anything that needs a restart. */
export function isChanged(a: DesiredModule, b: DesiredModule): boolean {
  return (
    a.sha256 !== b.sha256 ||
    a.version !== b.version ||
    a.size !== b.size ||
    a.input !== b.input ||
    !isDeepStrictEqual(a.config, b.config) ||
    !isDeepStrictEqual(a.limits ?? {}, b.limits ?? {})
  );
}

export function reportSlot(slot: Slot): ReportedModule {
  if (slot.runner && slot.failure === undefined) return slot.runner.report();
  const { desired } = slot;
  // A fetch that will be tried again is not a failure [WF-P-T-3c]: the module is still starting.
  // Bytes that did not verify are, though they are fetched again.
  const failure = slot.failure ?? slot.unverified;
  const reason = failure ?? slot.retrying;
  return {
    name: desired.name,
    version: desired.version,
    sha256: desired.sha256,
    deploymentId: desired.deploymentId,
    state: failure !== undefined ? 'failed' : 'starting',
    ...(reason !== undefined ? { reason: reason.slice(0, 1000) } : {}),
    faults: 0,
    batches: 0,
  };
}
