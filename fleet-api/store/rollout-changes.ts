/**
 * What changed in rollouts since a point in time, for the event bus's rollout observer
 * (fleet-api/events/rollout-observer.ts): deployment statuses and waves, and device rows by
 * their updated_at (indexed).
 */
import type { Db } from './core.js';

export interface DeploymentHead {
  id: string;
  status: string;
  statusReason: string | null;
  currentWave: number;
  waves: number;
}

export interface DeploymentDeviceChange {
  deploymentId: string;
  deviceId: string;
  state: string;
  reason: string | null;
  wave: number;
  updatedAt: string;
}

export type RolloutChangeOps = ReturnType<typeof rolloutChangeOps>;

export function rolloutChangeOps(db: Db) {
  const heads = db.prepare(
    `SELECT id, status, status_reason AS statusReason, current_wave AS currentWave, waves FROM deployments
     WHERE status IN ('running', 'paused') OR id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id`,
  );
  const changes = db.prepare(
    `SELECT deployment_id AS deploymentId, device_id AS deviceId, state, reason, wave, updated_at AS updatedAt
     FROM deployment_devices WHERE updated_at >= ? AND state != 'waiting' ORDER BY updated_at, deployment_id, device_id`,
  );
  const waveSize = db.prepare('SELECT count(*) FROM deployment_devices WHERE deployment_id = ? AND wave = ?').pluck();
  return {
    /** Running and paused deployments, and the ones named (to see them leave). */
    deploymentHeads(known: readonly string[]): DeploymentHead[] {
      return heads.all(JSON.stringify(known)) as DeploymentHead[];
    },
    deploymentDeviceChangesSince(at: string): DeploymentDeviceChange[] {
      return changes.all(at) as DeploymentDeviceChange[];
    },
    waveSize(deploymentId: string, wave: number): number {
      return waveSize.get(deploymentId, wave) as number;
    },
  };
}
