/** Store records → REST representations. */
import type { DeviceRecord, DeviceSummaryRecord } from '../store/index.js';

export function deviceSummary(device: DeviceSummaryRecord) {
  return {
    id: device.id,
    profile: device.profile,
    tags: device.tags,
    createdAt: device.createdAt,
    online: device.online,
    lastSeen: device.lastSeen,
    desiredRevision: device.desiredRevision,
    reportedRevision: device.reportedRevision,
    inSync: device.reportedRevision >= device.desiredRevision,
  };
}

export function deviceDetail(device: DeviceRecord) {
  return {
    ...deviceSummary(device),
    desired: {
      revision: device.desiredRevision,
      issuedAt: device.desired?.issuedAt ?? null,
      modules: device.desired?.modules ?? [],
    },
    ...(device.reported ? { reported: device.reported } : {}),
  };
}
