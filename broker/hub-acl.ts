/**
 * Access control for hub principals [WF-P-ACL-1], as pure functions of (hub, topic, subtree).
 * A hub H relays for its subtree (hub-membership.ts) and for nothing else:
 *
 *   publish    wf/v1/devices/D/{reported,status,results,spooled}   D in H's subtree
 *              wf/v1/hubs/X/status                                 X = H or a descendant
 *   subscribe  wf/v1/devices/D/{desired,ack}                       D in H's subtree, exact topics
 *              wf/v1/modules/+, wf/v1/modules/{sha256}             as devices may (acl.ts)
 *              wf/v1/hubs/X/site                                   X = H or a descendant
 *
 * No wildcard filter over devices or hubs is ever allowed: it would reach other sites' topics. A
 * hub never publishes desired state, modules, acks, site documents or control messages, so a
 * compromised hub cannot speak for the fleet-api (docs/security.md §Hubs).
 */
import { DEVICE_PUBLISHED_CHANNELS, DEVICE_READ_CHANNELS, parseTopic, type DeviceChannel } from '../protocol/topics.js';
import { isDeviceId } from '../protocol/ids.js';
import { parseHubTopic } from '../protocol/hubs.js';
import type { HubSubtree } from './hub-membership.js';

export type HubTopicDecision = { readonly allowed: true; readonly target: 'device'; readonly channel: DeviceChannel } | { readonly allowed: true; readonly target: 'hub'; readonly channel: 'site' | 'status' } | { readonly allowed: false; readonly reason: string };

const deny = (reason: string) => ({ allowed: false, reason }) as const;
const hasWildcard = (topic: string): boolean => topic.includes('+') || topic.includes('#');

export function decideHubPublish(hubId: string, topic: string, subtree: HubSubtree | undefined): HubTopicDecision {
  if (!subtree) return deny(`hub '${hubId}' is not known to the credential source`);
  if (hasWildcard(topic) || topic.startsWith('$')) return deny('not a protocol topic');
  const hub = parseHubTopic(topic);
  if (hub) {
    if (hub.channel !== 'status') return deny('only the service publishes site documents');
    if (!subtree.hasHub(hub.hubId)) return deny(`hub '${hub.hubId}' is not in this hub's subtree`);
    return { allowed: true, target: 'hub', channel: 'status' };
  }
  const parsed = parseTopic(topic);
  if (!parsed) return deny('not a protocol topic');
  if (parsed.kind === 'module') return deny('only the service publishes modules [WF-P-T-1]');
  if (!isDeviceId(parsed.deviceId)) return deny('not a protocol topic');
  if (!DEVICE_PUBLISHED_CHANNELS.includes(parsed.channel)) return deny('only the service publishes desired state and acks [WF-P-T-2]');
  if (!subtree.hasDevice(parsed.deviceId)) return deny(`device '${parsed.deviceId}' is not behind this hub`);
  return { allowed: true, target: 'device', channel: parsed.channel };
}

/** Module filters are decided by acl.ts before this is asked, as for every principal. */
export function decideHubSubscribe(hubId: string, filter: string, subtree: HubSubtree | undefined): HubTopicDecision {
  if (!subtree) return deny(`hub '${hubId}' is not known to the credential source`);
  if (hasWildcard(filter)) return deny('a hub subscribes to exact topics of its own subtree only, never wildcards');
  const hub = parseHubTopic(filter);
  if (hub) {
    if (hub.channel !== 'site') return deny('hub status is read by the service only');
    if (!subtree.hasHub(hub.hubId)) return deny(`hub '${hub.hubId}' is not in this hub's subtree`);
    return { allowed: true, target: 'hub', channel: 'site' };
  }
  const parsed = parseTopic(filter);
  if (parsed?.kind !== 'device' || !isDeviceId(parsed.deviceId)) return deny('not a topic a hub may read');
  if (!DEVICE_READ_CHANNELS.includes(parsed.channel)) return deny("a hub reads its devices' desired state and acks only");
  if (!subtree.hasDevice(parsed.deviceId)) return deny(`device '${parsed.deviceId}' is not behind this hub`);
  return { allowed: true, target: 'device', channel: parsed.channel };
}
