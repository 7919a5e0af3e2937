/**
 * The two writes a rollout makes to a device's desired state: sending it the deployment's entry
 * (remembering the entry it replaces), and rolling it back to that entry. Both compose a new,
 * higher revision, so an agent's rollback protection [WF-P-DS-1] holds: a rollback is a newer
 * desired state with older content. Both only write SQLite; the caller publishes the device.
 */
import type { DesiredModule, DesiredState } from '../../protocol/index.js';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import type { DeploymentDeviceRecord, Store } from '../store/index.js';
import { composeDesired } from './compose.js';
import { deviceProblem } from './create.js';
import type { FirmwareProfile } from '../../firmware-profiles/index.js';

export type DispatchOutcome = 'published' | 'unchanged' | 'refused' | 'gone';

/**
 * Sends `entry` to one waiting device. Returns 'published' when its desired state changed (the
 * caller publishes it), 'unchanged' when it already had the entry, 'refused' when its profile
 * cannot take it (the row fails with the reason), 'gone' when the device was deleted.
 */
export function dispatchDevice(
  store: Store,
  deploymentId: string,
  deviceId: string,
  entry: DesiredModule,
  soakSeconds: number,
  profileOf: (name: string) => FirmwareProfile,
  now: number,
): DispatchOutcome {
  const device = store.getDevice(deviceId);
  if (!device) return 'gone';
  let refused: string | null;
  try {
    refused = deviceProblem(store, device, entry, profileOf(device.profile))?.reason ?? null;
  } catch (error) {
    refused = `profile ${device.profile} cannot be loaded: ${(error as Error).message}`;
  }
  if (refused) {
    store.setDeploymentDeviceState(deploymentId, deviceId, 'failed', refused);
    return 'refused';
  }
  const previous = device.desired?.modules.find((m) => m.name === entry.name) ?? null;
  const composed = composeDesired(device.id, device.desired, device.desiredRevision, entry, new Date(now).toISOString());
  store.supersedeOlder(deviceId, entry.name, deploymentId);
  if (composed.changed) {
    store.setDesired(deviceId, composed.state);
    store.setDeploymentDeviceDispatched({ deploymentId, deviceId, state: 'pending', reason: null, revision: composed.state.revision, previous, publishedAt: now, appliedAt: null });
    return 'published';
  }
  // Already desired (an identical entry): it counts as applied once the device reports it running.
  const running = device.reported?.modules.some((m) => m.name === entry.name && m.sha256 === entry.sha256 && m.state === 'running') && device.reportedRevision >= device.desiredRevision;
  store.setDeploymentDeviceDispatched({
    deploymentId,
    deviceId,
    state: running ? (soakSeconds === 0 ? 'healthy' : 'applied') : 'pending',
    reason: null,
    revision: device.desiredRevision,
    previous,
    publishedAt: now,
    appliedAt: running ? now : null,
  });
  return 'unchanged';
}

/**
 * Puts back the entry this deployment replaced on one device (or removes the module if there was
 * none). Returns true when the desired state changed and must be published. A device whose entry
 * for the module is no longer this deployment's (a newer one took over) is left alone.
 */
export function rollBackDevice(store: Store, deploymentId: string, row: DeploymentDeviceRecord, why: string, now: number): boolean {
  const device = store.getDevice(row.id);
  if (!device) return false;
  const current = device.desired?.modules ?? [];
  const index = current.findIndex((m) => m.deploymentId === deploymentId);
  const previousLabel = row.previous ? `${row.previous.name}@${row.previous.version}` : 'no module';
  const reason = `${row.reason ? row.reason + '; ' : ''}rolled back to ${previousLabel}: ${why}`;
  if (index < 0) {
    store.setDeploymentDeviceState(deploymentId, row.id, 'rolled-back', `${row.reason ? row.reason + '; ' : ''}not rolled back: the device no longer runs this deployment`);
    return false;
  }
  const modules = [...current];
  if (row.previous) modules[index] = row.previous;
  else modules.splice(index, 1);
  const state: DesiredState = { v: PROTOCOL_VERSION, deviceId: device.id, revision: device.desiredRevision + 1, issuedAt: new Date(now).toISOString(), modules };
  store.setDesired(device.id, state);
  store.setDeploymentDeviceState(deploymentId, row.id, 'rolled-back', reason);
  return true;
}
