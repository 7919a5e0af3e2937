/** Store records → REST representations. */
import type { DeviceRecord, DeviceSummaryRecord } from '../store/index.js';
import { isFaulted, isQuarantined } from '../store/devices.js';

/**
 * `offlineHubs` (hubs/views.ts unreachableHubs) adds where the device is reachable; a record that
 * carries no hubId shows neither field.
 */
export function deviceSummary(device: DeviceSummaryRecord, offlineHubs?: ReadonlySet<string>) {
  const hub = device.hubId;
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
    ...(device.faulted !== undefined ? { faulted: device.faulted } : {}),
    ...(device.quarantined !== undefined ? { quarantined: device.quarantined } : {}),
    ...(hub !== undefined ? { hub } : {}),
    ...(hub !== undefined && offlineHubs ? { reachable: hub === null ? ('direct' as const) : offlineHubs.has(hub) ? ('offline-hub' as const) : ('hub' as const) } : {}),
  };
}

export function deviceDetail(device: DeviceRecord & { hubId?: string | null }, offlineHubs?: ReadonlySet<string>) {
  const flags = { faulted: device.reported ? isFaulted(device.reported) : false, quarantined: device.reported ? isQuarantined(device.reported) : false };
  return {
    ...deviceSummary({ ...device, ...flags }, offlineHubs),
    desired: {
      revision: device.desiredRevision,
      issuedAt: device.desired?.issuedAt ?? null,
      modules: device.desired?.modules ?? [],
    },
    ...(device.reported ? { reported: device.reported } : {}),
  };
}
