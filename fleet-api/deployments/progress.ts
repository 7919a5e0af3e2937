/**
 * Turns a device's reported state into deployment progress. A device counts as `applied` for a
 * deployment only once it reports that exact name, version and hash running at a revision at
 * least the one that carried the deployment, so an old report can never confirm a new rollout.
 * With no soak time an applied device is healthy at once; otherwise the rollout step judges it
 * when its soak ends (rollout.ts).
 *
 * A module still `starting` with a reason is one the agent could not fetch yet and keeps trying
 * [WF-P-T-3c]: not a failure; the row stays pending, says why, and the apply timeout judges it.
 * A `failed` row recovers when the device later reports the same deployment's module running
 * without a fault, as long as its rollout is running, paused or completed (an aborted one has
 * rolled the device back already): an older agent reports a fetch that will be retried as
 * failed, and the retry that succeeds must not leave a device counted against the threshold
 * while it runs the module (docs/rollouts.md §Device states).
 */
import type { ReportedModule, ReportedState } from '../../protocol/index.js';
import type { ActiveDeviceDeployment, Store } from '../store/index.js';

type RowChange =
  | { to: 'applied' }
  | { to: 'unhealthy' | 'failed'; reason: string }
  /** Still pending: the agent retries the fetch, and the row says why. */
  | { to: 'pending'; reason: string };

/** The pending row's reason while the agent retries; the apply timeout keeps it (rollout.ts). */
export const retryingReason = (agentReason: string): string => `still starting, the agent retries: ${agentReason}`;

function changeOf(row: ActiveDeviceDeployment, reported: ReportedModule): RowChange | undefined {
  if (row.state === 'failed') {
    const recovered = reported.state === 'running' && reported.faults === 0 && reported.deploymentId === row.deploymentId;
    return recovered ? { to: 'applied' } : undefined;
  }
  // Faulting already (a trap, a timeout): no need to wait for quarantine to call it unhealthy.
  if (reported.faults > 0 && reported.state !== 'failed') return { to: 'unhealthy', reason: `module faulted ${reported.faults}x: ${reported.lastFault ?? reported.reason ?? 'no reason given'}` };
  if (reported.state === 'running' && row.state === 'pending') return { to: 'applied' };
  if (reported.state === 'failed') return { to: 'failed', reason: `module failed: ${reported.reason ?? reported.lastFault ?? 'no reason given'}` };
  if (reported.state === 'starting' && reported.reason !== undefined && row.state === 'pending') {
    const reason = retryingReason(reported.reason);
    return reason === row.reason ? undefined : { to: 'pending', reason };
  }
  return undefined;
}

/**
 * `settling`: a row this report changed may let a rollout step do something now, so one should run
 * soon: a failure (the threshold may trip) or the last device of its wave turning healthy (the next
 * wave, or completion). Anything else a step does (apply timeouts, soak ends, rate budgets) waits for
 * time, which the rollout job's tick covers; nudging a step per report made the API read every row
 * of a 10,000-device rollout again and again while its reports waited.
 */
export function recordReportedState(store: Store, state: ReportedState, now: number = Date.now()): { updated: number; settling: boolean } {
  let updated = 0;
  let settling = false;
  store.transaction(() => {
    if (!store.setReported(state.deviceId, state)) return;
    for (const row of store.activeDeploymentsOf(state.deviceId)) {
      if (state.revision < row.revision) continue;
      const reported = state.modules.find((m) => m.name === row.module && m.version === row.version && m.sha256 === row.sha256);
      if (!reported) continue;
      const change = changeOf(row, reported);
      if (!change) continue;
      updated += 1;
      if (change.to === 'applied') {
        const healthy = row.soakSeconds === 0;
        store.setDeploymentDeviceApplied(row.deploymentId, state.deviceId, healthy ? 'healthy' : 'applied', now);
        if (healthy && !store.waveInFlight(row.deploymentId, state.deviceId)) settling = true;
      } else {
        store.setDeploymentDeviceState(row.deploymentId, state.deviceId, change.to, change.reason);
        if (change.to !== 'pending') settling = true;
      }
    }
  });
  return { updated, settling };
}
