/**
 * Which connections the broker tunes (broker/index.ts, guarded-connection.ts), on a real broker
 * with real mqtt.js clients: the relays (the fleet API's service connection, a site hub) read up
 * to RELAY_READ_AHEAD_BYTES ahead of Aedes; a device's keeps its socket's default bound (so 50,000
 * devices cannot make the broker hold more than a chunk each); all have their writes coalesced per
 * turn of the event loop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RELAY_READ_AHEAD_BYTES, startBroker } from '../../broker/index.js';
import type { CredentialVerifier, Principal } from '../../broker/credentials.js';
import { silentLogger } from '../../common/logger.js';
import { hubClientId, hubUsername } from '../../protocol/hubs.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { connect } from './helpers.js';

test('relay connections read ahead and a device connection does not; all coalesce writes', async (t) => {
  const principals = new Map<string, Principal>([
    [SERVICE_USERNAME, { kind: 'service', name: SERVICE_USERNAME }],
    [hubUsername('north'), { kind: 'hub', hubId: 'north' }],
    ['gw-1', { kind: 'device', deviceId: 'gw-1' }],
  ]);
  // Real CONNECTs and principals; the secret is not what this test is about.
  const verifier: CredentialVerifier = { verify: async (username, password) => (password.toString() === 'secret' ? principals.get(username) : undefined) };
  const broker = await startBroker({ port: 0, verifier, logger: silentLogger });
  t.after(() => broker.close());
  await connect(t, broker.url, { clientId: 'fleet-api-test', username: SERVICE_USERNAME, password: 'secret' });
  await connect(t, broker.url, { clientId: hubClientId('north'), username: hubUsername('north'), password: 'secret' });
  await connect(t, broker.url, { clientId: 'gw-1', username: 'gw-1', password: 'secret' });
  const relay = { readAheadBytes: RELAY_READ_AHEAD_BYTES, coalescedWrites: true };
  assert.deepEqual(broker.connectionTuning('fleet-api-test'), relay);
  assert.deepEqual(broker.connectionTuning(hubClientId('north')), relay);
  assert.deepEqual(broker.connectionTuning('gw-1'), { readAheadBytes: 0, coalescedWrites: true });
  assert.equal(broker.connectionTuning('nobody'), undefined);
});
