/** The firmware profile schema. See docs/profiles.md for every field. */
import { Type, type Static } from '@sinclair/typebox';

const SourceId = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' });

/** A seeded, deterministic synthetic signal: value(i) depends only on seed and sample index. */
export const SimulatedSourceSchema = Type.Object(
  {
    kind: Type.Literal('simulated'),
    id: SourceId,
    unit: Type.Optional(Type.String({ maxLength: 16 })),
    rateHz: Type.Number({ exclusiveMinimum: 0, maximum: 10000 }),
    seed: Type.Integer({ minimum: 0, default: 1 }),
    offset: Type.Number({ default: 0 }),
    sine: Type.Optional(
      Type.Object({ amplitude: Type.Number(), periodS: Type.Number({ exclusiveMinimum: 0 }) }, { additionalProperties: false }),
    ),
    noise: Type.Optional(Type.Object({ stddev: Type.Number({ minimum: 0 }) }, { additionalProperties: false })),
    randomWalk: Type.Optional(Type.Object({ step: Type.Number({ minimum: 0 }) }, { additionalProperties: false })),
    spikes: Type.Optional(
      Type.Object(
        { probability: Type.Number({ minimum: 0, maximum: 1 }), magnitude: Type.Number() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SimulatedSource = Static<typeof SimulatedSourceSchema>;

/** Later source kinds (sysfs, local MQTT bridges, serial/UDP) join this union. */
export const SourceSchema = Type.Union([SimulatedSourceSchema]);
export type SourceConfig = Static<typeof SourceSchema>;

export const ProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,47}$' }),
    description: Type.String({ maxLength: 500 }),
    arch: Type.Union([Type.Literal('x64'), Type.Literal('arm64'), Type.Literal('armv7l')]),
    minNodeVersion: Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$' }),
    /** The agent republishes its status this often; silent past twice this means offline. */
    heartbeatIntervalS: Type.Integer({ minimum: 1, maximum: 3600 }),
    batch: Type.Object(
      {
        /** A batch is handed to modules at least this often... */
        intervalMs: Type.Integer({ minimum: 10, maximum: 600000 }),
        /** ...or as soon as it holds this many samples. */
        maxSamples: Type.Integer({ minimum: 1, maximum: 65536 }),
      },
      { additionalProperties: false },
    ),
    /** Ceilings this hardware grants each module; a module's own request can only lower them. */
    moduleLimits: Type.Object(
      {
        memoryPages: Type.Integer({ minimum: 1, maximum: 65536 }),
        cpuMsPerBatch: Type.Integer({ minimum: 1, maximum: 60000 }),
        maxOutputsPerBatch: Type.Integer({ minimum: 1, maximum: 100000 }),
        maxModules: Type.Integer({ minimum: 1, maximum: 32 }),
      },
      { additionalProperties: false },
    ),
    /**
     * The on-disk results spool used while the broker is unreachable or slow. When either bound
     * is hit the oldest results are dropped, counted and reported (docs/operations.md).
     */
    spool: Type.Object(
      {
        maxBytes: Type.Integer({ minimum: 65536, maximum: 4294967296, default: 16777216 }),
        maxAgeS: Type.Integer({ minimum: 60, maximum: 31536000, default: 604800 }),
      },
      { additionalProperties: false, default: {} },
    ),
    sources: Type.Array(SourceSchema, { minItems: 1, maxItems: 64 }),
  },
  { additionalProperties: false },
);
export type FirmwareProfile = Static<typeof ProfileSchema>;
