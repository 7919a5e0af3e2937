/**
 * The fleet API's options with their defaults in one place, validated once (additional
 * properties refused so a misspelt option is an error, not a silent default), then frozen.
 */
import { Type, type Static } from '@sinclair/typebox';
import cron from 'node-cron';
import { NETWORK_DEFAULTS } from '../common/network-defaults.js';
import { describeProblems, deepFreeze, withDefaults } from '../common/validate.js';
import { SERVICE_USERNAME } from '../protocol/index.js';
import { apiErrors } from './errors.js';

const MIB = 1024 * 1024;

export const FleetApiOptionsSchema = Type.Object(
  {
    /** SQLite file; ignored when an opened store is handed to createFleetApi. */
    dbPath: Type.String({ minLength: 1 }),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1, default: NETWORK_DEFAULTS.host }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: NETWORK_DEFAULTS.httpPort }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The broker URL written into agent configs; the service account's URL when absent. */
    publicMqttUrl: Type.Optional(Type.String({ pattern: '^(mqtts?|wss?)://' })),
    /**
     * Several broker nodes (docs/scale-out.md): agent configs get the whole list and fail over
     * along it; the first is also `publicMqttUrl`.
     */
    publicMqttUrls: Type.Optional(Type.Array(Type.String({ pattern: '^(mqtts?|wss?)://' }), { minItems: 1, maxItems: 32 })),
    /**
     * Cluster mode (docs/scale-out.md): device credentials are replicated into this Redis, where
     * every broker node reads them (docs/security.md §Device authentication in a cluster).
     */
    redis: Type.Optional(Type.String({ pattern: '^rediss?://[^\\s]+$', maxLength: 2048 })),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^(mqtts?|wss?|tcp)://' }),
        /** Several broker nodes (docs/scale-out.md): `url` is the first; the link fails over along them. */
        urls: Type.Optional(Type.Array(Type.String({ pattern: '^(mqtts?|wss?|tcp)://' }), { minItems: 1, maxItems: 32 })),
        username: Type.String({ minLength: 1, default: SERVICE_USERNAME }),
        password: Type.String({ minLength: 1 }),
        /** Fixed client id (persistent session); random per start when absent. */
        clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        /** How long listen() waits for the first connection before going on degraded. */
        connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000, default: 5000 }),
        /**
         * How long a publish waits for its PUBACK while nothing is heard from the broker; up to ten
         * times as long while the broker keeps sending (mqtt-publish.ts publishConfirmed).
         */
        publishTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000, default: 5000 }),
        /** For an mqtts:// url: the broker's CA (PEM), and under mutual TLS our certificate and key. */
        caFile: Type.Optional(Type.String({ minLength: 1 })),
        certFile: Type.Optional(Type.String({ minLength: 1 })),
        keyFile: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    /**
     * Largest request body of most routes: every device, token or deployment body fits in a few
     * KiB, so a small limit stops memory abuse by a client with a valid token (413 otherwise).
     */
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * MIB, default: 64 * 1024 }),
    /**
     * Largest body of the routes marked `body: 'large'` in http/route-roles.ts: module uploads
     * (up to 2 MiB of wasm as base64, ~2.7 MiB, plus the manifest) and deployments naming up to
     * 10,000 devices (~660 KiB).
     */
    largeBodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * MIB, default: 4 * MIB }),
    jobs: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /** node-cron expressions (a leading seconds field is allowed). */
        offlineDetection: Type.String({ minLength: 1, default: '*/15 * * * * *' }),
        resultsRetention: Type.String({ minLength: 1, default: '17 * * * *' }),
        /** Re-signs desired states (and the trusted-keys list, root key permitting) before they expire. */
        resignDesired: Type.String({ minLength: 1, default: '41 * * * *' }),
        /** Rollout steps; reported states also nudge a step between ticks. */
        rolloutProgression: Type.String({ minLength: 1, default: '* * * * * *' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Keys and signature lifetimes (docs/security.md). */
    signing: Type.Object(
      {
        /** Private keys (0600) and root.pub; `keys/` beside the SQLite file when absent. */
        keysDir: Type.Optional(Type.String({ minLength: 1 })),
        /** How long a published desired state stays valid; agents refuse it after (freeze). */
        desiredTtlS: Type.Integer({ minimum: 60, maximum: 366 * 86400, default: 7 * 86400 }),
        /** The re-sign job re-publishes a desired state this long before it expires. */
        resignMarginS: Type.Integer({ minimum: 30, maximum: 365 * 86400, default: 2 * 86400 }),
        trustedKeysTtlS: Type.Integer({ minimum: 3600, maximum: 10 * 366 * 86400, default: 365 * 86400 }),
        /** The job re-signs the trusted-keys list this long before it expires (root key permitting). */
        trustedKeysMarginS: Type.Integer({ minimum: 60, maximum: 365 * 86400, default: 30 * 86400 }),
        /** Create a local publisher key on a fresh data directory, for `wasmfleet module publish`. */
        devPublisherKey: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    retention: Type.Object(
      {
        days: Type.Integer({ minimum: 1, maximum: 36500, default: 30 }),
        maxRows: Type.Integer({ minimum: 1000, default: 5_000_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    ingest: Type.Object(
      {
        /** Result batches are buffered this long, or until maxBatches, then written in one transaction. */
        flushMs: Type.Integer({ minimum: 1, maximum: 10000, default: 50 }),
        maxBatches: Type.Integer({ minimum: 1, maximum: 100000, default: 500 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The live event stream, GET /api/v1/events (docs/api.md §Live events). */
    events: Type.Object(
      {
        /** Events kept in memory for Last-Event-ID resume. */
        bufferSize: Type.Integer({ minimum: 100, maximum: 1_000_000, default: 10_000 }),
        /** Unsent bytes a stream may hold before it waits for its socket (and is ended if the buffer overtakes it). */
        maxQueuedBytes: Type.Integer({ minimum: 65_536, maximum: 64 * MIB, default: MIB }),
        maxStreams: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
        keepAliveMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 15_000 }),
        tagRefreshMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type FleetApiOptionsInput = Static<typeof FleetApiOptionsSchema>;
export type FleetApiOptions = Readonly<FleetApiOptionsInput & { publicMqttUrl: string; publicMqttUrls: string[] }>;

/** Input as callers write it: every defaulted field may be left out. */
export type FleetApiOptionsPartial = {
  dbPath: string;
  http?: Partial<FleetApiOptionsInput['http']>;
  publicMqttUrl?: string;
  publicMqttUrls?: string[];
  redis?: string;
  mqtt: { url: string; password: string } & Partial<Omit<FleetApiOptionsInput['mqtt'], 'url' | 'password'>>;
  bodyLimitBytes?: number;
  largeBodyLimitBytes?: number;
  jobs?: Partial<FleetApiOptionsInput['jobs']>;
  signing?: Partial<FleetApiOptionsInput['signing']>;
  retention?: Partial<FleetApiOptionsInput['retention']>;
  ingest?: Partial<FleetApiOptionsInput['ingest']>;
  events?: Partial<FleetApiOptionsInput['events']>;
};

export function resolveOptions(input: FleetApiOptionsPartial): FleetApiOptions {
  const result = withDefaults(FleetApiOptionsSchema, input);
  if (!result.ok) {
    const field = result.problems[0]?.field;
    throw apiErrors.WF_API_OPTION_INVALID({ reason: describeProblems(result.problems), field });
  }
  const value = result.value;
  const { desiredTtlS, resignMarginS, trustedKeysTtlS, trustedKeysMarginS } = value.signing;
  // A margin as long as the lifetime would re-sign everything on every run, or never in time.
  if (resignMarginS >= desiredTtlS) {
    throw apiErrors.WF_API_OPTION_INVALID({ reason: `field 'signing/resignMarginS': ${resignMarginS} must be below signing/desiredTtlS (${desiredTtlS})`, field: 'signing/resignMarginS' });
  }
  if (trustedKeysMarginS >= trustedKeysTtlS) {
    throw apiErrors.WF_API_OPTION_INVALID({ reason: `field 'signing/trustedKeysMarginS': ${trustedKeysMarginS} must be below signing/trustedKeysTtlS (${trustedKeysTtlS})`, field: 'signing/trustedKeysMarginS' });
  }
  for (const name of ['offlineDetection', 'resultsRetention', 'resignDesired', 'rolloutProgression'] as const) {
    if (!cron.validate(value.jobs[name])) {
      throw apiErrors.WF_API_OPTION_INVALID({ reason: `field 'jobs/${name}': '${value.jobs[name]}' is not a cron expression`, field: `jobs/${name}` });
    }
  }
  const publicMqttUrls = value.publicMqttUrls ?? [value.publicMqttUrl ?? value.mqtt.url];
  return deepFreeze({ ...value, publicMqttUrl: value.publicMqttUrl ?? publicMqttUrls[0]!, publicMqttUrls });
}
