/**
 * Turns a device's reported state into deployment progress. A device counts as `applied` for a
 * deployment only once it reports that exact name, version and hash running at a revision at
 * least the one that carried the deployment, so an old report can never confirm a new rollout.
 * With no soak time an applied device is healthy at once; otherwise the rollout step judges it
 * when its soak ends (rollout.ts).
 */
import type { ReportedState } from '../../protocol/index.js';
import type { Store } from '../store/index.js';

export function recordReportedState(store: Store, state: ReportedState, now: number = Date.now()): { updated: number } {
  let updated = 0;
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
      } else if (reported.state === 'running' && row.state === 'pending') {
        store.setDeploymentDeviceApplied(row.deploymentId, state.deviceId, row.soakSeconds === 0 && reported.faults === 0 ? 'healthy' : 'applied', now);
        updated += 1;
      } else if (reported.state === 'failed') {
        store.setDeploymentDeviceState(row.deploymentId, state.deviceId, 'failed', `module failed: ${reported.reason ?? reported.lastFault ?? 'no reason given'}`);
        updated += 1;
      }
    }
  });
  return { updated };
}
