/** The API's JSON shapes as the console reads them (docs/api.md); only the fields it shows. */
export interface FleetCounts {
  total: number;
  online: number;
  offline: number;
  outOfSync: number;
  faulted: number;
}
export interface HubCounts extends FleetCounts {
  hub: string;
  quarantined: number;
}
export interface FleetSummary extends FleetCounts {
  byProfile: Array<FleetCounts & { profile: string }>;
  byTag: Array<FleetCounts & { key: string; value: string }>;
  tagPairs: number;
  /** Absent from servers older than the quarantine flag and hubs. */
  quarantined?: number;
  byHub?: HubCounts[];
}
export interface DeviceSummary {
  id: string;
  profile: string;
  tags: Record<string, string>;
  createdAt: string;
  online: boolean;
  lastSeen: string | null;
  desiredRevision: number;
  reportedRevision: number;
  inSync: boolean;
  /** Present when the list route reports it (paginated inventory). */
  faulted?: boolean;
  /** A module the agent quarantined (stopped restarting); present when the route reports it. */
  quarantined?: boolean;
  /** The site hub it connects through; null: the central broker. */
  hub?: string | null;
  modules?: Array<{ name: string; version: string; state?: string }>;
}
export interface Limits {
  memoryPages?: number;
  cpuMsPerBatch?: number;
  maxOutputs?: number;
  [key: string]: unknown;
}
export interface DesiredModule {
  name: string;
  version: string;
  sha256: string;
  deploymentId: string;
  config?: Record<string, number | boolean>;
  limits?: Limits;
  input?: string;
  [key: string]: unknown;
}
export interface ReportedModule {
  name: string;
  version: string;
  sha256: string;
  deploymentId: string;
  state: 'starting' | 'running' | 'failed';
  reason?: string;
  lastFault?: string;
  faults: number;
  batches: number;
  /** The agent stopped restarting it; `reason` says why. */
  quarantined?: true;
}
export interface SpoolReport {
  pending: number;
  bytes: number;
  droppedFull: number;
  droppedAge: number;
  torn: number;
  writeFailures: number;
  lost: number;
  lastError?: string;
}
export interface DeviceDetail extends DeviceSummary {
  desired: { revision: number; issuedAt: string | null; modules: DesiredModule[] };
  reported?: {
    revision: number;
    at: string;
    agent: { version: string; profile: string; arch: string };
    modules: ReportedModule[];
    spool?: SpoolReport;
    errors: Array<{ code: string; message: string }>;
  };
}
export interface ResultPoint {
  kind: string;
  seq: number;
  module: string;
  version: string;
  deploymentId: string;
  metric: string;
  t: number;
  value: number;
}
export type DeviceState =
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
export interface DeploymentSummary {
  id: string;
  module: string;
  version: string;
  status: string;
  statusReason: string | null;
  currentWave: number;
  waves?: number | WaveView[];
  createdAt: string;
  counts: Record<DeviceState, number>;
}
export interface WaveView {
  index: number;
  name: string;
  size: number;
  state: string;
  counts: Record<DeviceState, number>;
}
export interface DeploymentDevice {
  id: string;
  wave: number;
  late: boolean;
  state: DeviceState;
  reason: string | null;
  previous: string | null;
  publishedAt: string | null;
  appliedAt: string | null;
  updatedAt: string;
}
export interface DeploymentDetail extends Omit<DeploymentSummary, 'waves'> {
  waves: WaveView[];
  devices: DeploymentDevice[];
}
export interface HistoryEntry {
  deploymentId: string;
  module: string;
  version: string;
  state: string;
  reason: string | null;
  [key: string]: unknown;
}
export interface ModuleSummary {
  name: string;
  version: string;
  sha256: string;
  size: number;
  createdAt: string;
}
export interface ModuleDetail extends ModuleSummary {
  manifest: Record<string, unknown> & { metrics?: Array<{ name: string } | string>; params?: unknown };
  signatures: Array<{ keyId: string; [key: string]: unknown }>;
}
export interface TokenView {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}
export interface KeyEntry {
  keyId: string;
  publicKey: string;
  role: string;
  name: string;
}
export interface KeysView {
  root: { keyId: string; publicKey: string; online: boolean };
  fleetKeyId: string;
  trustedKeys: { version: number; issuedAt: string; expiresAt: string; keys: KeyEntry[] };
}
export interface AuditEntry {
  id: number;
  at: string;
  actorName: string | null;
  actorRole: string | null;
  action: string;
  method: string;
  path: string;
  target: string | null;
  status: number;
  remoteAddress: string | null;
}
