/**
 * Error registry of the device agent. Codes are stable and never reused; a module's failure
 * reason in the reported state is the message of one of these, so an operator reads the same
 * words in logs, `wasmfleet device show` and the API.
 */
import { defineErrors } from '../common/errors.js';

export const agentErrors = defineErrors({
  WF_AGENT_CONFIG_UNREADABLE: { message: 'agent config file {path} cannot be read: {reason}', status: 400 },
  WF_AGENT_CONFIG_INVALID: { message: "agent config field '{field}': {reason}", status: 400 },
  WF_AGENT_PROFILE_INVALID: { message: 'agent firmware profile refused: {reason}', status: 400 },
  WF_AGENT_DESIRED_OTHER_DEVICE: { message: "desired state for device '{other}' ignored by device '{deviceId}'", status: 400 },
  WF_AGENT_DESIRED_STALE: { message: 'desired state revision {revision} refused as stale: revision {applied} is already applied', status: 409 },
  WF_AGENT_DESIRED_MALFORMED: { message: 'desired state payload dropped: {reason}', status: 400 },
  WF_AGENT_MODULE_NOT_FOUND: { message: 'module {name}@{version} ({sha256}) not found: nothing on its topic within {timeoutMs} ms', status: 404 },
  WF_AGENT_MODULE_SUBSCRIBE_REFUSED: { message: 'module {name}@{version}: subscribing to {topic} failed: {reason}', status: 403 },
  WF_AGENT_MODULE_MALFORMED: { message: 'module {name}@{version} envelope refused: {reason}', status: 400 },
  WF_AGENT_MODULE_HASH_MISMATCH: { message: 'sha256 mismatch for {name}@{version}: expected {expected}, got {actual}', status: 400 },
  WF_AGENT_MODULE_SIZE_MISMATCH: { message: 'size mismatch for {name}@{version}: expected {expected} bytes, {what} says {actual}', status: 400 },
  WF_AGENT_MODULE_MANIFEST_MISMATCH: { message: 'manifest mismatch for {name}@{version}: envelope carries {actual}', status: 400 },
  WF_AGENT_MODULE_ABI_REFUSED: { message: 'module {name}@{version} refused by the ABI check: {reason}', status: 400 },
  WF_AGENT_MODULE_CONFIG_INVALID: { message: 'module {name}@{version} config refused: {reason}', status: 400 },
  WF_AGENT_UNKNOWN_SOURCE: { message: "module {name}@{version} wants input '{source}', which profile {profile} does not have (has: {known})", status: 400 },
  WF_AGENT_MODULE_UNFIT: { message: 'module {name}@{version} refused by profile {profile}: {reason}', status: 400 },
  WF_AGENT_TOO_MANY_MODULES: { message: 'module {name}@{version} not started: profile {profile} allows at most {max} modules', status: 400 },
  WF_AGENT_DUPLICATE_MODULE: { message: 'module {name}@{version} listed twice for deployment {deploymentId}; the second entry is ignored', status: 400 },
  WF_AGENT_MODULE_QUARANTINED: { message: 'module {name}@{version} quarantined after {faults} faults in a row; last: {reason}', status: 500 },
  WF_AGENT_APPLY_TIMEOUT: { message: 'desired revision {revision} not applied within {timeoutMs} ms (applied: {applied})', status: 504 },
  WF_AGENT_STOPPED: { message: 'agent for device {deviceId} is stopped', status: 503 },
  WF_AGENT_STATE_WRITE_FAILED: { message: 'agent state not written ({what} to {path}): {reason}', status: 500 },
  WF_AGENT_STATE_UNREADABLE: { message: 'agent state file {path} ignored: {reason}', status: 500 },
  WF_AGENT_TRUST_UNUSABLE: { message: 'no trusted keys in force: {reason}', status: 403 },
  WF_AGENT_TRUST_REFUSED: { message: 'trusted-keys list version {version} refused: {reason}', status: 403 },
  WF_AGENT_DESIRED_SIGNATURE: { message: 'desired state revision {revision} refused: {reason}', status: 403 },
  WF_AGENT_DESIRED_EXPIRED: { message: 'desired state revision {revision} refused: it expired at {expiresAt} (freeze protection); the last verified state keeps running', status: 403 },
  WF_AGENT_DESIRED_UNSIGNED_CLEAR: { message: 'empty desired payload ignored: only a signed desired state with no modules stops the modules', status: 403 },
  WF_AGENT_MODULE_SIGNATURE: { message: 'module {name}@{version} refused: {reason}', status: 403 },
  WF_AGENT_MODULE_TARGET: { message: 'module {name}@{version} refused: {reason}', status: 400 },
  WF_AGENT_CACHE_CORRUPT: { message: 'cached module {sha256} discarded: {reason}', status: 500 },
});

