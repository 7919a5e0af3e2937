import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashSecretSync } from '../../common/secrets.js';
import { siteCredentialVerifier } from '../../hub/site-credentials.js';
import type { HubSite } from '../../protocol/hubs.js';

const site = (devices: HubSite['devices']): HubSite => ({ v: 1, hubId: 'north', revision: 1, issuedAt: '2026-01-01T00:00:00Z', devices, hubs: [] });
import { SERVICE_USERNAME } from '../../protocol/index.js';

test('site credentials: current secret, previous one only within its grace, never a device behind a child hub, never the service account', async () => {
  let now = 1_000;
  let current = site([
    { deviceId: 'gw-1', current: hashSecretSync('new'), previous: hashSecretSync('old'), previousUntil: 2_000 },
    { deviceId: 'gw-2', via: 'child', current: hashSecretSync('s2') },
  ]);
  const verifier = siteCredentialVerifier(() => current, () => now);
  assert.deepEqual(await verifier.verify('gw-1', Buffer.from('new')), { kind: 'device', deviceId: 'gw-1' });
  assert.deepEqual(await verifier.verify('gw-1', Buffer.from('old')), { kind: 'device', deviceId: 'gw-1' }, 'previous secret within its grace');
  now = 2_000;
  assert.equal(await verifier.verify('gw-1', Buffer.from('old')), undefined, 'previous secret after its grace');
  assert.equal(await verifier.verify('gw-2', Buffer.from('s2')), undefined, 'behind a child hub: connects there');
  assert.equal(await verifier.verify('gw-3', Buffer.from('x')), undefined);
  // The hub reaches its broker in-process; nothing may log in as the service here, whatever the secret.
  assert.equal(await verifier.verify(SERVICE_USERNAME, Buffer.from('')), undefined);
  assert.equal(await verifier.verify(SERVICE_USERNAME, Buffer.from('guess')), undefined);
  current = site([]);
  assert.equal(await verifier.verify('gw-1', Buffer.from('new')), undefined, 'dropped from the newer document');
});
