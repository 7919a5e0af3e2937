/**
 * Every MQTT topic of the protocol, built and parsed here only. See docs/protocol.md §Topics.
 *
 *   wf/v1/modules/{sha256}           retained  fleet-api → agents   ModuleEnvelope     [WF-P-T-1]
 *   wf/v1/devices/{id}/desired       retained  fleet-api → agent    DesiredState       [WF-P-T-2]
 *   wf/v1/devices/{id}/reported      retained  agent → fleet-api    ReportedState      [WF-P-T-3]
 *   wf/v1/devices/{id}/status        retained  agent (+ will)       DeviceStatus       [WF-P-T-4]
 *   wf/v1/devices/{id}/results       QoS 1     agent → fleet-api    ResultBatch        [WF-P-T-5]
 *   wf/v1/control/revoke             QoS 1     fleet-api → broker   RevokeDevice       [WF-P-T-6]
 *   wf/v1/devices/{id}/spooled       QoS 1     agent → fleet-api    SpooledResults     [WF-P-T-7]
 *   wf/v1/devices/{id}/ack           QoS 1     fleet-api → agent    ResultsAck         [WF-P-T-8]
 */
import { isSha256Hex } from './ids.js';
import { TOPIC_ROOT } from './version.js';

export type DeviceChannel = 'desired' | 'reported' | 'status' | 'results' | 'spooled' | 'ack';
export const DEVICE_CHANNELS: readonly DeviceChannel[] = ['desired', 'reported', 'status', 'results', 'spooled', 'ack'];
/** Channels a device publishes on; the rest it may only read [WF-P-ACL-1]. */
export const DEVICE_PUBLISHED_CHANNELS: readonly DeviceChannel[] = ['reported', 'status', 'results', 'spooled'];
/** Channels only the service publishes and only that device reads [WF-P-ACL-1]. */
export const DEVICE_READ_CHANNELS: readonly DeviceChannel[] = ['desired', 'ack'];

export const MODULES_PREFIX = `${TOPIC_ROOT}/modules/`;
export const DEVICES_PREFIX = `${TOPIC_ROOT}/devices/`;
/** Messages addressed to the broker itself, never delivered to a device [WF-P-T-6]. */
export const CONTROL_PREFIX = `${TOPIC_ROOT}/control/`;

export const topics = {
  module: (sha256: string): string => `${MODULES_PREFIX}${sha256}`,
  device: (deviceId: string, channel: DeviceChannel): string => `${DEVICES_PREFIX}${deviceId}/${channel}`,
  /** Wildcard the fleet-api subscribes to for one channel of all devices. */
  allDevices: (channel: DeviceChannel): string => `${DEVICES_PREFIX}+/${channel}`,
  allModules: `${MODULES_PREFIX}+`,
  /** The broker disconnects every client of the named device [WF-P-T-6]. */
  controlRevoke: `${CONTROL_PREFIX}revoke`,
} as const;

export type ParsedTopic =
  | { kind: 'module'; sha256: string }
  | { kind: 'device'; deviceId: string; channel: DeviceChannel };

/** Parses a concrete (wildcard-free) topic of the protocol; undefined for anything else. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  if (topic.startsWith(MODULES_PREFIX)) {
    const sha256 = topic.slice(MODULES_PREFIX.length);
    return isSha256Hex(sha256) ? { kind: 'module', sha256 } : undefined;
  }
  if (topic.startsWith(DEVICES_PREFIX)) {
    const rest = topic.slice(DEVICES_PREFIX.length).split('/');
    if (rest.length !== 2) return undefined;
    const [deviceId, channel] = rest as [string, string];
    if (deviceId === '' || !(DEVICE_CHANNELS as readonly string[]).includes(channel)) return undefined;
    return { kind: 'device', deviceId, channel: channel as DeviceChannel };
  }
  return undefined;
}
