/**
 * The hub principal across broker nodes, with no call into the API: the platform (node A with the
 * API, on Redis) provisions hubs and devices through REST; node B, a separate broker that knows
 * only the Redis URL, admits the hub from the credential replica and decides its ACL from the
 * membership sets the replica keeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubClientId, hubTopics, hubUsername } from '../../protocol/hubs.js';
import { topics } from '../../protocol/topics.js';
import { redisSkipReason } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startTwoNodes } from './two-nodes.js';
import { connect, settle, subscribeGranted, waitForClose } from './helpers.js';

const skip = redisSkipReason();

test('another node admits a hub from the Redis replica and limits it to its own site, following membership changes', { skip }, async (t) => {
  const fleet = await startTwoNodes(t, 'hub-cluster');
  const created = await fleet.call('POST', '/api/v1/hubs', { id: 'north', selector: { site: 'north' }, urls: ['mqtt://hub-north.local:1883'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const password = created.body.upstream.password as string;
  for (const [id, site] of [['gw-1', 'north'], ['gw-9', 'south']]) {
    assert.equal((await fleet.call('POST', '/api/v1/devices', { id, profile: 'sim-x86-64', tags: { site } })).status, 201);
  }

  const hub = await connect(t, fleet.nodeB.url, { clientId: hubClientId('north'), clean: false, username: hubUsername('north'), password });
  // One filter per SUBSCRIBE: on a Redis-persisted broker, a CleanSession-0 SUBSCRIBE with two
  // granted filters is never answered (Aedes cluster persistence; seen for devices too, not hub-specific).
  const granted: number[] = [];
  for (const filter of [topics.device('gw-1', 'desired'), hubTopics.hub('north', 'site'), topics.device('gw-9', 'desired'), topics.allDevices('desired')]) {
    granted.push(...(await subscribeGranted(hub, [filter])));
  }
  assert.deepEqual(granted, [1, 1, 0x80, 0x80]);

  // A device added behind the hub later is admitted on node B within the membership cache time.
  assert.equal((await fleet.call('POST', '/api/v1/devices', { id: 'gw-2', profile: 'sim-x86-64', hub: 'north' })).status, 201);
  await waitFor('gw-2 in the hub membership on node B', async () => ((await subscribeGranted(hub, [topics.device('gw-2', 'ack')]))[0] === 1 ? true : undefined), 5_000, 200);

  // Writing another site's device closes the hub's connection on node B too.
  hub.publish(topics.device('gw-9', 'results'), '{}', { qos: 1 });
  await waitForClose(hub);
  await assert.rejects(connect(t, fleet.nodeB.url, { clientId: hubClientId('north'), clean: false, username: hubUsername('north'), password: password + 'x' }), { code: 4 });

  // Removed: node B refuses it from the replica.
  assert.equal((await fleet.call('DELETE', '/api/v1/hubs/north')).status, 204);
  await settle(300);
  await assert.rejects(connect(t, fleet.nodeB.url, { clientId: hubClientId('north'), clean: false, username: hubUsername('north'), password }), { code: 4 });
});

test("a hub's rotation without grace closes its session on another node too (RevokeHub through the cluster's emitter)", { skip }, async (t) => {
  const fleet = await startTwoNodes(t, 'hub-cluster');
  const created = await fleet.call('POST', '/api/v1/hubs', { id: 'north', urls: ['mqtt://hub-north.local:1883'] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const password = created.body.upstream.password as string;
  const hub = await connect(t, fleet.nodeB.url, { clientId: hubClientId('north'), clean: true, username: hubUsername('north'), password });
  const rotated = await fleet.call('POST', '/api/v1/hubs/north/credentials/rotate', { graceSeconds: 0 });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  await waitForClose(hub);
  await assert.rejects(connect(t, fleet.nodeB.url, { clientId: hubClientId('north'), clean: true, username: hubUsername('north'), password }), { code: 4 });
  const again = await connect(t, fleet.nodeB.url, { clientId: hubClientId('north'), clean: true, username: hubUsername('north'), password: rotated.body.upstream.password });
  assert.ok(again.connected);
});
