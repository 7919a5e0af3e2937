/** The deployment records the store hands out, their rows, and how one becomes the other (deployments.ts holds the queries). */
import type { Strategy } from '../deployments/strategy.js';
import type { DesiredModule, ModuleConfig, ModuleLimits } from '../../protocol/index.js';

export type DeviceDeploymentState =
  | 'waiting'
  | 'pending'
  | 'applied'
  | 'healthy'
  | 'failed'
  | 'unhealthy'
  | 'timed-out'
  | 'rolled-back'
  | 'cancelled'
  | 'superseded';
export const DEVICE_DEPLOYMENT_STATES: readonly DeviceDeploymentState[] = [
  'waiting', 'pending', 'applied', 'healthy', 'failed', 'unhealthy', 'timed-out', 'rolled-back', 'cancelled', 'superseded',
];
/** States that count against the failure threshold. */
export const FAILURE_STATES: readonly DeviceDeploymentState[] = ['failed', 'unhealthy', 'timed-out'];

export type DeploymentStatus = 'running' | 'paused' | 'completed' | 'aborted' | 'cancelled' | 'rolled-back' | 'superseded';
export const DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ['running', 'paused', 'completed', 'aborted', 'cancelled', 'rolled-back', 'superseded'];

export interface DeploymentTarget {
  devices?: string[];
  tags?: Record<string, string>;
  profile?: string;
}

export interface DeploymentRecord {
  id: string;
  module: string;
  version: string;
  sha256: string;
  target: DeploymentTarget;
  config: ModuleConfig;
  input: string | null;
  /** Runtime limits the deployment requests; null: none (the manifest's and profile's apply). */
  limits: ModuleLimits | null;
  createdAt: string;
  updatedAt: string | null;
  status: DeploymentStatus;
  statusReason: string | null;
  /** The strategy with its defaults filled (see deployments/strategy.ts). */
  strategy: Strategy;
  waves: number;
  currentWave: number;
  counts: Record<DeviceDeploymentState, number>;
}

/** What creating a deployment stores; the rest of the record is filled by the store and the rollout. */
export type NewDeploymentRecord = Pick<
  DeploymentRecord,
  'id' | 'module' | 'version' | 'sha256' | 'target' | 'config' | 'input' | 'limits' | 'strategy' | 'waves'
>;

/**
 * A deployment as the rollout step reads it: everything but the per-state counts, which the step
 * never reads and which cost a count over every row of the deployment (the step ran it twice a
 * second per live deployment: 10,000 rows each in a 10,000-device rollout).
 */
export type DeploymentPlan = Omit<DeploymentRecord, 'counts'>;

export interface DeploymentDeviceRecord {
  id: string;
  state: DeviceDeploymentState;
  reason: string | null;
  revision: number;
  updatedAt: string;
  wave: number;
  late: boolean;
  previous: DesiredModule | null;
  publishedAt: number | null;
  appliedAt: number | null;
}

/** Rows of one deployment counted by wave, late, state and whether they were sent (see waveTally). */
export interface WaveTally {
  wave: number;
  late: boolean;
  state: DeviceDeploymentState;
  /** True for rows with no send time (never sent, or pending behind an offline hub). */
  unsent: boolean;
  count: number;
  /** The earliest send time among them (ms), or null. */
  oldestPublishedAt: number | null;
}

/** A live row (pending or applied) for one device, joined with what it deploys. */
export interface ActiveDeviceDeployment {
  deploymentId: string;
  module: string;
  version: string;
  sha256: string;
  state: DeviceDeploymentState;
  reason: string | null;
  revision: number;
  soakSeconds: number;
}

export interface DeviceHistoryEntry {
  deploymentId: string;
  module: string;
  version: string;
  deploymentStatus: DeploymentStatus;
  state: DeviceDeploymentState;
  reason: string | null;
  revision: number;
  wave: number;
  late: boolean;
  publishedAt: string | null;
  appliedAt: string | null;
  updatedAt: string;
  createdAt: string;
}

export interface DeploymentRow {
  id: string;
  module: string;
  version: string;
  sha256: string;
  target: string;
  config: string;
  input: string | null;
  limits: string | null;
  created_at: string;
  updated_at: string | null;
  status: DeploymentStatus;
  status_reason: string | null;
  strategy: string;
  waves: number;
  current_wave: number;
}

export interface RowOfDevice {
  device_id: string;
  state: DeviceDeploymentState;
  reason: string | null;
  revision: number;
  updated_at: string;
  wave: number;
  late: number;
  previous: string | null;
  published_at: number | null;
  applied_at: number | null;
}

export const DEPLOYMENT_COLUMNS = 'id, module, version, sha256, target, config, input, limits, created_at, updated_at, status, status_reason, strategy, waves, current_wave';
export const DEVICE_COLUMNS = 'device_id, state, reason, revision, updated_at, wave, late, previous, published_at, applied_at';
export const COUNTS_SQL = `
  SELECT deployment_id, state, count(*) AS n FROM deployment_devices
  WHERE deployment_id IN (SELECT value FROM json_each(?)) GROUP BY deployment_id, state`;

export const emptyCounts = (): Record<DeviceDeploymentState, number> =>
  Object.fromEntries(DEVICE_DEPLOYMENT_STATES.map((s) => [s, 0])) as Record<DeviceDeploymentState, number>;

export const toDeviceRecord = (r: RowOfDevice): DeploymentDeviceRecord => ({
  id: r.device_id,
  state: r.state,
  reason: r.reason,
  revision: r.revision,
  updatedAt: r.updated_at,
  wave: r.wave,
  late: r.late === 1,
  previous: r.previous === null ? null : (JSON.parse(r.previous) as DesiredModule),
  publishedAt: r.published_at,
  appliedAt: r.applied_at,
});

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
