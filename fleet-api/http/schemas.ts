/**
 * Request and response schemas of the REST API. Fastify validates requests and serialises
 * responses from these, and @fastify/swagger turns them into the OpenAPI document, so the
 * document cannot drift from what the server does.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  DEVICE_ID_PATTERN,
  MODULE_NAME_PATTERN,
  PARAM_NAME_PATTERN,
  SEMVER_PATTERN,
  SHA256_HEX_PATTERN,
  TAG_KEY_PATTERN,
  ManifestSchema,
  ModuleLimitsSchema,
  ReportedStateSchema,
  DesiredModuleSchema,
  SignatureSchema,
  AgentTrustSchema,
} from '../../protocol/index.js';
import { StrategySchema } from '../deployments/strategy.js';
import { DEPLOYMENT_STATUSES, DEVICE_DEPLOYMENT_STATES } from '../store/deployments.js';
import { DEVICE_SORTS } from '../store/device-pages.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN, description: 'lowercase letters, digits, . _ -; at most 63 characters' });
export const ModuleName = Type.String({ pattern: MODULE_NAME_PATTERN });
export const Version = Type.String({ pattern: SEMVER_PATTERN });
export const Sha256 = Type.String({ pattern: SHA256_HEX_PATTERN });
export const Tags = Type.Record(Type.String({ pattern: TAG_KEY_PATTERN }), Type.String({ minLength: 0, maxLength: 64 }), {
  maxProperties: 32,
  // TypeBox records only constrain keys matching the pattern; this refuses the rest.
  additionalProperties: false,
});
export const Config = Type.Record(Type.String({ pattern: PARAM_NAME_PATTERN }), Type.Union([Type.Number(), Type.Boolean()]), {
  additionalProperties: false,
});
export const Timestamp = Type.String({ description: 'ISO 8601 UTC' });

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'a WF_API_… code from docs/api.md' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the request field at fault, e.g. body/id' })),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every error response' },
);

const errorsFor = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, Type.Ref(ErrorResponse)]));
/** Every authenticated route can answer 400 and 401 besides its own errors. */
export const errors = (...statuses: number[]) => errorsFor(400, 401, ...statuses);

// ---- devices -------------------------------------------------------------------------------

export const CreateDeviceBody = Type.Object(
  {
    id: DeviceId,
    profile: Type.String({ minLength: 1, maxLength: 64, description: 'a firmware profile name, e.g. sim-x86-64' }),
    tags: Type.Optional(Tags),
    hub: Type.Optional(Type.String({ pattern: DEVICE_ID_PATTERN, description: "the hub it connects through; default: the hub whose selector its tags match best, if any" })),
  },
  { additionalProperties: false },
);
export type CreateDeviceBody = Static<typeof CreateDeviceBody>;

export const UpdateDeviceBody = Type.Object({ tags: Tags }, { additionalProperties: false });
export type UpdateDeviceBody = Static<typeof UpdateDeviceBody>;

export const DeviceSummary = Type.Object({
  id: Type.String(),
  profile: Type.String(),
  tags: Type.Record(Type.String(), Type.String()),
  createdAt: Timestamp,
  online: Type.Boolean(),
  lastSeen: Nullable(Timestamp),
  desiredRevision: Type.Integer(),
  reportedRevision: Type.Integer(),
  /** True when the device reports the revision it was last asked for. */
  inSync: Type.Boolean(),
  /** The last report has a module failed or with faults (as ?faulted=true); absent where not read. */
  faulted: Type.Optional(Type.Boolean()),
  /** The last report has a module the agent quarantined [WF-P-T-3b] (as ?quarantined=true); absent where not read. */
  quarantined: Type.Optional(Type.Boolean()),
  /** The site hub it connects through; null: the central broker. */
  hub: Type.Optional(Nullable(Type.String())),
  /** direct: connects to the central broker; hub: through an online hub; offline-hub: its hub (or one above) is offline, so it cannot be reached now. */
  reachable: Type.Optional(Type.Union([Type.Literal('direct'), Type.Literal('hub'), Type.Literal('offline-hub')])),
});

