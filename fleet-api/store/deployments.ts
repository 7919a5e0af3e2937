/** Deployments, their rollout life cycle and per-device progress rows. Policy lives in ../deployments/. */
import type { Strategy } from '../deployments/strategy.js';
import type { DesiredModule, ModuleConfig, ModuleLimits } from '../../protocol/index.js';
import { nowIso, type Db } from './core.js';
import { statementCache } from './statements.js';
import {
  COUNTS_SQL,
  DEPLOYMENT_COLUMNS,
  DEVICE_COLUMNS,
  emptyCounts,
  iso,
  toDeviceRecord,
  type ActiveDeviceDeployment,
  type DeploymentDeviceRecord,
  type DeploymentPlan,
  type DeploymentRecord,
  type DeploymentRow,
  type DeploymentStatus,
  type DeploymentTarget,
  type DeviceDeploymentState,
  type DeviceHistoryEntry,
  type NewDeploymentRecord,
  type RowOfDevice,
  type WaveTally,
} from './deployment-records.js';

export * from './deployment-records.js';

export function deploymentOps(db: Db) {
  const insert = db.prepare(
    `INSERT INTO deployments (id, module, version, sha256, target, config, input, limits, created_at, updated_at, status, strategy, waves, current_wave)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, 0)`,
  );
  const insertDevice = db.prepare(
    'INSERT INTO deployment_devices (deployment_id, device_id, module, state, reason, revision, updated_at, wave, late) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const supersede = db.prepare(
    `UPDATE deployment_devices SET state = 'superseded', reason = ?, updated_at = ?
     WHERE device_id = ? AND module = ? AND deployment_id != ? AND state NOT IN ('superseded', 'rolled-back', 'cancelled')`,
  );
  // `+state` keeps SQLite on the per-device index: on the state index it walked every waiting row
  // once per device, i.e. the whole new rollout for each of its devices (quadratic: most of a
  // 10,000-device POST /deployments).
  const supersedeWaiting = db.prepare(
    `UPDATE deployment_devices SET state = 'superseded', reason = ?, updated_at = ?
     WHERE device_id = ? AND module = ? AND deployment_id != ? AND +state = 'waiting'`,
  );
  // A failed row of a live rollout is read too: a later report of the module running recovers it
  // (progress.ts). `+state` keeps SQLite on the per-device index.
  const active = db.prepare(
    `SELECT dd.deployment_id, d.module, d.version, d.sha256, dd.state, dd.reason, dd.revision, d.strategy
     FROM deployment_devices dd JOIN deployments d ON d.id = dd.deployment_id
     WHERE dd.device_id = ? AND (+dd.state IN ('pending', 'applied') OR (+dd.state = 'failed' AND d.status IN ('running', 'paused', 'completed')))`,
  );
  // On the state index: few rows are in flight once a wave nears its end, and at its start the
  // first row found answers.
  const waveInFlight = db.prepare(
    `SELECT 1 FROM deployment_devices INDEXED BY deployment_devices_by_state
     WHERE state IN ('waiting', 'pending', 'applied') AND deployment_id = ?
       AND wave = (SELECT wave FROM deployment_devices WHERE deployment_id = ? AND device_id = ?) LIMIT 1`,
  ).pluck();
  const setState = db.prepare('UPDATE deployment_devices SET state = ?, reason = ?, updated_at = ? WHERE deployment_id = ? AND device_id = ?');
  const setApplied = db.prepare(
    'UPDATE deployment_devices SET state = ?, reason = NULL, applied_at = ?, updated_at = ? WHERE deployment_id = ? AND device_id = ?',
  );
  const setDispatched = db.prepare(
    'UPDATE deployment_devices SET state = ?, reason = ?, revision = ?, previous = ?, published_at = ?, applied_at = ?, updated_at = ? WHERE deployment_id = ? AND device_id = ?',
  );
  const get = db.prepare(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments WHERE id = ?`);
  const list = db.prepare(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments ORDER BY rowid DESC LIMIT ? + 0`);
  const devices = db.prepare(`SELECT ${DEVICE_COLUMNS} FROM deployment_devices WHERE deployment_id = ? ORDER BY wave, device_id`);
  const counts = db.prepare(COUNTS_SQL);
  const tally = db.prepare(
    `SELECT wave, late, state, published_at IS NULL AS unsent, count(*) AS n, min(published_at) AS oldest
     FROM deployment_devices WHERE deployment_id = ? GROUP BY wave, late, state, unsent`,
  );
  const setStatus = db.prepare('UPDATE deployments SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?');
  const setWave = db.prepare('UPDATE deployments SET current_wave = ?, status_reason = ?, updated_at = ? WHERE id = ?');
  const setWaves = db.prepare('UPDATE deployments SET waves = ? WHERE id = ?');
  const progressing = db.prepare(
    `SELECT ${DEPLOYMENT_COLUMNS} FROM deployments WHERE status IN ('running', 'paused')
     OR id IN (SELECT DISTINCT deployment_id FROM deployment_devices WHERE state IN ('waiting', 'pending', 'applied'))
     ORDER BY rowid`,
  );
  const live = db.prepare(`SELECT ${DEPLOYMENT_COLUMNS}, rowid AS seq FROM deployments WHERE status IN ('running', 'paused', 'completed') ORDER BY rowid DESC`);
  const history = db.prepare(
    `SELECT dd.deployment_id, d.module, d.version, d.status, dd.state, dd.reason, dd.revision, dd.wave, dd.late, dd.published_at, dd.applied_at, dd.updated_at, d.created_at
     FROM deployment_devices dd JOIN deployments d ON d.id = dd.deployment_id WHERE dd.device_id = ? ORDER BY d.rowid DESC LIMIT ? + 0`,
  );
  const resultsSince = db.prepare('SELECT 1 FROM result_batches WHERE device_id = ? AND module = ? AND version = ? AND received_at >= ? LIMIT 1').pluck();
  const statements = statementCache(db);
  const joinable = watchJoinable(db);

  const planOf = (row: DeploymentRow): DeploymentPlan => ({
    id: row.id,
    module: row.module,
    version: row.version,
    sha256: row.sha256,
    target: JSON.parse(row.target) as DeploymentTarget,
    config: JSON.parse(row.config) as ModuleConfig,
    input: row.input,
    limits: row.limits === null ? null : (JSON.parse(row.limits) as ModuleLimits),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    status: row.status,
    statusReason: row.status_reason,
    strategy: JSON.parse(row.strategy) as Strategy,
    waves: row.waves,
    currentWave: row.current_wave,
  });

  const withCounts = (rows: DeploymentRow[]): DeploymentRecord[] => {
    const tally = new Map<string, Record<DeviceDeploymentState, number>>();
    for (const row of rows) tally.set(row.id, emptyCounts());
    const found = counts.all(JSON.stringify(rows.map((r) => r.id))) as Array<{ deployment_id: string; state: DeviceDeploymentState; n: number }>;
    for (const { deployment_id, state, n } of found) tally.get(deployment_id)![state] = n;
    return rows.map((row) => ({ ...planOf(row), counts: tally.get(row.id)! }));
  };

  return {
    /** `limits` is null or has at least one key (createDeployment turns an empty request into null). */
    insertDeployment(input: NewDeploymentRecord): void {
      const now = nowIso();
      const limits = input.limits ? JSON.stringify(input.limits) : null;
      insert.run(
        input.id, input.module, input.version, input.sha256, JSON.stringify(input.target), JSON.stringify(input.config), input.input, limits,
        now, now, JSON.stringify(input.strategy), input.waves,
      );
    },
    insertDeploymentDevice(input: { deploymentId: string; deviceId: string; module: string; state: DeviceDeploymentState; reason: string | null; revision: number; wave?: number; late?: boolean }): void {
      insertDevice.run(input.deploymentId, input.deviceId, input.module, input.state, input.reason, input.revision, nowIso(), input.wave ?? 0, input.late ? 1 : 0);
    },
    /** Marks every older live row of this module on this device superseded by `byDeploymentId`. */
    supersedeOlder(deviceId: string, module: string, byDeploymentId: string): number {
      return supersede.run(`superseded by ${byDeploymentId}`, nowIso(), deviceId, module, byDeploymentId).changes;
    },
    /** Older rollouts stop before reaching this device: a newer deployment of the module will. */
    supersedeWaiting(deviceId: string, module: string, byDeploymentId: string): number {
      return supersedeWaiting.run(`superseded by ${byDeploymentId} before its wave`, nowIso(), deviceId, module, byDeploymentId).changes;
    },
    /** Whether the wave this device's row is in still has a row waiting, pending or applied. */
    waveInFlight(deploymentId: string, deviceId: string): boolean {
      return waveInFlight.get(deploymentId, deploymentId, deviceId) !== undefined;
    },
    /** Rows of this device its reported state can move: pending, applied, and failed in a running, paused or completed rollout. */
    activeDeploymentsOf(deviceId: string): ActiveDeviceDeployment[] {
      return (active.all(deviceId) as Array<Record<string, unknown>>).map((row) => ({
        deploymentId: row.deployment_id as string,
        module: row.module as string,
        version: row.version as string,
        sha256: row.sha256 as string,
        state: row.state as DeviceDeploymentState,
        reason: row.reason as string | null,
        revision: row.revision as number,
        soakSeconds: Number((JSON.parse(row.strategy as string) as Partial<Strategy>).soakSeconds ?? 0),
      }));
    },
    setDeploymentDeviceState(deploymentId: string, deviceId: string, state: DeviceDeploymentState, reason: string | null): void {
      setState.run(state, reason, nowIso(), deploymentId, deviceId);
    },
    /** The device runs this deployment's module since `at` (ms); `state` is applied, or healthy when there is no soak. */
    setDeploymentDeviceApplied(deploymentId: string, deviceId: string, state: 'applied' | 'healthy', at: number): void {
      setApplied.run(state, at, nowIso(), deploymentId, deviceId);
    },
    setDeploymentDeviceDispatched(input: {
      deploymentId: string;
      deviceId: string;
      state: DeviceDeploymentState;
      reason: string | null;
      revision: number;
      previous: DesiredModule | null;
      /** null on a pending row: sent, but behind an offline hub; its apply timeout has not started (rollout.ts). */
      publishedAt: number | null;
      appliedAt: number | null;
    }): void {
      setDispatched.run(
        input.state, input.reason, input.revision, input.previous === null ? null : JSON.stringify(input.previous),
        input.publishedAt, input.appliedAt, nowIso(), input.deploymentId, input.deviceId,
      );
    },
    setDeploymentStatus(id: string, status: DeploymentStatus, reason: string | null): void {
      setStatus.run(status, reason, nowIso(), id);
    },
    setDeploymentWave(id: string, wave: number, reason: string | null): void {
      setWave.run(wave, reason, nowIso(), id);
    },
    setDeploymentWaves(id: string, waves: number): void {
      setWaves.run(waves, id);
    },
    getDeployment(id: string): (DeploymentRecord & { devices: DeploymentDeviceRecord[] }) | undefined {
      const row = get.get(id) as DeploymentRow | undefined;
      if (!row) return undefined;
      const [record] = withCounts([row]);
      return { ...record!, devices: (devices.all(id) as RowOfDevice[]).map(toDeviceRecord) };
    },
    deploymentDevices(id: string): DeploymentDeviceRecord[] {
      return (devices.all(id) as RowOfDevice[]).map(toDeviceRecord);
    },
    /**
     * A deployment's rows counted by wave, late, state and sent, in one aggregate query: what a
     * rollout step needs to see that nothing is due, without reading every row (rollout.ts).
     */
    waveTally(id: string): WaveTally[] {
      return (tally.all(id) as Array<{ wave: number; late: number; state: DeviceDeploymentState; unsent: number; n: number; oldest: number | null }>).map((r) => ({
        wave: r.wave,
        late: r.late === 1,
        state: r.state,
        unsent: r.unsent === 1,
        count: r.n,
        oldestPublishedAt: r.oldest,
      }));
    },
    listDeployments(limit = 1000): DeploymentRecord[] {
      return withCounts(list.all(limit) as DeploymentRow[]);
    },
    /**
     * One page of deployments in creation order (`seq`, the rowid), newest first unless
     * `ascending`; `afterSeq` is the last of the previous page (docs/api.md §Pagination).
     */
    pageDeployments(query: { statuses?: readonly DeploymentStatus[]; module?: string; ascending: boolean; afterSeq?: number; limit: number }): Array<DeploymentRecord & { seq: number }> {
      const where: string[] = [];
      const args: unknown[] = [];
      if (query.statuses !== undefined && query.statuses.length > 0) {
        where.push('status IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify(query.statuses));
      }
      if (query.module !== undefined) {
        where.push('module = ?');
        args.push(query.module);
      }
      if (query.afterSeq !== undefined) {
        where.push(`rowid ${query.ascending ? '>' : '<'} ?`);
        args.push(query.afterSeq);
      }
      const sql = `SELECT rowid AS seq, ${DEPLOYMENT_COLUMNS} FROM deployments${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY rowid ${query.ascending ? 'ASC' : 'DESC'} LIMIT ? + 0`;
      args.push(query.limit);
      const rows = statements(sql).all(...args) as Array<DeploymentRow & { seq: number }>;
      return withCounts(rows).map((record, i) => ({ ...record, seq: rows[i]!.seq }));
    },
    /** Deployments the progression job must look at: running, paused, or with devices in flight. */
    progressingDeployments(): DeploymentPlan[] {
      return (progressing.all() as DeploymentRow[]).map(planOf);
    },
    /** Deployments a newly matching device may join, newest first, with their creation order. */
    joinableDeployments(): Array<DeploymentPlan & { seq: number }> {
      return (live.all() as Array<DeploymentRow & { seq: number }>).map((row) => ({ ...planOf(row), seq: row.seq }));
    },
    /**
     * A number that changes whenever this connection writes something that can change a live
     * deployment's late joiners (lateJoiners): a device added, removed or given another profile, a
     * tag set, a deployment created, removed or changing status, a deployment row removed. Equal
     * numbers: the late joiners found last are still the late joiners (none, once joined).
     */
    joinableGeneration(): number {
      return joinable.generation;
    },
    /**
     * Ids of devices matching `target` that have no row in this deployment and none for the same
     * module in a newer deployment (creation order `seq`): the late joiners.
     */
    lateJoiners(deployment: { id: string; module: string; target: DeploymentTarget; seq: number }): string[] {
      const where = [
        'NOT EXISTS (SELECT 1 FROM deployment_devices dd WHERE dd.deployment_id = ? AND dd.device_id = devices.id)',
        `NOT EXISTS (SELECT 1 FROM deployment_devices dd JOIN deployments x ON x.id = dd.deployment_id
           WHERE dd.device_id = devices.id AND dd.module = ? AND x.rowid > ?)`,
      ];
      const args: unknown[] = [deployment.id, deployment.module, deployment.seq];
      const { target } = deployment;
      if (target.profile !== undefined) {
        where.push('profile = ?');
        args.push(target.profile);
      }
      for (const [key, value] of Object.entries(target.tags ?? {})) {
        where.push('EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = devices.id AND t.key = ? AND t.value = ?)');
        args.push(key, value);
      }
      if (target.devices !== undefined) {
        where.push('id IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify(target.devices));
      }
      return statements(`SELECT id FROM devices WHERE ${where.join(' AND ')} ORDER BY id`).pluck().all(...args) as string[];
    },
    /** True when the device sent a result batch of this module version at or after `sinceMs`. */
    resultsSince(deviceId: string, module: string, version: string, sinceMs: number): boolean {
      return resultsSince.get(deviceId, module, version, sinceMs) !== undefined;
    },
    deviceDeploymentHistory(deviceId: string, limit = 200): DeviceHistoryEntry[] {
      return (history.all(deviceId, limit) as Array<Record<string, unknown>>).map((r) => ({
        deploymentId: r.deployment_id as string,
        module: r.module as string,
        version: r.version as string,
        deploymentStatus: r.status as DeploymentStatus,
        state: r.state as DeviceDeploymentState,
        reason: r.reason as string | null,
        revision: r.revision as number,
        wave: r.wave as number,
        late: r.late === 1,
        publishedAt: iso(r.published_at as number | null),
        appliedAt: iso(r.applied_at as number | null),
        updatedAt: r.updated_at as string,
        createdAt: r.created_at as string,
      }));
    },
  };
}

export type DeploymentOps = ReturnType<typeof deploymentOps>;

/**
 * Counts this connection's writes that can change late joiners, through temporary triggers that
 * call back into this process: whatever code path writes (REST, bulk provisioning, retention, a
 * migration of tags), the count moves. The API is the one process that writes the fleet's SQLite
 * file (docs/scale-out.md), and a process that starts steps once with no count to compare with.
 * A write rolled back still counts: at worst one step looks for joiners in vain.
 */
function watchJoinable(db: Db): { readonly generation: number } {
  const watch = { generation: 0 };
  db.function('wf_joinable_changed', { deterministic: false }, () => {
    watch.generation += 1;
    return null;
  });
  const events: Array<[name: string, event: string, table: string]> = [
    ['devices_insert', 'INSERT', 'devices'],
    ['devices_delete', 'DELETE', 'devices'],
    ['devices_profile', 'UPDATE OF profile', 'devices'],
    ['tags_insert', 'INSERT', 'device_tags'],
    ['tags_delete', 'DELETE', 'device_tags'],
    ['tags_update', 'UPDATE', 'device_tags'],
    ['deployments_insert', 'INSERT', 'deployments'],
    ['deployments_delete', 'DELETE', 'deployments'],
    ['deployments_status', 'UPDATE OF status', 'deployments'],
    ['rows_delete', 'DELETE', 'deployment_devices'],
  ];
  for (const [name, event, table] of events) {
    // FOR EACH ROW is SQLite's only kind; a bulk write calls back once per row (a counter step).
    db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS wf_joinable_${name} AFTER ${event} ON main.${table} BEGIN SELECT wf_joinable_changed(); END`);
  }
  return watch;
}
