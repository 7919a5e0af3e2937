/**
 * Access control rules [WF-P-ACL-1], as pure functions of (principal, topic). Every topic shape
 * comes from protocol/topics.ts: this file only compares against what those functions build or
 * parse, so a topic change in the protocol changes the ACL with it. Defaults deny: anything not
 * listed below is refused, which also covers `$SYS/...`, `#`, `wf/v1/#` and unknown topics.
 *
 *   principal   publish                                   subscribe
 *   device D    wf/v1/devices/D/{reported,status,results, wf/v1/devices/D/{desired,ack},
 *                                   spooled}              wf/v1/modules/+, wf/v1/modules/{sha256}
 *   service     wf/v1/modules/{sha256},                   wf/v1/devices/{+|id}/{reported,status,results,spooled},
 *               wf/v1/devices/{id}/{desired,ack},         wf/v1/modules/+, wf/v1/modules/{sha256}
 *               wf/v1/control/revoke, wf/v1/control/revoke-hub [WF-P-T-6]
 *   anonymous   nothing                                   wf/v1/devices/{+|id}/{reported,status,results}
 *               (only with allowAnonymous, for development: a read-only watcher such as mosquitto_sub;
 *               never desired state, modules or control)
 *   hub H       its subtree's device reports and hub      its subtree's device desired/ack, modules,
 *               statuses (hub-acl.ts)                      its subtree's site documents (hub-acl.ts)
 *   service     also wf/v1/hubs/{id}/site                 also wf/v1/hubs/{+|id}/status
 * Nobody subscribes to wf/v1/control/...: control messages are for the broker alone.
 */
import { DEVICE_PUBLISHED_CHANNELS, DEVICE_READ_CHANNELS, parseTopic, topics, type ParsedTopic } from '../protocol/topics.js';
import { isDeviceId } from '../protocol/ids.js';
import { PAYLOAD_CAPS, type PayloadKind } from '../protocol/limits.js';
import { HUB_REVOKE_TOPIC, hubTopics, parseHubTopic } from '../protocol/hubs.js';
import type { Principal } from './credentials.js';
import { decideHubPublish, decideHubSubscribe } from './hub-acl.js';
import type { HubSubtree } from './hub-membership.js';

/**
 * Hub documents have no entry in PAYLOAD_CAPS (the protocol decodes them with their own schemas):
 * a site lists up to MAX_SITE_DEVICES credential hashes, so it may be as large as a module.
 */
export const HUB_PAYLOAD_CAPS = { hubSite: PAYLOAD_CAPS.module, hubStatus: 4 * 1024, hubRevoke: PAYLOAD_CAPS.revoke } as const;
export type PublishKind = PayloadKind | keyof typeof HUB_PAYLOAD_CAPS;

export type PublishDecision =
  | { readonly allowed: true; readonly kind: PublishKind; readonly cap: number }
  | { readonly allowed: false; readonly reason: string };

export type SubscribeDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

const deny = (reason: string) => ({ allowed: false, reason }) as const;

const hasWildcard = (topic: string): boolean => topic.includes('+') || topic.includes('#');

/**
 * parseTopic accepts any non-empty id segment, including `+`; the ACL must not, or
 * `wf/v1/devices/+/desired` would parse as the device named '+'. Ids are validated [WF-P-ID-1].
 */
function parseConcrete(topic: string): ParsedTopic | undefined {
  if (hasWildcard(topic) || topic.startsWith('$')) return undefined;
  const parsed = parseTopic(topic);
  if (parsed?.kind === 'device' && !isDeviceId(parsed.deviceId)) return undefined;
  return parsed;
}

const payloadKindOf = (parsed: ParsedTopic): PayloadKind => (parsed.kind === 'module' ? 'module' : parsed.channel);

const isPublishedChannel = (channel: string): boolean => (DEVICE_PUBLISHED_CHANNELS as readonly string[]).includes(channel);

function allowPublish(parsed: ParsedTopic): PublishDecision {
  const kind = payloadKindOf(parsed);
  return { allowed: true, kind, cap: PAYLOAD_CAPS[kind] };
}

const hubPublish = (kind: keyof typeof HUB_PAYLOAD_CAPS): PublishDecision => ({ allowed: true, kind, cap: HUB_PAYLOAD_CAPS[kind] });

