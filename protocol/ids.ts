/**
 * Identifier rules. They keep MQTT wildcards (`+`, `#`), separators (`/`) and `$` out of every id
 * that is embedded in a topic [WF-P-ID-1], so a device id can never widen a subscription or ACL.
 */
export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
export const MODULE_NAME_PATTERN = '^[a-z][a-z0-9-]{0,62}$';
/** Semantic version 2.0.0 without build metadata (it would not sort). */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$';
export const SHA256_HEX_PATTERN = '^[0-9a-f]{64}$';
export const TAG_KEY_PATTERN = '^[a-z][a-z0-9_.-]{0,31}$';
export const PARAM_NAME_PATTERN = '^[a-z][a-zA-Z0-9_]{0,31}$';

/**
 * The fleet-api's MQTT service account. It contains ':' which DEVICE_ID_PATTERN forbids, so no
 * device can ever be provisioned under the service account's name [WF-P-ID-2].
 */
export const SERVICE_USERNAME = 'wf:fleet-api';

const deviceIdRe = new RegExp(DEVICE_ID_PATTERN);
const moduleNameRe = new RegExp(MODULE_NAME_PATTERN);
const semverRe = new RegExp(SEMVER_PATTERN);
const sha256Re = new RegExp(SHA256_HEX_PATTERN);

export const isDeviceId = (value: string): boolean => deviceIdRe.test(value);
export const isModuleName = (value: string): boolean => moduleNameRe.test(value);
export const isSemver = (value: string): boolean => semverRe.test(value);
export const isSha256Hex = (value: string): boolean => sha256Re.test(value);

/** `name@1.2.3` → parts; undefined when either half is invalid. */
export function parseModuleRef(ref: string): { name: string; version: string } | undefined {
  const at = ref.lastIndexOf('@');
  if (at <= 0) return undefined;
  const name = ref.slice(0, at);
  const version = ref.slice(at + 1);
  return isModuleName(name) && isSemver(version) ? { name, version } : undefined;
}
