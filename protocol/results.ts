/**
 * Decoding of result payloads batch by batch [WF-P-NACK-1]: one bad batch in a SpooledResults is
 * refused alone, with a reason, and the others are stored. The envelope (size cap, JSON, `v`,
 * `deviceId`, the array of batches) still fails whole, as every other payload does [WF-P-CAP-1].
 * Nothing here throws on bad input.
 */
import { Type } from '@sinclair/typebox';
import { describeProblems, schemaProblems, type SchemaProblem } from '../common/validate.js';
import { protocolErrors } from './errors.js';
import { DEVICE_ID_PATTERN } from './ids.js';
import { MAX_SEQ, MAX_SPOOLED_BATCHES, PAYLOAD_CAPS } from './limits.js';
import { ResultBatchSchema, type BatchRefusal, type RefusalReason, type ResultBatch } from './messages.js';
import type { Decoded } from './codec.js';
import { PROTOCOL_VERSION } from './version.js';

/** The SpooledResults envelope with its batches still unchecked, so each is judged alone. */
const SpooledEnvelopeSchema = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    deviceId: Type.String({ pattern: DEVICE_ID_PATTERN }),
    batches: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_SPOOLED_BATCHES }),
  },
  { additionalProperties: false },
);

export interface DecodedResults {
  /** The envelope's device for `spooled`; for `results`, the batch's own when it names one. */
  readonly deviceId: string | undefined;
  readonly batches: ResultBatch[];
  readonly refused: BatchRefusal[];
}

const MAX_MESSAGE = 500;
const MAX_FIELD = 200;

/** Decodes a `results` (one batch) or `spooled` (many) payload, refusing bad batches one by one. */
export function decodeResults(channel: 'results' | 'spooled', payload: Uint8Array): Decoded<DecodedResults> {
  const cap = PAYLOAD_CAPS[channel];
  if (payload.byteLength > cap) return { ok: false, error: protocolErrors.WF_PROTO_TOO_LARGE({ kind: channel, size: payload.byteLength, cap }) };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (error) {
    return { ok: false, error: protocolErrors.WF_PROTO_NOT_JSON({ kind: channel, reason: (error as Error).message }) };
  }
  let raw: unknown[];
  let deviceId: string | undefined;
  if (channel === 'spooled') {
    const problems = schemaProblems(SpooledEnvelopeSchema, parsed);
    if (problems.length > 0) {
      return { ok: false, error: protocolErrors.WF_PROTO_SCHEMA({ kind: channel, reason: describeProblems(problems), field: problems[0]!.field }) };
    }
    ({ deviceId, batches: raw } = parsed as { deviceId: string; batches: unknown[] });
  } else {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { ok: false, error: protocolErrors.WF_PROTO_SCHEMA({ kind: channel, reason: 'document: Expected object', field: '' }) };
    }
    const named = (parsed as { deviceId?: unknown }).deviceId;
    deviceId = typeof named === 'string' ? named : undefined;
    raw = [parsed];
  }
  const batches: ResultBatch[] = [];
  const refused: BatchRefusal[] = [];
  for (const item of raw) {
    const checked = checkResultBatch(item);
    if (checked.ok) batches.push(checked.value);
    else refused.push(checked.refusal);
  }
  return { ok: true, value: { deviceId, batches, refused } };
}

/** One batch against ResultBatchSchema; a failure becomes a refusal with its reason and field. */
export function checkResultBatch(item: unknown): { ok: true; value: ResultBatch } | { ok: false; refusal: BatchRefusal } {
  const problems = schemaProblems(ResultBatchSchema, item, 1);
  const first = problems[0];
  if (!first) return { ok: true, value: item as ResultBatch };
  const seq = (item as { seq?: unknown } | null)?.seq;
  const validSeq = typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 && seq <= MAX_SEQ ? seq : null;
  return {
    ok: false,
    refusal: {
      seq: validSeq,
      reason: refusalReason(first, item),
      ...(first.field !== '' ? { field: first.field.slice(0, MAX_FIELD) } : {}),
      message: `${first.field === '' ? 'document' : `field '${first.field}'`}: ${first.message}`.slice(0, MAX_MESSAGE),
    },
  };
}

/** Decided on the problem's field and the value found there, never on the message text. */
function refusalReason(problem: SchemaProblem, item: unknown): RefusalReason {
  if (problem.field === 'seq') return 'seq-range';
  // JSON has no NaN or Infinity: JSON.stringify writes null, so a null number is a non-finite one.
  if (valueAt(item, problem.field) === null && NUMERIC_FIELD.test(problem.field)) return 'non-finite';
  return 'schema';
}

const NUMERIC_FIELD = /^(metrics\/\d+\/points\/\d+\/[01]|events\/\d+\/(t|value)|input\/(from|to))$/;

function valueAt(item: unknown, field: string): unknown {
  let at: unknown = item;
  for (const key of field.split('/')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Seqs as the sorted, merged `[first, last]` ranges a ResultsAck carries [WF-P-T-8]. */
export function seqRanges(seqs: readonly number[]): [number, number][] {
  const sorted = seqs.slice().sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const seq of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && seq <= last[1] + 1) last[1] = Math.max(last[1], seq);
    else ranges.push([seq, seq]);
  }
  return ranges;
}
