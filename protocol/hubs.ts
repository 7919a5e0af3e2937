/**
 * Site hubs (docs/federation.md, docs/protocol.md §Hubs). A hub is a broker at a site that relays
 * for the devices behind it; it authenticates upstream as a hub principal and downstream checks its
 * site's devices against the HubSite document the API keeps retained for it. Nothing here is signed
 * by the fleet: a hub can only ever relay modules and desired states, which agents verify themselves
 * [WF-P-SIG-3, WF-P-SIG-4], and the site document carries secret hashes, never secrets.
 *
 *   wf/v1/hubs/{hubId}/site     retained  fleet-api → hub       HubSite      [WF-P-T-9]
 *   wf/v1/hubs/{hubId}/status   retained  hub (+ will) → api    HubStatus    [WF-P-T-10]
 *
 * Device topics travel through a hub unchanged: upstream, the hub publishes its devices'
 * reported/status/results/spooled on their own topics and subscribes to their desired/ack and to
 * the modules their desired states name; downstream, the hub's own broker serves them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEVICE_ID_PATTERN } from './ids.js';
import { PROTOCOL_VERSION, TOPIC_ROOT } from './version.js';

/** Hub ids follow device ids [WF-P-ID-1]: they are embedded in topics the same way. */
export const HUB_ID_PATTERN = DEVICE_ID_PATTERN;
const hubIdRe = new RegExp(HUB_ID_PATTERN);
export const isHubId = (value: string): boolean => hubIdRe.test(value);

/**
 * A hub's MQTT username upstream. It contains ':' which DEVICE_ID_PATTERN forbids, so a hub and a
 * device can never be confused, nor a hub with the service account [WF-P-ID-2].
 */
export const HUB_USERNAME_PREFIX = 'wf:hub:';
export const hubUsername = (hubId: string): string => `${HUB_USERNAME_PREFIX}${hubId}`;
export function hubIdOfUsername(username: string): string | undefined {
  if (!username.startsWith(HUB_USERNAME_PREFIX)) return undefined;
  const hubId = username.slice(HUB_USERNAME_PREFIX.length);
  return isHubId(hubId) ? hubId : undefined;
}
/** MQTT clientId a hub uses upstream (persistent session, so acks and desired states queue). */
export const hubClientId = (hubId: string): string => `wf-hub-${hubId}`;

export type HubChannel = 'site' | 'status';
export const HUBS_PREFIX = `${TOPIC_ROOT}/hubs/`;
export const hubTopics = {
  hub: (hubId: string, channel: HubChannel): string => `${HUBS_PREFIX}${hubId}/${channel}`,
  /** The fleet-api reads every hub's status. */
  allHubs: (channel: HubChannel): string => `${HUBS_PREFIX}+/${channel}`,
} as const;

export function parseHubTopic(topic: string): { hubId: string; channel: HubChannel } | undefined {
  if (!topic.startsWith(HUBS_PREFIX)) return undefined;
  const rest = topic.slice(HUBS_PREFIX.length).split('/');
  if (rest.length !== 2) return undefined;
  const [hubId, channel] = rest as [string, string];
  if (!isHubId(hubId) || (channel !== 'site' && channel !== 'status')) return undefined;
  return { hubId, channel };
}

const V = Type.Literal(PROTOCOL_VERSION);
const Id = Type.String({ pattern: DEVICE_ID_PATTERN });
const Timestamp = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$', maxLength: 40 });
/** common/secrets.ts format (`sha256$salt$hash` or a legacy scrypt hash); never a secret. */
const SecretHash = Type.String({ minLength: 1, maxLength: 300 });

/** One principal's credential as the site may check it: the current hash and, during a rotation's grace, the previous. */
const SiteCredentialSchema = {
  current: SecretHash,
  previous: Type.Optional(SecretHash),
  /** ms since the epoch after which `previous` no longer works. */
  previousUntil: Type.Optional(Type.Integer({ minimum: 0 })),
};

export const MAX_SITE_DEVICES = 10_000;
export const MAX_SITE_HUBS = 256;

/**
 * Retained on wf/v1/hubs/{hubId}/site [WF-P-T-9]: everything the hub needs to run its site alone.
 * A device or hub absent from the latest document is refused, and disconnected if connected
 * (deletion and revocation reach a site this way, whichever broker relayed the document).
 */
export const HubSiteSchema = Type.Object(
  {
    v: V,
    hubId: Id,
    /** Only ever increases per hub; a hub ignores a document at or below the revision it holds. */
    revision: Type.Integer({ minimum: 1 }),
    issuedAt: Timestamp,
    /** Every device in this hub's subtree. `via` names the child hub it sits behind; absent when it connects to this hub directly. */
    devices: Type.Array(Type.Object({ deviceId: Id, via: Type.Optional(Id), ...SiteCredentialSchema }, { additionalProperties: false }), {
      maxItems: MAX_SITE_DEVICES,
    }),
    /** Every hub in this hub's subtree, with its parent, so nested hubs authenticate at their parent. */
    hubs: Type.Array(Type.Object({ hubId: Id, parent: Id, ...SiteCredentialSchema }, { additionalProperties: false }), {
      maxItems: MAX_SITE_HUBS,
    }),
  },
  { additionalProperties: false },
);
export type HubSite = Static<typeof HubSiteSchema>;

/**
 * Retained on wf/v1/hubs/{hubId}/status [WF-P-T-10], published by the hub on every change and at
 * most every few seconds while its backlog moves; its will is the same message with state offline.
 */
export const HubStatusSchema = Type.Object(
  {
    v: V,
    hubId: Id,
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    at: Timestamp,
    /** Site revision the hub runs on; 0 before it has received one. */
    siteRevision: Type.Integer({ minimum: 0 }),
    /** Result batches held in the hub's custody, not yet acknowledged upstream. */
    backlog: Type.Object(
      {
        batches: Type.Integer({ minimum: 0 }),
        bytes: Type.Integer({ minimum: 0 }),
        oldestAt: Type.Union([Type.Null(), Timestamp]),
      },
      { additionalProperties: false },
    ),
    /** Batches the hub had to drop, by reason (custody full, too old, refused upstream). */
    lost: Type.Record(Type.String({ maxLength: 40 }), Type.Integer({ minimum: 0 }), { maxProperties: 16 }),
    /** Devices connected to this hub right now (not those behind child hubs). */
    devicesConnected: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type HubStatus = Static<typeof HubStatusSchema>;

/**
 * Published (not retained) by the fleet API when a hub's credential is revoked: rotated without
 * grace, or the hub removed [WF-P-T-6]. Every broker node (through the cluster's emitter), and a
 * parent hub's broker, closes every connection authenticated as `wf:hub:{hubId}`; the reconnect is
 * then checked against the new credential. Only the service may publish it; nobody subscribes.
 */
export const HUB_REVOKE_TOPIC = `${TOPIC_ROOT}/control/revoke-hub`;
export const RevokeHubSchema = Type.Object({ v: V, hubId: Id, at: Timestamp }, { additionalProperties: false });
export type RevokeHub = Static<typeof RevokeHubSchema>;
