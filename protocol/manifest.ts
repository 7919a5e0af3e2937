/**
 * The module manifest: what a module is, what it takes and what it emits. Shipped beside the
 * source as `manifest.json`, uploaded with the .wasm, embedded in the retained module envelope.
 * Validated by the same schema in the CLI, the API and the agent. See docs/protocol.md §Manifest.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MODULE_NAME_PATTERN, PARAM_NAME_PATTERN, SEMVER_PATTERN } from './ids.js';
import { SUPPORTED_ABI_VERSIONS } from './version.js';

export const ParamSpecSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('number'), Type.Literal('integer'), Type.Literal('boolean')]),
    default: Type.Union([Type.Number(), Type.Boolean()]),
    minimum: Type.Optional(Type.Number()),
    maximum: Type.Optional(Type.Number()),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type ParamSpec = Static<typeof ParamSpecSchema>;

const NamedItem = Type.Object(
  {
    name: Type.String({ pattern: PARAM_NAME_PATTERN }),
    unit: Type.Optional(Type.String({ maxLength: 32 })),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

/** Limits a module asks for; the agent grants the smaller of this and its profile's ceiling. */
export const ModuleLimitsSchema = Type.Object(
  {
    /** Linear memory maximum in 64 KiB Wasm pages. */
    memoryPages: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536 })),
    /** Wall-clock CPU budget for one batch, in milliseconds. */
    cpuMsPerBatch: Type.Optional(Type.Integer({ minimum: 1, maximum: 60000 })),
    /** Metric points plus events one batch may emit. */
    maxOutputsPerBatch: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
  },
  { additionalProperties: false },
);
export type ModuleLimits = Static<typeof ModuleLimitsSchema>;

export const ModuleTargetsSchema = Type.Object(
  {
    /** Firmware profile names, e.g. `rpi4-arm64`. */
    profiles: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 32 })),
    /** Node's `process.arch` names, as in a profile's `arch`: x64, arm64, armv7l. */
    arch: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16 }), { minItems: 1, maxItems: 8 })),
  },
  { additionalProperties: false },
);
export type ModuleTargets = Static<typeof ModuleTargetsSchema>;

/**
 * The manifest with its schema defaults filled in: what the API stores and serves, and so what a
 * publisher must sign. Does not validate; callers check the result against ManifestSchema.
 */
export function completeManifest(input: unknown): Manifest {
  return Value.Default(ManifestSchema, Value.Clone(input)) as Manifest;
}

/** Why a module may not run on (profile, arch), or undefined. */
export function targetProblem(manifest: Pick<Manifest, 'targets'>, profile: string, arch: string): string | undefined {
  const { profiles, arch: arches } = manifest.targets ?? {};
  if (profiles && !profiles.includes(profile)) return `it targets profiles ${profiles.join(', ')}, not ${profile}`;
  if (arches && !arches.includes(arch)) return `it targets ${arches.join(', ')}, not ${arch}`;
  return undefined;
}

export const ManifestSchema = Type.Object(
  {
    name: Type.String({ pattern: MODULE_NAME_PATTERN }),
    version: Type.String({ pattern: SEMVER_PATTERN }),
    // Every version in SUPPORTED_ABI_VERSIONS; the binary must agree (wf_abi, memory import).
    abi: Type.Union([Type.Literal(SUPPORTED_ABI_VERSIONS[0]), Type.Literal(SUPPORTED_ABI_VERSIONS[1])]),
    description: Type.String({ maxLength: 1000 }),
    params: Type.Record(Type.String({ pattern: PARAM_NAME_PATTERN }), ParamSpecSchema, { default: {}, additionalProperties: false }),
    /** ABI v1 feeds one timestamped input stream per module. */
    inputs: Type.Array(NamedItem, { minItems: 1, maxItems: 1 }),
    metrics: Type.Array(NamedItem, { maxItems: 64, default: [] }),
    events: Type.Array(NamedItem, { maxItems: 64, default: [] }),
    limits: Type.Optional(ModuleLimitsSchema),
    /**
     * Where the module may run; absent means anywhere. Signed with the manifest, so an agent
     * refuses a module built for another profile or architecture [WF-P-SIG-3].
     */
    targets: Type.Optional(ModuleTargetsSchema),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof ManifestSchema>;

export type ParamValue = number | boolean;
export type ModuleConfig = Record<string, ParamValue>;

/**
 * Checks a deployment's config against the manifest's params. Returns the first problem naming
 * the param, or undefined. Unknown params are refused so a typo cannot silently use a default.
 */
export function configProblem(manifest: Manifest, config: ModuleConfig): string | undefined {
  for (const [key, value] of Object.entries(config)) {
    const spec = manifest.params[key];
    if (!spec) return `config.${key}: module ${manifest.name} has no param '${key}'`;
    if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') return `config.${key}: expected a boolean`;
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) return `config.${key}: expected a finite number`;
    if (spec.type === 'integer' && !Number.isInteger(value)) return `config.${key}: expected an integer`;
    if (spec.minimum !== undefined && value < spec.minimum) return `config.${key}: must be >= ${spec.minimum}`;
    if (spec.maximum !== undefined && value > spec.maximum) return `config.${key}: must be <= ${spec.maximum}`;
  }
  return undefined;
}

/** Manifest defaults overlaid with the deployment's config: what the module actually reads. */
export function effectiveConfig(manifest: Manifest, config: ModuleConfig): ModuleConfig {
  const result: ModuleConfig = {};
  for (const [key, spec] of Object.entries(manifest.params)) result[key] = config[key] ?? spec.default;
  return result;
}