/** One page of GET /devices (the route sends it pre-serialized: store/device-summary-json.ts). */
export const DevicePage = Type.Object({ devices: Type.Array(DeviceSummary), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const DeviceDetail = Type.Intersect([
  DeviceSummary,
  Type.Object({
    desired: Type.Object({ revision: Type.Integer(), issuedAt: Nullable(Timestamp), modules: Type.Array(DesiredModuleSchema) }),
    reported: Type.Optional(ReportedStateSchema),
  }),
]);

export const ProvisionResponse = Type.Object({
  device: DeviceSummary,
  /** Root public key and trusted-keys list for the agent config (docs/security.md). */
  trust: AgentTrustSchema,
  mqtt: Type.Object({
    url: Type.String(),
    /** With several broker nodes: all of them, `url` first; agents fail over along the list. */
    urls: Type.Optional(Type.Array(Type.String())),
    username: Type.String(),
    password: Type.String({ description: 'shown once; only its hash is stored' }),
  }),
  /** The hub the device is behind, with the URLs its agent should connect to first. */
  hub: Type.Optional(Type.Object({ id: Type.String(), urls: Type.Array(Type.String()) })),
});

export const BatchProvisionBody = Type.Object(
  { devices: Type.Array(CreateDeviceBody, { minItems: 1, maxItems: 10_000, description: 'at most 10,000; all are provisioned or none' }) },
  { additionalProperties: false },
);
export type BatchProvisionBody = Static<typeof BatchProvisionBody>;

export const BatchProvisionResponse = Type.Object({
  devices: Type.Array(
    Type.Object({
      device: DeviceSummary,
      mqtt: Type.Object({ url: Type.String(), username: Type.String(), password: Type.String({ description: 'shown once' }) }),
    }),
  ),
  /** One trust block for all: every device of a fleet gets the same (docs/security.md). */
  trust: AgentTrustSchema,
});

const PageLimit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });
const PageCursor = Type.Optional(Type.String({ maxLength: 400, description: 'nextCursor of the previous page (opaque)' }));

export const DeviceListQuery = Type.Object(
  {
    tag: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,31}=.{0,64}$' }), { description: 'key=value, repeatable (AND)', maxItems: 32 })),
    profile: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    online: Type.Optional(Type.Boolean()),
    inSync: Type.Optional(Type.Boolean({ description: 'reportedRevision >= desiredRevision' })),
    faulted: Type.Optional(Type.Boolean({ description: 'the last report has a module failed or with faults' })),
    quarantined: Type.Optional(Type.Boolean({ description: 'the last report has a module the agent quarantined (stopped restarting)' })),
    idPrefix: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', description: 'ids starting with this' })),
    hub: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', description: 'only devices behind this hub itself' })),
    sort: Type.Union(DEVICE_SORTS.map((sort) => Type.Literal(sort)), { default: 'id' }),
    limit: PageLimit,
    cursor: PageCursor,
  },
  { additionalProperties: false },
);
export type DeviceListQuery = Static<typeof DeviceListQuery>;

export const DeviceParams = Type.Object({ id: DeviceId }, { additionalProperties: false });
export type DeviceParams = Static<typeof DeviceParams>;

// ---- results -------------------------------------------------------------------------------

