/**
 * Decoding of every payload: size cap on raw bytes first, then JSON, then the schema
 * [WF-P-CAP-1]. Receivers log, count and drop what fails; nothing here throws on bad input.
 */
import type { TSchema, Static } from '@sinclair/typebox';
import { describeProblems, schemaProblems } from '../common/validate.js';
import type { WasmfleetError } from '../common/errors.js';
import { protocolErrors } from './errors.js';
import { PAYLOAD_CAPS, type PayloadKind } from './limits.js';
import {
  SignedDesiredStateSchema,
  DeviceStatusSchema,
  ModuleEnvelopeSchema,
  ReportedStateSchema,
  ResultBatchSchema,
  RevokeDeviceSchema,
  ResultsAckSchema,
  SpooledResultsSchema,
  type SignedDesiredState,
  type DeviceStatus,
  type ModuleEnvelope,
  type ReportedState,
  type ResultBatch,
  type RevokeDevice,
  type ResultsAck,
  type SpooledResults,
} from './messages.js';

export interface PayloadTypes {
  module: ModuleEnvelope;
  desired: SignedDesiredState;
  reported: ReportedState;
  status: DeviceStatus;
  results: ResultBatch;
  revoke: RevokeDevice;
  spooled: SpooledResults;
  ack: ResultsAck;
}

const SCHEMAS: { [K in PayloadKind]: TSchema } = {
  module: ModuleEnvelopeSchema,
  desired: SignedDesiredStateSchema,
  reported: ReportedStateSchema,
  status: DeviceStatusSchema,
  results: ResultBatchSchema,
  revoke: RevokeDeviceSchema,
  spooled: SpooledResultsSchema,
  ack: ResultsAckSchema,
};

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: WasmfleetError };

export function decodePayload<K extends PayloadKind>(kind: K, payload: Uint8Array | string): Decoded<PayloadTypes[K]> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  const cap = PAYLOAD_CAPS[kind];
  if (size > cap) return { ok: false, error: protocolErrors.WF_PROTO_TOO_LARGE({ kind, size, cap }) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (error) {
    return { ok: false, error: protocolErrors.WF_PROTO_NOT_JSON({ kind, reason: (error as Error).message }) };
  }
  const problems = schemaProblems(SCHEMAS[kind], parsed);
  if (problems.length > 0) {
    return { ok: false, error: protocolErrors.WF_PROTO_SCHEMA({ kind, reason: describeProblems(problems), field: problems[0]?.field }) };
  }
  return { ok: true, value: parsed as Static<(typeof SCHEMAS)[K]> as PayloadTypes[K] };
}

/** Encodes a payload; the sender's own cap check, so we never publish what receivers drop. */
export function encodePayload<K extends PayloadKind>(kind: K, value: PayloadTypes[K]): Buffer {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  if (bytes.byteLength > PAYLOAD_CAPS[kind]) {
    throw protocolErrors.WF_PROTO_TOO_LARGE({ kind, size: bytes.byteLength, cap: PAYLOAD_CAPS[kind] });
  }
  return bytes;
}
