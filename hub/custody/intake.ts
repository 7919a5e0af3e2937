/**
 * A device's result payload judged by the rules the fleet API applies (fleet-api/device-inbox.ts,
 * protocol/results.ts): size cap, JSON and envelope fail whole, as does a payload naming another
 * device [WF-P-CAP-1]; a batch failing ResultBatch is refused alone with its reason
 * [WF-P-NACK-1, WF-P-NACK-2]. So custody never holds what the API would refuse, and a device gets
 * its negative ack from the hub while the uplink is down, exactly as it would from the API.
 */
import { decodeResults, type BatchRefusal } from '../../protocol/index.js';

export interface IntakeBatch {
  readonly seq: number;
  /** The batch as it will travel upstream. */
  readonly bytes: Buffer;
}

export type Intake =
  | { ok: true; batches: IntakeBatch[]; refused: BatchRefusal[] }
  | { ok: false; code: string; reason: string };

export function judgeResults(deviceId: string, channel: 'results' | 'spooled', payload: Buffer): Intake {
  const decoded = decodeResults(channel, payload);
  if (!decoded.ok) return { ok: false, code: decoded.error.code, reason: decoded.error.message };
  const { batches, refused } = decoded.value;
  if (decoded.value.deviceId !== undefined && decoded.value.deviceId !== deviceId) {
    return { ok: false, code: 'WF_PROTO_TOPIC_MISMATCH', reason: `payload deviceId '${decoded.value.deviceId}' differs from topic` };
  }
  if (batches.some((batch) => batch.deviceId !== deviceId)) return { ok: false, code: 'WF_PROTO_TOPIC_MISMATCH', reason: 'a spooled batch names another device' };
  return {
    ok: true,
    // A lone batch keeps its bytes exactly; one out of a SpooledResults is its JSON, which holds the same values.
    batches: channel === 'results' ? batches.map((batch) => ({ seq: batch.seq, bytes: payload })) : batches.map((batch) => ({ seq: batch.seq, bytes: Buffer.from(JSON.stringify(batch), 'utf8') })),
    refused,
  };
}
