/**
 * Every JSON payload on the wire. Each carries `v` (protocol version) and is checked against its
 * schema by the receiver after the size cap in limits.ts. See docs/protocol.md §Payloads.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEVICE_ID_PATTERN, MODULE_NAME_PATTERN, PARAM_NAME_PATTERN, SEMVER_PATTERN, SHA256_HEX_PATTERN } from './ids.js';
import { ManifestSchema } from './manifest.js';
import { ModuleLimitsSchema } from './runtime-limits.js';
import { MAX_ACK_RANGES, MAX_ACK_REFUSALS, MAX_MODULES_PER_DEVICE, MAX_SEQ, MAX_SPOOLED_BATCHES, MAX_WASM_BASE64_CHARS, MAX_WASM_BYTES } from './limits.js';
import { PROTOCOL_VERSION } from './version.js';
import { SignaturesSchema, TrustedKeysSchema } from './trust.js';

const V = Type.Literal(PROTOCOL_VERSION);
const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN });
const ModuleName = Type.String({ pattern: MODULE_NAME_PATTERN });
const Version = Type.String({ pattern: SEMVER_PATTERN });
const Sha256 = Type.String({ pattern: SHA256_HEX_PATTERN });
/** ISO 8601 UTC, as Date.prototype.toISOString writes it. */
const Timestamp = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$', maxLength: 40 });
const Id = Type.String({ minLength: 1, maxLength: 64 });

/** Retained on wf/v1/modules/{sha256} [WF-P-T-1]; the topic's hash must equal `sha256`. */
export const ModuleEnvelopeSchema = Type.Object(
  {
    v: V,
    manifest: ManifestSchema,
    sha256: Sha256,
    size: Type.Integer({ minimum: 8, maximum: MAX_WASM_BYTES }),
    /** The .wasm bytes, base64, so any MQTT client can read the message as text. */
    wasm: Type.String({ maxLength: MAX_WASM_BASE64_CHARS }),
    /**
     * By a publisher key, over every other field but `wasm`, which `sha256` and `size` bind
     * [WF-P-SIG-3].
     */
    /** Optional in the schema so that a receiver can say "not signed" rather than "malformed". */
    signatures: Type.Optional(SignaturesSchema),
  },
  { additionalProperties: false },
);
export type ModuleEnvelope = Static<typeof ModuleEnvelopeSchema>;

export const DesiredModuleSchema = Type.Object(
  {
    name: ModuleName,
    version: Version,
    sha256: Sha256,
    size: Type.Integer({ minimum: 8, maximum: MAX_WASM_BYTES }),
    deploymentId: Id,
    config: Type.Record(Type.String({ pattern: PARAM_NAME_PATTERN }), Type.Union([Type.Number(), Type.Boolean()]), { additionalProperties: false }),
    /** Sensor source id from the device's profile; the profile's first source when absent. */
    input: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    limits: Type.Optional(ModuleLimitsSchema),
  },
  { additionalProperties: false },
);
export type DesiredModule = Static<typeof DesiredModuleSchema>;

/** Retained on wf/v1/devices/{id}/desired [WF-P-T-2]. The full set: absent modules stop. */
export const DesiredStateSchema = Type.Object(
  {
    v: V,
    deviceId: DeviceId,
    /** Only ever increases per device [WF-P-DS-1]; equal revision means no-op. */
    revision: Type.Integer({ minimum: 1 }),
    issuedAt: Timestamp,
    modules: Type.Array(DesiredModuleSchema, { maxItems: MAX_MODULES_PER_DEVICE }),
  },
  { additionalProperties: false },
);
export type DesiredState = Static<typeof DesiredStateSchema>;

/**
 * What is actually retained on wf/v1/devices/{id}/desired [WF-P-T-2]: the desired state the API
 * composed, an expiry, the current trusted-keys list, and the fleet key's signature over all of
 * it [WF-P-SIG-4]. An agent refuses it unsigned, badly signed, expired, or below its revision floor.
 */
export const SignedDesiredStateSchema = Type.Object(
  {
    ...DesiredStateSchema.properties,
    /** After this instant the agent refuses the message (freeze); the API re-signs before it. */
    expiresAt: Timestamp,
    /** Root-signed; carried here so a rotated fleet key arrives with the first state it signs. */
    trust: Type.Optional(TrustedKeysSchema),
    /** Optional in the schema so that a receiver can say "not signed" rather than "malformed". */
    signatures: Type.Optional(SignaturesSchema),
  },
  { additionalProperties: false },
);
export type SignedDesiredState = Static<typeof SignedDesiredStateSchema>;

export const ModuleRunStateSchema = Type.Union([
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('failed'),
]);
export type ModuleRunState = Static<typeof ModuleRunStateSchema>;

const Count = Type.Integer({ minimum: 0 });
/** A result sequence number: an integer in [0, 2^53 − 1], exact in every JSON reader [WF-P-R-1]. */
const Seq = Type.Integer({ minimum: 0, maximum: MAX_SEQ });

