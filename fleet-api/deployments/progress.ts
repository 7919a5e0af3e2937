/**
 * Turns a device's reported state into deployment progress. A device counts as `applied` for a
 * deployment only once it reports that exact name, version and hash running at a revision at
 * least the one that carried the deployment, so an old report can never confirm a new rollout.
 * With no soak time an applied device is healthy at once; otherwise the rollout step judges it
 * when its soak ends (rollout.ts).
 */
import type { ReportedState } from '../../protocol/index.js';
import type { Store } from '../store/index.js';

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
      if (reported.faults > 0 && reported.state !== 'failed') {
        // Faulting already (a trap, a timeout): no need to wait for quarantine to call it unhealthy.
        store.setDeploymentDeviceState(row.deploymentId, state.deviceId, 'unhealthy', `module faulted ${reported.faults}x: ${reported.lastFault ?? reported.reason ?? 'no reason given'}`);
        updated += 1;
        settling = true;
      } else if (reported.state === 'running' && row.state === 'pending') {
        const healthy = row.soakSeconds === 0 && reported.faults === 0;
        store.setDeploymentDeviceApplied(row.deploymentId, state.deviceId, healthy ? 'healthy' : 'applied', now);
        updated += 1;
        if (healthy && !store.waveInFlight(row.deploymentId, state.deviceId)) settling = true;
      } else if (reported.state === 'failed') {
        store.setDeploymentDeviceState(row.deploymentId, state.deviceId, 'failed', `module failed: ${reported.reason ?? reported.lastFault ?? 'no reason given'}`);
        updated += 1;
        settling = true;
      }
    }
  });
  return { updated, settling };
}
