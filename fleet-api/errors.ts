/**
 * The fleet API's error registry. Codes are stable and never reused; each is listed in
 * docs/api.md (a test enforces it). `field` in the details names the request field at fault.
 */
import { defineErrors } from '../common/errors.js';

export const apiErrors = defineErrors({
  WF_API_VALIDATION: { message: '{field}: {reason}', status: 400 },
  WF_API_UNAUTHORIZED: { message: 'a valid bearer token is required: {reason}', status: 401 },
  WF_API_FORBIDDEN: { message: "token role '{role}' may not {action}: it needs role '{needed}'", status: 403 },
  WF_API_NOT_FOUND: { message: "{kind} '{id}' not found", status: 404 },
  WF_API_ROUTE_NOT_FOUND: { message: 'no route {method} {url}', status: 404 },
  WF_API_CONFLICT: { message: '{reason}', status: 409 },
  WF_API_BAD_URL: { message: "the request path is not valid percent-encoding: '{path}'", status: 400 },
  WF_API_BAD_REQUEST: { message: 'the request is not valid HTTP/1.1: {reason}', status: 400 },
  WF_API_REQUEST_TIMEOUT: { message: 'the request did not arrive completely in time', status: 408 },
  WF_API_PARAM_TOO_LONG: { message: 'a path parameter exceeds {max} characters', status: 414 },
  WF_API_UNSUPPORTED_MEDIA_TYPE: { message: "content type '{contentType}' is not accepted here: send application/json", status: 415 },
  WF_API_HEADERS_TOO_LARGE: { message: 'the request line and headers exceed {max} bytes (a query string counts)', status: 431 },
  WF_API_PAYLOAD_TOO_LARGE: { message: 'request body exceeds the {limit}-byte limit of {route} ({option})', status: 413 },
  WF_API_MODULE_TOO_LARGE: { message: 'module binary of {size} bytes exceeds {max} bytes', status: 413 },
  WF_API_MODULE_INVALID: { message: 'module {name}@{version} is refused: {reason}', status: 422 },
  WF_API_MODULE_OVER_LIMIT: { message: 'module {name}@{version} is refused: {reason} (limit {limit})', status: 422 },
  WF_API_MODULE_UNSIGNED: { message: 'module {name}@{version} is refused: it carries no publisher signature (sign it with `wasmfleet module publish --key FILE`)', status: 422 },
  WF_API_MODULE_SIGNATURE: { message: 'module {name}@{version} is refused: {reason}', status: 403 },
  WF_API_ROOT_KEY_OFFLINE: { message: 'the root key is not on this server ({path}), so it cannot sign a new trusted-keys list: {hint}', status: 409 },
  WF_API_TRUST_INVALID: { message: 'trusted-keys list refused: {reason}', status: 422 },
  WF_API_SIGNING_SETUP: { message: 'signing setup failed: {reason}', status: 500 },
  WF_API_CONFIG_INVALID: { message: '{reason}', status: 422 },
  WF_API_TARGET_INVALID: { message: '{reason}', status: 422 },
  WF_API_OPTION_INVALID: { message: 'fleet-api option {reason}', status: 500 },
  WF_API_UNAVAILABLE: { message: 'server at capacity: {reason}', status: 503 },
  WF_API_INTERNAL: { message: 'internal error: {reason}', status: 500 },
  WF_API_HUB_HAS_CHILDREN: { message: "hub '{hubId}' still has child hubs; remove them first", status: 409 },
  WF_API_MODULE_IN_USE: { message: 'module {name}@{version} is still desired: {reason}', status: 409 },
  WF_API_REDIS_UNAVAILABLE: { message: 'credential replica in Redis not updated: {reason}', status: 503 },
});

