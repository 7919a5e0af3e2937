/**
 * The three runtime limits of a module, declared once: a profile's ceilings, a manifest's and a
 * deployment's requests, the desired entry's limits and the sandbox's grant all use these
 * fields, and one function computes a grant [docs/modules.md#runtime-limits].
 */
import { Type, type Static } from '@sinclair/typebox';

const LIMIT_FIELDS = {
  /** Linear memory maximum in 64 KiB Wasm pages; the host creates the memory with this maximum. */
  memoryPages: Type.Integer({ minimum: 1, maximum: 65536 }),
  /** Wall-clock CPU budget for one batch, in milliseconds; past it the worker is terminated. */
  cpuMsPerBatch: Type.Integer({ minimum: 1, maximum: 60000 }),
  /** Metric points plus events one batch may emit; the rest are counted as dropped. */
  maxOutputsPerBatch: Type.Integer({ minimum: 1, maximum: 100000 }),
};

export const RUNTIME_LIMIT_KEYS = Object.keys(LIMIT_FIELDS) as ReadonlyArray<keyof typeof LIMIT_FIELDS>;

/** Every limit set: a profile's ceilings (with its other moduleLimits fields) or a sandbox's grant. */
export const RUNTIME_LIMIT_FIELDS = LIMIT_FIELDS;
export type RuntimeLimits = { readonly [K in keyof typeof LIMIT_FIELDS]: number };

/** Limits a manifest or a deployment requests: maxima that can only lower the profile's ceilings. */
export const ModuleLimitsSchema = Type.Object(
  {
    memoryPages: Type.Optional(LIMIT_FIELDS.memoryPages),
    cpuMsPerBatch: Type.Optional(LIMIT_FIELDS.cpuMsPerBatch),
    maxOutputsPerBatch: Type.Optional(LIMIT_FIELDS.maxOutputsPerBatch),
  },
  { additionalProperties: false },
);
export type ModuleLimits = Static<typeof ModuleLimitsSchema>;

type LimitSource = Partial<RuntimeLimits> | null | undefined;

/** Per limit, the smallest value any source sets; a limit no source sets is left out. */
function smallestPerLimit(sources: readonly LimitSource[]): ModuleLimits {
  const smallest: { -readonly [K in keyof RuntimeLimits]?: number } = {};
  for (const key of RUNTIME_LIMIT_KEYS) {
    for (const source of sources) {
      const value = source?.[key];
      if (value !== undefined && value < (smallest[key] ?? Infinity)) smallest[key] = value;
    }
  }
  return smallest;
}

/**
 * What a module is granted: per limit the smallest of the profile's ceiling, the manifest's
 * request and the deployment's request. A request above the ceiling is no error; it grants the ceiling.
 */
export function grantLimits(ceiling: RuntimeLimits, manifestRequest?: LimitSource, deploymentRequest?: LimitSource): RuntimeLimits {
  return smallestPerLimit([ceiling, manifestRequest, deploymentRequest]) as RuntimeLimits;
}

/**
 * The limits a desired entry carries, before any device's profile is known: per limit the smaller
 * of the manifest's and the deployment's request; undefined when neither requests anything.
 */
export function requestedLimits(...requests: readonly LimitSource[]): ModuleLimits | undefined {
  const merged = smallestPerLimit(requests);
  return Object.keys(merged).length > 0 ? merged : undefined;
}
