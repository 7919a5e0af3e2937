/**
 * The module manifest: what a module is, what it takes and what it emits. Shipped beside the
 * source as `manifest.json`, uploaded with the .wasm, embedded in the retained module envelope.
 * Validated by the same schema in the CLI, the API and the agent. See docs/protocol.md §Manifest.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MODULE_NAME_PATTERN, PARAM_NAME_PATTERN, SEMVER_PATTERN } from './ids.js';
import { SUPPORTED_ABI_VERSIONS } from './version.js';
import { ModuleLimitsSchema } from './runtime-limits.js';

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

const NamedItem = Type.Object(
  {
    name: Type.String({ pattern: PARAM_NAME_PATTERN }),
    unit: Type.Optional(Type.String({ maxLength: 32 })),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);


export const ModuleTargetsSchema = Type.Object(
  {
    /** Firmware profile names, e.g. `rpi4-arm64`. */
    profiles: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 32 })),
    /** Node's `process.arch` names, as in a profile's `arch`: x64, arm64, armv7l. */
    arch: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 16 }), { minItems: 1, maxItems: 8 })),
  },
  { additionalProperties: false },
);

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

/** A config value the manifest refuses: the param at fault and why. */
export interface ConfigRefusal {
  readonly param: string;
  readonly reason: string;
}

/**
 * Checks a deployment's config against the manifest's params. Returns the first refusal, or
 * undefined. Unknown params are refused so a typo cannot silently use a default.
 */
export function configRefusal(manifest: Manifest, config: ModuleConfig): ConfigRefusal | undefined {
  for (const [param, value] of Object.entries(config)) {
    const refuse = (reason: string): ConfigRefusal => ({ param, reason });
    const spec = manifest.params[param];
    if (!spec) return refuse(`module ${manifest.name} has no param '${param}'`);
    if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') return refuse('expected a boolean');
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) return refuse('expected a finite number');
    if (spec.type === 'integer' && !Number.isInteger(value)) return refuse('expected an integer');
    if (spec.minimum !== undefined && value < spec.minimum) return refuse(`must be >= ${spec.minimum}`);
    if (spec.maximum !== undefined && value > spec.maximum) return refuse(`must be <= ${spec.maximum}`);
  }
  return undefined;
}

/** A refusal in words: `config.alpha: must be <= 1`. */
export const configProblemText = (refusal: ConfigRefusal): string => `config.${refusal.param}: ${refusal.reason}`;

/** configRefusal in words, for callers that only report it. */
export function configProblem(manifest: Manifest, config: ModuleConfig): string | undefined {
  const refusal = configRefusal(manifest, config);
  return refusal ? configProblemText(refusal) : undefined;
}

/** Manifest defaults overlaid with the deployment's config: what the module actually reads. */
export function effectiveConfig(manifest: Manifest, config: ModuleConfig): ModuleConfig {
  const result: ModuleConfig = {};
  for (const [key, spec] of Object.entries(manifest.params)) result[key] = config[key] ?? spec.default;
  return result;
}
