/**
 * Revocation at a site [WF-P-T-6]: a newer site document in which a device's or a child hub's
 * secret was replaced without grace (no `previous` carrying the old hash) ends the session it
 * opened with the old secret at once, as the centre does; the old secret is refused from then on
 * and the new one admitted. A replacement with grace leaves the session alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { hashSecretSync } from '../../common/secrets.js';
import { hubClientId, hubTopics, hubUsername, type HubSite } from '../../protocol/hubs.js';
import { closedWithin, hubConnectCode } from '../helpers/sessions.js';
import { waitFor } from '../helpers/wait.js';
import { connectCode, connectDevice, onCleanup, siteDocument, startTestHub, startUpstream, tempDir } from './helpers.js';

test('a site document replacing a secret without grace ends the device and child hub sessions opened with it', async (t) => {
  const upstream = await startUpstream(t);
  const api = await mqtt.connectAsync(upstream.url, { protocolVersion: 4, clientId: 'central', clean: true, reconnectPeriod: 0 });
  onCleanup(t, () => api.endAsync(true));
  const site = (revision: number, device: { current: string; previous?: string }, child: { current: string; previous?: string }): HubSite => ({
    ...siteDocument('north', revision, []),
    devices: [{ deviceId: 'gw-1', ...device }],
    hubs: [{ hubId: 'line2', parent: 'north', ...child }],
  });
  const publish = (document: HubSite) => api.publishAsync(hubTopics.hub('north', 'site'), JSON.stringify(document), { qos: 1, retain: true });
  const [d1, d2, d3, h1, h2, h3] = ['dev-1', 'dev-2', 'dev-3', 'hub-1', 'hub-2', 'hub-3'];
  // Hashed once each, as the API stores them: a rotation's `previous` is the stored hash itself.
  const hash = new Map([d1, d2, d3, h1, h2, h3].map((secret) => [secret!, hashSecretSync(secret!)]));
  const hashOf = (secret: string | undefined) => hash.get(secret!)!;
  await publish(site(1, { current: hashOf(d1) }, { current: hashOf(h1) }));
  const north = await startTestHub(t, { hubId: 'north', upstreamUrl: upstream.url, dataDir: tempDir(t) });
  await waitFor('north site', () => (north.siteRevision() === 1 ? true : undefined));
  const url = north.broker.url;

  let device = await connectDevice(t, url, 'gw-1', d1!);
  let child = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: hubClientId('line2'), username: hubUsername('line2'), password: h1, clean: true, reconnectPeriod: 0 });
  onCleanup(t, () => child.endAsync(true));

  // With grace (the old hash kept as previous): both sessions carry on.
  await publish(site(2, { current: hashOf(d2), previous: hashOf(d1) }, { current: hashOf(h2), previous: hashOf(h1) }));
  await waitFor('revision 2', () => (north.siteRevision() === 2 ? true : undefined));
  await device.subscribeAsync('wf/v1/devices/gw-1/desired', { qos: 1 });
  assert.ok(device.connected && child.connected, 'a rotation with grace leaves the sessions open');
  await device.endAsync(true);
  await child.endAsync(true);
  device = await connectDevice(t, url, 'gw-1', d2!);
  child = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: hubClientId('line2'), username: hubUsername('line2'), password: h2, clean: true, reconnectPeriod: 0 });

  // Without grace: both sessions end, the replaced secrets are refused, the new ones admitted.
  const deviceClosed = closedWithin(device, 10_000, "the device's session");
  const childClosed = closedWithin(child, 10_000, "the child hub's session");
  await publish(site(3, { current: hashOf(d3) }, { current: hashOf(h3) }));
  await deviceClosed;
  await childClosed;
  assert.equal(await connectCode(url, 'gw-1', d2!), 4);
  assert.equal(await hubConnectCode(url, 'line2', h2!), 4);
  assert.equal(await connectCode(url, 'gw-1', d3!), 0);
  assert.equal(await hubConnectCode(url, 'line2', h3!), 0);
});