/**
 * `subtree` is the hub principal's membership (hub-membership.ts), looked up by the caller; it is
 * ignored for every other principal, and a hub without one is denied everything.
 */
export function decidePublish(principal: Principal | undefined, topic: string, subtree?: HubSubtree): PublishDecision {
  if (!principal) return deny('anonymous clients may not publish');
  // `$SYS/...` belongs to the broker; Aedes' default hook refuses it too, ours replaces that hook.
  if (topic.startsWith('$')) return deny('topics starting with $ are reserved to the broker');
  // Only the API may make the broker disconnect a device [WF-P-T-6].
  if (topic === topics.controlRevoke) {
    if (principal.kind !== 'service') return deny('only the service publishes control messages [WF-P-T-6]');
    return { allowed: true, kind: 'revoke', cap: PAYLOAD_CAPS.revoke };
  }
  if (topic === HUB_REVOKE_TOPIC) {
    if (principal.kind !== 'service') return deny('only the service publishes control messages [WF-P-T-6]');
    return hubPublish('hubRevoke');
  }
  if (principal.kind === 'hub') {
    const decision = decideHubPublish(principal.hubId, topic, subtree);
    if (!decision.allowed) return decision;
    return decision.target === 'hub' ? hubPublish('hubStatus') : { allowed: true, kind: decision.channel, cap: PAYLOAD_CAPS[decision.channel] };
  }
  const hub = parseHubTopic(topic);
  if (hub) {
    // Site documents come from the API only; hub statuses from hubs only.
    if (principal.kind === 'service' && hub.channel === 'site') return hubPublish('hubSite');
    return deny(principal.kind === 'service' ? 'hub status is published by hubs' : 'only the service and hubs publish on hub topics');
  }
  const parsed = parseConcrete(topic);
  if (!parsed) return deny('not a protocol topic');

  if (principal.kind === 'device') {
    // A device writes only its own reported/status/results, never modules or desired state.
    if (parsed.kind !== 'device') return deny('only the service publishes modules [WF-P-T-1]');
    if (parsed.deviceId !== principal.deviceId) return deny("another device's topic");
    if (!isPublishedChannel(parsed.channel)) return deny('only the service publishes desired state [WF-P-T-2]');
    return allowPublish(parsed);
  }

  // The service writes what the API decides: modules and desired states, nothing a device reports.
  if (parsed.kind === 'module') return allowPublish(parsed);
  if ((DEVICE_READ_CHANNELS as readonly string[]).includes(parsed.channel)) return allowPublish(parsed);
  return deny('the service does not publish device-reported channels');
}

/** What devices report: the one thing an anonymous development watcher may read. */
function isDeviceReportFilter(filter: string, parsed: ParsedTopic | undefined): boolean {
  if (DEVICE_PUBLISHED_CHANNELS.some((channel) => topics.allDevices(channel) === filter)) return true;
  return parsed?.kind === 'device' && isPublishedChannel(parsed.channel);
}

export function decideSubscribe(principal: Principal | undefined, filter: string, subtree?: HubSubtree): SubscribeDecision {
  const parsed = parseConcrete(filter);
  if (!principal) {
    // Only reachable with allowAnonymous: authenticate refuses anonymous clients otherwise.
    if (isDeviceReportFilter(filter, parsed)) return { allowed: true };
    return deny('anonymous clients may only read device reported/status/results');
  }
  if (filter === topics.allModules) return { allowed: true };
  if (parsed?.kind === 'module') return { allowed: true };

  if (principal.kind === 'hub') {
    const decision = decideHubSubscribe(principal.hubId, filter, subtree);
    return decision.allowed ? { allowed: true } : decision;
  }
  if (principal.kind === 'device') {
    // Exact match only: no filter a device may use can reach another device's topics.
    if (DEVICE_READ_CHANNELS.some((channel) => filter === topics.device(principal.deviceId, channel))) return { allowed: true };
    return deny('a device subscribes only to its own desired state, its results acks and modules');
  }

  if (isDeviceReportFilter(filter, parsed)) return { allowed: true };
  if (filter === hubTopics.allHubs('status') || parseHubTopic(filter)?.channel === 'status') return { allowed: true };
  return deny('the service subscribes only to device reported/status/results, hub statuses and modules');
}
