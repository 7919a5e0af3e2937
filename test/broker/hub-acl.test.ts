/** Every allow/deny row of the hub principal's ACL (broker/hub-acl.ts, via acl.ts), and the membership cache. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePublish, decideSubscribe, HUB_PAYLOAD_CAPS } from '../../broker/acl.js';
import type { Principal } from '../../broker/credentials.js';
import { cachedHubMembership, subtreeFromIds, type HubSubtree } from '../../broker/hub-membership.js';
import { topics } from '../../protocol/topics.js';
import { hubTopics } from '../../protocol/hubs.js';
import { PAYLOAD_CAPS } from '../../protocol/limits.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { SHA_A } from './helpers.js';

// Hub north relays for gw-1 (directly) and gw-2 (behind its child hub north-2); gw-9 is another site's.
const north: Principal = { kind: 'hub', hubId: 'north' };
const subtree: HubSubtree = subtreeFromIds('north', ['gw-1', 'gw-2'], ['north-2']);
const service: Principal = { kind: 'service', name: SERVICE_USERNAME };
const device: Principal = { kind: 'device', deviceId: 'gw-1' };

const pub = (p: Principal, topic: string, s: HubSubtree | undefined = subtree) => decidePublish(p, topic, s);
const sub = (p: Principal, filter: string, s: HubSubtree | undefined = subtree) => decideSubscribe(p, filter, s);

test('a hub publishes reported/status/results/spooled of devices in its subtree, with their payload caps', () => {
  for (const channel of ['reported', 'status', 'results', 'spooled'] as const) {
    for (const id of ['gw-1', 'gw-2']) {
      const decision = pub(north, topics.device(id, channel));
      assert.deepEqual(decision, { allowed: true, kind: channel, cap: PAYLOAD_CAPS[channel] }, `${id}/${channel}`);
    }
  }
});

test("a hub may not publish another site's device topics, desired state, acks, modules or control", () => {
  for (const channel of ['reported', 'status', 'results', 'spooled'] as const) assert.equal(pub(north, topics.device('gw-9', channel)).allowed, false);
  for (const channel of ['desired', 'ack'] as const) assert.equal(pub(north, topics.device('gw-1', channel)).allowed, false);
  assert.equal(pub(north, topics.module(SHA_A)).allowed, false);
  assert.equal(pub(north, topics.controlRevoke).allowed, false);
  assert.equal(pub(north, topics.allDevices('results')).allowed, false);
  assert.equal(pub(north, 'wf/v1/devices/#').allowed, false);
  assert.equal(pub(north, '$SYS/broker/x').allowed, false);
  assert.equal(pub(north, 'anything/else').allowed, false);
});

test('a hub publishes its own and its descendants\' status, never another hub\'s nor any site document', () => {
  assert.deepEqual(pub(north, hubTopics.hub('north', 'status')), { allowed: true, kind: 'hubStatus', cap: HUB_PAYLOAD_CAPS.hubStatus });
  assert.equal(pub(north, hubTopics.hub('north-2', 'status')).allowed, true);
  assert.equal(pub(north, hubTopics.hub('south', 'status')).allowed, false);
  assert.equal(pub(north, hubTopics.hub('north', 'site')).allowed, false);
  assert.equal(pub(north, hubTopics.hub('north-2', 'site')).allowed, false);
});

test('a hub subscribes to exact desired/ack topics of its subtree, modules, and its subtree\'s site documents', () => {
  for (const id of ['gw-1', 'gw-2']) {
    assert.equal(sub(north, topics.device(id, 'desired')).allowed, true);
    assert.equal(sub(north, topics.device(id, 'ack')).allowed, true);
  }
  assert.equal(sub(north, topics.allModules).allowed, true);
  assert.equal(sub(north, topics.module(SHA_A)).allowed, true);
  assert.equal(sub(north, hubTopics.hub('north', 'site')).allowed, true);
  assert.equal(sub(north, hubTopics.hub('north-2', 'site')).allowed, true);
});

test('a hub may not subscribe to wildcards, other sites, device reports, hub statuses or control', () => {
  const refused = [
    topics.device('gw-9', 'desired'),
    topics.device('gw-9', 'ack'),
    topics.device('gw-1', 'results'),
    topics.device('gw-1', 'reported'),
    topics.allDevices('desired'),
    topics.allDevices('ack'),
    'wf/v1/devices/#',
    'wf/v1/#',
    '#',
    hubTopics.allHubs('site'),
    hubTopics.allHubs('status'),
    hubTopics.hub('north', 'status'),
    hubTopics.hub('south', 'site'),
    topics.controlRevoke,
  ];
  for (const filter of refused) assert.equal(sub(north, filter).allowed, false, filter);
});

test('a hub the credential source no longer knows is denied everything', () => {
  assert.equal(decidePublish(north, topics.device('gw-1', 'results'), undefined).allowed, false);
  assert.equal(decidePublish(north, hubTopics.hub('north', 'status'), undefined).allowed, false);
  assert.equal(decideSubscribe(north, topics.device('gw-1', 'desired'), undefined).allowed, false);
  assert.equal(decideSubscribe(north, hubTopics.hub('north', 'site'), undefined).allowed, false);
});

test('the service publishes site documents and reads hub statuses; devices touch neither', () => {
  assert.deepEqual(pub(service, hubTopics.hub('north', 'site')), { allowed: true, kind: 'hubSite', cap: HUB_PAYLOAD_CAPS.hubSite });
  assert.equal(pub(service, hubTopics.hub('north', 'status')).allowed, false);
  assert.equal(sub(service, hubTopics.allHubs('status')).allowed, true);
  assert.equal(sub(service, hubTopics.hub('north', 'status')).allowed, true);
  assert.equal(sub(service, hubTopics.allHubs('site')).allowed, false);
  assert.equal(pub(device, hubTopics.hub('north', 'status')).allowed, false);
  assert.equal(pub(device, hubTopics.hub('north', 'site')).allowed, false);
  assert.equal(sub(device, hubTopics.hub('north', 'site')).allowed, false);
  assert.equal(sub(device, hubTopics.allHubs('status')).allowed, false);
});

test('the membership cache shares a lookup per hub and reads again after its ttl', async () => {
  let reads = 0;
  let clock = 0;
  const cache = cachedHubMembership({ subtreeOf: (hubId) => (reads++, subtreeFromIds(hubId, ['gw-1'], [])) }, 1000, () => clock);
  const [a, b] = await Promise.all([cache.subtreeOf('north'), cache.subtreeOf('north')]);
  assert.equal(reads, 1);
  assert.ok(a?.hasDevice('gw-1') && b?.hasHub('north'));
  clock = 1000;
  await cache.subtreeOf('north');
  assert.equal(reads, 2);
  cache.invalidate('north');
  await cache.subtreeOf('north');
  assert.equal(reads, 3);
});

test('a membership source that throws is a failed read: the lookup rejects, peek stays pending, nothing is cached', async () => {
  let reads = 0;
  const cache = cachedHubMembership({
    subtreeOf: () => {
      reads++;
      throw new TypeError('The database connection is not open');
    },
  });
  await assert.rejects(Promise.resolve().then(() => cache.subtreeOf('north')), /not open/);
  assert.equal(cache.peek('north'), 'pending');
  await assert.rejects(Promise.resolve().then(() => cache.fresh('north')), /not open/);
  assert.ok(reads >= 3, 'each failed read is asked again');
});
