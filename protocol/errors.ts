/** Error registry for decoding wire payloads; shared by every receiver. */
import { defineErrors } from '../common/errors.js';

export const protocolErrors = defineErrors({
  WF_PROTO_TOO_LARGE: { message: '{kind} payload of {size} bytes exceeds its cap of {cap} bytes', status: 413 },
  WF_PROTO_NOT_JSON: { message: '{kind} payload is not valid JSON: {reason}', status: 400 },
  WF_PROTO_SCHEMA: { message: '{kind} payload is invalid: {reason}', status: 400 },
  WF_PROTO_TOPIC_MISMATCH: { message: '{kind} payload does not match its topic: {reason}', status: 400 },
});