/**
 * Why the fleet API refused to store a result batch [WF-P-NACK-2]: `seq-range` (seq missing or not
 * an integer in [0, 2^53 − 1]), `non-finite` (a number field holds null, which is what JSON makes
 * of NaN and ±Infinity), `schema` (any other schema failure), `store` (valid, but SQLite refused it).
 */
export const RefusalReasonSchema = Type.Union([Type.Literal('schema'), Type.Literal('seq-range'), Type.Literal('non-finite'), Type.Literal('store')]);
export type RefusalReason = Static<typeof RefusalReasonSchema>;
export const REFUSAL_REASONS: readonly RefusalReason[] = ['schema', 'seq-range', 'non-finite', 'store'];

/** What one module lost, by reason [WF-P-R-3]; absent while it lost nothing. */
export const ModuleLostSchema = Type.Object(
  {
    /** Output values (metric points, events) that were NaN or ±Infinity, dropped before spooling [WF-P-R-2]. */
    nonFinite: Type.Optional(Count),
    /** Result batches the fleet API refused [WF-P-NACK-1]; never resent. */
    refused: Type.Optional(Count),
    /** The latest refusal: its reason, field and message, readable by an operator. */
    lastRefusal: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type ModuleLost = Static<typeof ModuleLostSchema>;

/**
 * Where in the author's source the latest fault happened [WF-P-T-3a]: present only for a module
 * built with a source map (a debug build, `module dev`); a release build's faults have none.
 */
export const FaultLocationSchema = Type.Object(
  {
    /** Relative to the module folder (`assembly/index.ts`), `~lib/...` for the standard library. */
    file: Type.String({ minLength: 1, maxLength: 300 }),
    line: Type.Integer({ minimum: 1 }),
    column: Type.Integer({ minimum: 1 }),
    function: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type FaultLocation = Static<typeof FaultLocationSchema>;

export const ReportedModuleSchema = Type.Object(
  {
    name: ModuleName,
    version: Version,
    sha256: Sha256,
    deploymentId: Id,
    state: ModuleRunStateSchema,
    /** Why it failed, readable by an operator (e.g. "sha256 mismatch", "trap: unreachable"). */
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
    /** The most recent fault's reason, kept after the module recovers, so a restart is explained. */
    lastFault: Type.Optional(Type.String({ maxLength: 1000 })),
    /** The source location of the fault in `lastFault`, when the module carries a source map [WF-P-T-3a]. */
    faultAt: Type.Optional(FaultLocationSchema),
    faults: Type.Integer({ minimum: 0 }),
    batches: Type.Integer({ minimum: 0 }),
    lost: Type.Optional(ModuleLostSchema),
    /** [WF-P-T-3b] True while the agent has stopped restarting the failed module; absent otherwise. */
    quarantined: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
export type ReportedModule = Static<typeof ReportedModuleSchema>;

/** The agent's results spool, reported so that loss is visible through the API. */
export const SpoolReportSchema = Type.Object(
  {
    /** Results written and not yet acknowledged as stored by the API. */
    pending: Count,
    bytes: Count,
    /** Results dropped because the spool was full (maxBytes) or they were older than maxAgeS. */
    droppedFull: Count,
    droppedAge: Count,
    /** Records found torn or corrupt on restart (a crash mid-write), skipped. */
    torn: Count,
    /** Spool writes that failed (disk full, I/O error); those results were sent live only. */
    writeFailures: Count,
    /** Results lost because they could be neither spooled nor sent. */
    lost: Count,
    /** Results the fleet API refused to store [WF-P-NACK-1], forgotten without a resend. */
    refused: Type.Optional(Count),
    /** `refused` by reason [WF-P-NACK-2]. */
    refusedBy: Type.Optional(
      Type.Object(
        { schema: Type.Optional(Count), 'seq-range': Type.Optional(Count), 'non-finite': Type.Optional(Count), store: Type.Optional(Count) },
        { additionalProperties: false },
      ),
    ),
    /** The newest write failure, readable by an operator. */
    lastError: Type.Optional(Type.String({ maxLength: 1000 })),
    /** Sequence-number ranges [first, last] dropped, newest last; older ranges are merged away. */
    droppedRanges: Type.Array(Type.Tuple([Count, Count]), { maxItems: 64 }),
  },
  { additionalProperties: false },
);
export type SpoolReport = Static<typeof SpoolReportSchema>;

/** Retained on wf/v1/devices/{id}/reported [WF-P-T-3]. */
export const ReportedStateSchema = Type.Object(
  {
    v: V,
    deviceId: DeviceId,
    /** Revision of the last desired state applied; 0 before any. */
    revision: Type.Integer({ minimum: 0 }),
    at: Timestamp,
    agent: Type.Object(
      {
        version: Type.String({ maxLength: 32 }),
        profile: Type.String({ maxLength: 64 }),
        arch: Type.String({ maxLength: 32 }),
      },
      { additionalProperties: false },
    ),
    modules: Type.Array(ReportedModuleSchema, { maxItems: MAX_MODULES_PER_DEVICE }),
    /** The results spool (docs/operations.md): what waits for the API's ack, and every loss. */
    spool: Type.Optional(SpoolReportSchema),
    /** Problems not tied to one module, e.g. a desired state that was refused. */
    errors: Type.Array(
      Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1000 }) }, { additionalProperties: false }),
      { maxItems: 16 },
    ),
  },
  { additionalProperties: false },
);
export type ReportedState = Static<typeof ReportedStateSchema>;

/** Retained on wf/v1/devices/{id}/status [WF-P-T-4]; the offline form is the MQTT will. */
export const DeviceStatusSchema = Type.Object(
  {
    v: V,
    deviceId: DeviceId,
    online: Type.Boolean(),
    at: Timestamp,
    reason: Type.Union([Type.Literal('connected'), Type.Literal('shutdown'), Type.Literal('connection-lost')]),
  },
  { additionalProperties: false },
);
export type DeviceStatus = Static<typeof DeviceStatusSchema>;

const Point = Type.Tuple([Type.Number(), Type.Number()]);

/** Published with QoS 1 on wf/v1/devices/{id}/results [WF-P-T-5]; one module, one batch. */
export const ResultBatchSchema = Type.Object(
  {
    v: V,
    deviceId: DeviceId,
    /** Per-device sequence number; (deviceId, seq) is unique and makes ingestion idempotent. */
    seq: Seq,
    module: ModuleName,
    version: Version,
    deploymentId: Id,
    input: Type.Object(
      {
        source: Type.String({ maxLength: 64 }),
        /** Source sequence number of the batch's first sample, so a result can be replayed. */
        firstSeq: Type.Integer({ minimum: 0 }),
        count: Type.Integer({ minimum: 0 }),
        from: Type.Number(),
        to: Type.Number(),
      },
      { additionalProperties: false },
    ),
    /** Points are [epoch milliseconds, value]. */
    metrics: Type.Array(
      Type.Object({ name: Type.String({ pattern: PARAM_NAME_PATTERN }), points: Type.Array(Point) }, { additionalProperties: false }),
      { maxItems: 64 },
    ),
    events: Type.Array(
      Type.Object(
        { name: Type.String({ pattern: PARAM_NAME_PATTERN }), t: Type.Number(), value: Type.Number() },
        { additionalProperties: false },
      ),
    ),
    /** Outputs the module emitted past its per-batch cap and that were not sent. */
    dropped: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ResultBatch = Static<typeof ResultBatchSchema>;

/**
 * Published with QoS 1 on wf/v1/devices/{id}/spooled [WF-P-T-7]: results that waited in the
 * agent's spool, oldest first, many per publish so a backlog flushes within the broker's rate limit.
 */
export const SpooledResultsSchema = Type.Object(
  {
    v: V,
    deviceId: DeviceId,
    batches: Type.Array(ResultBatchSchema, { minItems: 1, maxItems: MAX_SPOOLED_BATCHES }),
  },
  { additionalProperties: false },
);
export type SpooledResults = Static<typeof SpooledResultsSchema>;

/** One result batch the fleet API will never store, and why [WF-P-NACK-1]. */
export const BatchRefusalSchema = Type.Object(
  {
    /** The batch's seq; null when it carried none in [0, 2^53 − 1] (then no agent can match it). */
    seq: Type.Union([Seq, Type.Null()]),
    reason: RefusalReasonSchema,
    /** Slash-separated path of the field at fault, e.g. `metrics/0/points/3/1`. */
    field: Type.Optional(Type.String({ maxLength: 200 })),
    message: Type.String({ maxLength: 500 }),
  },
  { additionalProperties: false },
);
export type BatchRefusal = Static<typeof BatchRefusalSchema>;

/**
 * Published with QoS 1 by the fleet API on wf/v1/devices/{id}/ack [WF-P-T-8] once result batches
 * are committed to SQLite (or were already there): ranges [first, last] of stored seqs. Only then
 * may the agent forget them; a broker PUBACK means the broker has them, not the database.
 * `refused` is the negative ack [WF-P-NACK-1]: batches the API will never store, each with its
 * reason; the agent forgets them too, counts them as lost with that reason, and never resends.
 */
export const ResultsAckSchema = Type.Object(
  {
    v: V,
    deviceId: DeviceId,
    stored: Type.Array(Type.Tuple([Seq, Seq]), { maxItems: MAX_ACK_RANGES }),
    refused: Type.Optional(Type.Array(BatchRefusalSchema, { minItems: 1, maxItems: MAX_ACK_REFUSALS })),
  },
  { additionalProperties: false },
);
export type ResultsAck = Static<typeof ResultsAckSchema>;

/**
 * Published (not retained) by the fleet API on wf/v1/control/revoke when a device is deleted or
 * its credential revoked [WF-P-T-6]; the broker disconnects every client of `deviceId`.
 */
export const RevokeDeviceSchema = Type.Object(
  {
    v: V,
    deviceId: DeviceId,
    at: Timestamp,
  },
  { additionalProperties: false },
);
export type RevokeDevice = Static<typeof RevokeDeviceSchema>;
