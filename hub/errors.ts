/**
 * Error registry of the site hub (docs/federation.md §Errors). Codes are stable and never reused;
 * a test checks every code is documented there and none documented is stale.
 */
import { defineErrors } from '../common/errors.js';

export const hubErrors = defineErrors({
  WF_HUB_CONFIG_UNREADABLE: { message: 'hub config file {path} cannot be read: {reason}', status: 400 },
  WF_HUB_CONFIG_INVALID: { message: "hub config field '{field}': {reason}", status: 400 },
  WF_HUB_SITE_REFUSED: { message: 'site document refused: {reason}', status: 400 },
  WF_HUB_SITE_STALE: { message: 'site document revision {revision} ignored: revision {held} is already held', status: 409 },
  WF_HUB_STORE_FAILED: { message: 'hub store: {what} not written to {path}: {reason}', status: 500 },
  WF_HUB_PAYLOAD_DROPPED: { message: '{kind} payload on {topic} dropped: {reason}', status: 400 },
  WF_HUB_UPLINK_DOWN: { message: 'uplink to {url} lost: {reason}', status: 503 },
  WF_HUB_DEVICE_DROPPED: { message: "device '{deviceId}' is not in site revision {revision}; its connections are closed", status: 403 },
});