export const ResultsQuery = Type.Object(
  {
    module: Type.Optional(ModuleName),
    metric: Type.Optional(Type.String({ pattern: PARAM_NAME_PATTERN })),
    kind: Type.Optional(Type.Union([Type.Literal('metric'), Type.Literal('event')])),
    from: Type.Optional(Type.Number({ description: 'epoch milliseconds, inclusive' })),
    to: Type.Optional(Type.Number({ description: 'epoch milliseconds, exclusive' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);
export type ResultsQuery = Static<typeof ResultsQuery>;

export const ResultsPage = Type.Object({
  results: Type.Array(
    Type.Object({
      kind: Type.String(),
      seq: Type.Integer(),
      module: Type.String(),
      version: Type.String(),
      deploymentId: Type.String(),
      metric: Type.String({ description: 'metric or event name' }),
      t: Type.Number({ description: 'epoch milliseconds' }),
      value: Type.Number(),
    }),
  ),
  nextCursor: Nullable(Type.String()),
});

// ---- modules -------------------------------------------------------------------------------

export const UploadModuleBody = Type.Object(
  {
    manifest: ManifestSchema,
    wasm: Type.String({ minLength: 8, description: 'the .wasm bytes, standard base64' }),
    signatures: Type.Optional(Type.Array(SignatureSchema, { maxItems: 4, description: "a trusted publisher's ed25519 signature over manifest, size and sha256 (docs/security.md)" })),
  },
  { additionalProperties: false },
);
export type UploadModuleBody = Static<typeof UploadModuleBody>;

export const ModuleSummary = Type.Object({
  name: Type.String(),
  version: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  createdAt: Timestamp,
});

export const ModuleDetail = Type.Intersect([ModuleSummary, Type.Object({ manifest: ManifestSchema, signatures: Type.Array(SignatureSchema, { description: 'who vouches for the module (docs/security.md)' }) })]);

export const DeletedModule = Type.Intersect([ModuleSummary, Type.Object({ deploymentsRemoved: Type.Integer({ description: 'finished deployments of this version removed with it' }) })]);

export const ModuleParams = Type.Object({ name: ModuleName, version: Version }, { additionalProperties: false });
export type ModuleParams = Static<typeof ModuleParams>;

// ---- deployments ---------------------------------------------------------------------------

export const Target = Type.Object(
  {
    devices: Type.Optional(Type.Array(DeviceId, { minItems: 1, maxItems: 10000, uniqueItems: true })),
    tags: Type.Optional(Tags),
    profile: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false, description: 'all given criteria must hold (AND)' },
);

export const CreateDeploymentBody = Type.Object(
  {
    module: ModuleName,
    version: Version,
    target: Target,
    config: Type.Optional(Config),
    input: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "a source id of the devices' profile" })),
    /** Maxima: each device is granted per key the smallest of these, the manifest's limits and its profile's ceiling. */
    limits: Type.Optional(ModuleLimitsSchema),
    strategy: Type.Optional(StrategySchema),
  },
  { additionalProperties: false },
);
export type CreateDeploymentBody = Static<typeof CreateDeploymentBody>;

export const DeploymentCreated = Type.Object({
  id: Type.String(),
  module: Type.String(),
  version: Type.String(),
  sha256: Type.String(),
  status: Type.String(),
  devices: Type.Integer({ description: 'devices targeted' }),
  waves: Type.Array(Type.Integer(), { description: 'planned wave sizes, canary first' }),
  published: Type.Integer({ description: 'desired states of the first wave acknowledged by the broker before responding' }),
});

const Counts = Type.Object(Object.fromEntries(DEVICE_DEPLOYMENT_STATES.map((s) => [s, Type.Integer()])) as Record<string, ReturnType<typeof Type.Integer>>);

export const DeploymentSummary = Type.Object({
  id: Type.String(),
  module: Type.String(),
  version: Type.String(),
  sha256: Type.String(),
  target: Target,
  config: Config,
  input: Nullable(Type.String()),
  limits: Nullable(ModuleLimitsSchema),
  createdAt: Timestamp,
  updatedAt: Nullable(Timestamp),
  status: Type.String({ description: DEPLOYMENT_STATUSES.join(' | ') }),
  statusReason: Nullable(Type.String()),
  strategy: Type.Unknown({ description: 'the strategy with its defaults filled' }),
  currentWave: Type.Integer({ description: 'index of the wave in progress (0 = canary)' }),
  counts: Counts,
});

export const DeploymentDevice = Type.Object({
  id: Type.String(),
  wave: Type.Integer(),
  late: Type.Boolean({ description: 'joined after the rollout completed' }),
  state: Type.String({ description: DEVICE_DEPLOYMENT_STATES.join(' | ') }),
  reason: Nullable(Type.String()),
  revision: Type.Integer(),
  previous: Nullable(Type.String({ description: 'NAME@VERSION a rollback returns to; null: none' })),
  publishedAt: Nullable(Timestamp),
  appliedAt: Nullable(Timestamp),
  updatedAt: Timestamp,
});

export const WaveView = Type.Object({
  index: Type.Integer(),
  name: Type.String({ description: 'canary, wave N, or late joiners' }),
  size: Type.Integer(),
  state: Type.String({ description: 'waiting | in progress | done' }),
  counts: Counts,
});

export const DeploymentDetail = Type.Intersect([
  DeploymentSummary,
  Type.Object({ waves: Type.Array(WaveView), devices: Type.Array(DeploymentDevice) }),
]);

export const DeploymentParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export type DeploymentParams = Static<typeof DeploymentParams>;

export const ControlParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), action: Type.Union([Type.Literal('pause'), Type.Literal('resume'), Type.Literal('cancel'), Type.Literal('rollback')]) },
  { additionalProperties: false },
);
export type ControlParams = Static<typeof ControlParams>;

export const DeviceHistory = Type.Object({
  deviceId: Type.String(),
  deployments: Type.Array(
    Type.Object({
      deploymentId: Type.String(),
      module: Type.String(),
      version: Type.String(),
      deploymentStatus: Type.String(),
      state: Type.String(),
      reason: Nullable(Type.String()),
      revision: Type.Integer(),
      wave: Type.Integer(),
      late: Type.Boolean(),
      publishedAt: Nullable(Timestamp),
      appliedAt: Nullable(Timestamp),
      updatedAt: Timestamp,
      createdAt: Timestamp,
    }),
  ),
});

// ---- system --------------------------------------------------------------------------------

export const Health = Type.Object({
  status: Type.Literal('ok'),
  mqtt: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')]),
  version: Type.String(),
  protocol: Type.Integer(),
});

export const JobList = Type.Object({
  jobs: Type.Array(
    Type.Object({
      name: Type.String(),
      schedule: Type.String(),
      enabled: Type.Boolean(),
      running: Type.Boolean(),
      nextRun: Nullable(Timestamp),
      lastRun: Nullable(
        Type.Object({
          at: Timestamp,
          durationMs: Type.Number(),
          ok: Type.Boolean(),
          result: Type.Optional(Type.Unknown()),
          error: Type.Optional(Type.String()),
        }),
      ),
    }),
  ),
});

export const DeploymentListQuery = Type.Object(
  {
    status: Type.Optional(Type.Array(Type.Union(DEPLOYMENT_STATUSES.map((status) => Type.Literal(status))), { maxItems: 8, description: 'repeatable: any of them' })),
    module: Type.Optional(ModuleName),
    sort: Type.Union([Type.Literal('-createdAt'), Type.Literal('createdAt')], { default: '-createdAt' }),
    limit: PageLimit,
    cursor: PageCursor,
  },
  { additionalProperties: false },
);
export type DeploymentListQuery = Static<typeof DeploymentListQuery>;
