/**
 * Marks a device offline when it has been silent for more than twice its profile's heartbeat:
 * the MQTT will covers clean disconnects, this covers the ones the broker never noticed.
 */
import { loadProfile } from '../../firmware-profiles/index.js';
import type { Store } from '../store/index.js';

const FALLBACK_HEARTBEAT_S = 60;

export function offlineDetection(store: Store, now: () => number = Date.now): { checked: number; markedOffline: string[] } {
  const heartbeat = new Map<string, number>();
  const heartbeatOf = (profile: string): number => {
    let seconds = heartbeat.get(profile);
    if (seconds === undefined) {
      try {
        seconds = loadProfile(profile).heartbeatIntervalS;
      } catch {
        // A profile removed after provisioning must not stop detection for everyone else.
        seconds = FALLBACK_HEARTBEAT_S;
      }
      heartbeat.set(profile, seconds);
    }
    return seconds;
  };
  const at = now();
  const stale: string[] = [];
  const online = store.onlineDevices();
  for (const device of online) {
    const lastSeen = device.lastSeen === null ? 0 : Date.parse(device.lastSeen);
    if (at - lastSeen > 2 * heartbeatOf(device.profile) * 1000) stale.push(device.id);
  }
  if (stale.length > 0) store.markOffline(stale);
  return { checked: online.length, markedOffline: stale };
}
