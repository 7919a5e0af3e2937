/** Deployments and their per-device progress rows. Composition policy lives in ../deployments/. */
import type { ModuleConfig } from '../../protocol/index.js';
import { nowIso, type Db } from './core.js';

export type DeviceDeploymentState = 'pending' | 'applied' | 'failed' | 'superseded';
export const DEVICE_DEPLOYMENT_STATES: readonly DeviceDeploymentState[] = ['pending', 'applied', 'failed', 'superseded'];

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
  createdAt: string;
  counts: Record<DeviceDeploymentState, number>;
}

export interface DeploymentDeviceRecord {
  id: string;
  state: DeviceDeploymentState;
  reason: string | null;
  revision: number;
  updatedAt: string;
}

/** A live (not superseded) row for one device, joined with what it deploys. */
export interface ActiveDeviceDeployment {
  deploymentId: string;
  module: string;
  version: string;
  sha256: string;
  state: DeviceDeploymentState;
  reason: string | null;
  revision: number;
}

interface DeploymentRow {
  id: string;
  module: string;
  version: string;
  sha256: string;
  target: string;
  config: string;
  input: string | null;
  created_at: string;
}

const COUNTS_SQL = `
  SELECT deployment_id, state, count(*) AS n FROM deployment_devices
  WHERE deployment_id IN (SELECT value FROM json_each(?)) GROUP BY deployment_id, state`;

export function deploymentOps(db: Db) {
  const insert = db.prepare(
    'INSERT INTO deployments (id, module, version, sha256, target, config, input, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertDevice = db.prepare(
    'INSERT INTO deployment_devices (deployment_id, device_id, module, state, reason, revision, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const supersede = db.prepare(
    `UPDATE deployment_devices SET state = 'superseded', reason = ?, updated_at = ?
     WHERE device_id = ? AND module = ? AND deployment_id != ? AND state != 'superseded'`,
  );
  const active = db.prepare(
    `SELECT dd.deployment_id, d.module, d.version, d.sha256, dd.state, dd.reason, dd.revision
     FROM deployment_devices dd JOIN deployments d ON d.id = dd.deployment_id
     WHERE dd.device_id = ? AND dd.state != 'superseded'`,
  );
  const setState = db.prepare('UPDATE deployment_devices SET state = ?, reason = ?, updated_at = ? WHERE deployment_id = ? AND device_id = ?');
  const get = db.prepare('SELECT id, module, version, sha256, target, config, input, created_at FROM deployments WHERE id = ?');
  const list = db.prepare('SELECT id, module, version, sha256, target, config, input, created_at FROM deployments ORDER BY created_at DESC, id DESC LIMIT ?');
  const devices = db.prepare(
    'SELECT device_id, state, reason, revision, updated_at FROM deployment_devices WHERE deployment_id = ? ORDER BY device_id',
  );
  const counts = db.prepare(COUNTS_SQL);

  const withCounts = (rows: DeploymentRow[]): DeploymentRecord[] => {
    const tally = new Map<string, Record<DeviceDeploymentState, number>>();
    for (const row of rows) tally.set(row.id, { pending: 0, applied: 0, failed: 0, superseded: 0 });
    const found = counts.all(JSON.stringify(rows.map((r) => r.id))) as Array<{ deployment_id: string; state: DeviceDeploymentState; n: number }>;
    for (const { deployment_id, state, n } of found) tally.get(deployment_id)![state] = n;
    return rows.map((row) => ({
      id: row.id,
      module: row.module,
      version: row.version,
      sha256: row.sha256,
      target: JSON.parse(row.target) as DeploymentTarget,
      config: JSON.parse(row.config) as ModuleConfig,
      input: row.input,
      createdAt: row.created_at,
      counts: tally.get(row.id)!,
    }));
  };

  return {
    insertDeployment(input: Omit<DeploymentRecord, 'counts' | 'createdAt'>): void {
      insert.run(input.id, input.module, input.version, input.sha256, JSON.stringify(input.target), JSON.stringify(input.config), input.input, nowIso());
    },
    insertDeploymentDevice(input: { deploymentId: string; deviceId: string; module: string; state: DeviceDeploymentState; reason: string | null; revision: number }): void {
      insertDevice.run(input.deploymentId, input.deviceId, input.module, input.state, input.reason, input.revision, nowIso());
    },
    /** Marks every older live row of this module on this device superseded by `byDeploymentId`. */
    supersedeOlder(deviceId: string, module: string, byDeploymentId: string): number {
      return supersede.run(`superseded by ${byDeploymentId}`, nowIso(), deviceId, module, byDeploymentId).changes;
    },
    activeDeploymentsOf(deviceId: string): ActiveDeviceDeployment[] {
      return (active.all(deviceId) as Array<Record<string, unknown>>).map((row) => ({
        deploymentId: row.deployment_id as string,
        module: row.module as string,
        version: row.version as string,
        sha256: row.sha256 as string,
        state: row.state as DeviceDeploymentState,
        reason: row.reason as string | null,
        revision: row.revision as number,
      }));
    },
    setDeploymentDeviceState(deploymentId: string, deviceId: string, state: DeviceDeploymentState, reason: string | null): void {
      setState.run(state, reason, nowIso(), deploymentId, deviceId);
    },
    getDeployment(id: string): (DeploymentRecord & { devices: DeploymentDeviceRecord[] }) | undefined {
      const row = get.get(id) as DeploymentRow | undefined;
      if (!row) return undefined;
      const [record] = withCounts([row]);
      const rows = devices.all(id) as Array<{ device_id: string; state: DeviceDeploymentState; reason: string | null; revision: number; updated_at: string }>;
      return {
        ...record!,
        devices: rows.map((r) => ({ id: r.device_id, state: r.state, reason: r.reason, revision: r.revision, updatedAt: r.updated_at })),
      };
    },
    listDeployments(limit = 1000): DeploymentRecord[] {
      return withCounts(list.all(limit) as DeploymentRow[]);
    },
  };
}

export type DeploymentOps = ReturnType<typeof deploymentOps>;
