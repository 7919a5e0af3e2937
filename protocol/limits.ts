/**
 * Size caps, checked on the raw byte length before a payload is parsed [WF-P-CAP-1], so a
 * hostile publisher cannot make any party allocate without bound ("endless data").
 */
export const MAX_WASM_BYTES = 2 * 1024 * 1024;
/** Base64 characters of the largest module (4 per 3 bytes, padded). */
export const MAX_WASM_BASE64_CHARS = 4 * Math.ceil(MAX_WASM_BYTES / 3);

export const PAYLOAD_CAPS = {
  /** base64 of MAX_WASM_BYTES plus the manifest. */
  module: MAX_WASM_BASE64_CHARS + 64 * 1024,
  desired: 256 * 1024,
  reported: 64 * 1024,
  status: 4 * 1024,
  results: 512 * 1024,
  /** Several spooled result batches in one publish, flushed after a reconnect [WF-P-T-7]. */
  spooled: 1024 * 1024,
  /** Ranges of stored sequence numbers [WF-P-T-8]. */
  ack: 64 * 1024,
  /** A device id and a timestamp; anything larger is not a revocation [WF-P-T-6]. */
  revoke: 1024,
} as const;

export type PayloadKind = keyof typeof PAYLOAD_CAPS;

/** The broker's own ceiling on any packet: the largest cap plus MQTT framing. */
export const MAX_PACKET_BYTES = PAYLOAD_CAPS.module + 4 * 1024;

/** Result batches in one SpooledResults publish [WF-P-T-7]. */
export const MAX_SPOOLED_BATCHES = 1000;
/** Seq ranges in one ResultsAck [WF-P-T-8]. */
export const MAX_ACK_RANGES = 1000;
/**
 * Refused batches in one ResultsAck [WF-P-NACK-1]: 64 of at most ~800 bytes each fit its cap, so
 * the API sends refusals in acks of their own (`stored` empty) rather than beside 1,000 ranges.
 */
export const MAX_ACK_REFUSALS = 64;
/** The largest result seq: every JSON reader holds integers up to 2^53 − 1 exactly [WF-P-R-1]. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Desired state may list at most this many modules per device. */
export const MAX_MODULES_PER_DEVICE = 32;
