/**
 * The fleet's source of truth: one SQLite file. `openStore` returns every operation group merged
 * into one object, each group's statements prepared once when the store opens.
 */
import { openDatabase, type Db } from './core.js';
import { startCheckpointer, DEFAULT_CHECKPOINTER, type Checkpointer, type CheckpointerOptions } from './checkpointer.js';
import { deviceOps, type DeviceOps } from './devices.js';
import { devicePageOps, type DevicePageOps } from './device-pages.js';
import { moduleOps, type ModuleOps } from './modules.js';
import { deploymentOps, type DeploymentOps } from './deployments.js';
import { resultOps, type ResultOps } from './results.js';
import { tokenOps, type TokenOps } from './tokens.js';
import { auditOps, type AuditOps } from './audit.js';
import { credentialOps, type CredentialOps } from './credentials.js';
import { trustOps, type TrustOps } from './trust.js';
import { fleetSummaryOps, type FleetSummaryOps } from './fleet-summary.js';
import { fleetBreakdownOps, type FleetBreakdownOps } from './fleet-breakdowns.js';
import { aggregateOps, type AggregateOps } from './aggregates.js';
import { rolloutChangeOps, type RolloutChangeOps } from './rollout-changes.js';
import { gaugeOps, type GaugeOps } from './gauges.js';
import { hubOps, type HubOps } from './hubs.js';

export type Store = DeviceOps &
  DevicePageOps &
  ModuleOps &
  DeploymentOps &
  ResultOps &
  TokenOps &
  AuditOps &
  CredentialOps &
  TrustOps &
  FleetSummaryOps &
  FleetBreakdownOps &
  AggregateOps &
  RolloutChangeOps &
  GaugeOps &
  HubOps & {
    readonly db: Db;
    /** Runs `fn` in one transaction (nested calls become savepoints). */
    transaction<T>(fn: () => T): T;
    close(): void;
    readonly open: boolean;
  };

export interface StoreOptions {
  /**
   * WAL checkpoints on a worker thread (checkpointer.ts) instead of inside the commits that cross
   * SQLite's threshold: for the process that writes results at rate (the API).
   */
  checkpointInBackground?: boolean | Partial<CheckpointerOptions>;
}

export function openStore(path: string, options: StoreOptions = {}): Store {
  const db = openDatabase(path);
  let checkpointer: Checkpointer | undefined;
  if (options.checkpointInBackground && path !== ':memory:') {
    const settings = { ...DEFAULT_CHECKPOINTER, ...(options.checkpointInBackground === true ? {} : options.checkpointInBackground) };
    try {
      checkpointer = startCheckpointer(db, path, settings);
    } catch (error) {
      db.close();
      throw error;
    }
  }
  return {
    ...deviceOps(db),
    ...devicePageOps(db),
    ...moduleOps(db),
    ...deploymentOps(db),
    ...resultOps(db),
    ...tokenOps(db),
    ...auditOps(db),
    ...credentialOps(db),
    ...trustOps(db),
    ...fleetSummaryOps(db),
    ...fleetBreakdownOps(db),
    ...aggregateOps(db),
    ...rolloutChangeOps(db),
    ...gaugeOps(db),
    ...hubOps(db),
    db,
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    close: () => {
      // The worker's connection first, so the writer's close is the last and removes the WAL.
      checkpointer?.stop();
      if (db.open) db.close();
    },
    get open() {
      return db.open;
    },
  };
}

export { tokenIdOf, roleSatisfies, TOKEN_ROLES, type TokenRole, type TokenRecord, type TokenView } from './tokens.js';
export type { AuditEntry, AuditEntryInput, AuditQuery } from './audit.js';
export type { DeviceCredentialState } from './credentials.js';
export type { DeviceRecord, DeviceFilter } from './devices.js';
export type { FleetSummary, FleetCounts } from './fleet-summary.js';
export type { FleetBreakdowns, HubCounts } from './fleet-breakdowns.js';
export { DEVICE_SORTS, sortKeyOf, type DeviceSort, type DevicePageQuery, type DevicePageJson, type DeviceSummaryRecord } from './device-pages.js';
export { lastEntryStart } from './device-summary-json.js';
export type { ModuleClaim, ModuleRecord, ModuleSummary } from './modules.js';
export type {
  DeploymentRecord,
  DeploymentPlan,
  DeploymentDeviceRecord,
  DeploymentTarget,
  DeviceDeploymentState,
  ActiveDeviceDeployment,
  DeploymentStatus,
  DeviceHistoryEntry,
} from './deployments.js';
export type { AggregateFn, AggregateQuery, AggregateSeries, AggregateSource, DeviceSelection, GroupBy } from './aggregates.js';
export type { DeploymentHead, DeploymentDeviceChange } from './rollout-changes.js';
export type { ResultRow, ResultQuery, ResultKind, IngestOutcome } from './results.js';
export type { HubRecord, HubSubtreeRecord } from './hubs.js';
