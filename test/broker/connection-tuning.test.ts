/**
 * Which connections the broker tunes (broker/index.ts, guarded-connection.ts), on a real broker
 * with real mqtt.js clients: the fleet API's service connection reads up to RELAY_READ_AHEAD_BYTES
 * ahead of Aedes, a device's keeps its socket's default bound (so 50,000 devices cannot make the
 * broker hold more than a chunk each); both have their writes coalesced per turn of the event loop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RELAY_READ_AHEAD_BYTES } from '../../broker/index.js';
import { connectDevice, connectService, startTestBroker } from './helpers.js';

test('the service connection reads ahead and a device connection does not; both coalesce writes', async (t) => {
  const tb = await startTestBroker(t);
  await connectService(t, tb);
  await connectDevice(t, tb, 'gw-1');
  const service = tb.broker.connectionTuning('fleet-api-test');
  const device = tb.broker.connectionTuning('gw-1');
  assert.deepEqual(service, { readAheadBytes: RELAY_READ_AHEAD_BYTES, coalescedWrites: true });
  assert.deepEqual(device, { readAheadBytes: 0, coalescedWrites: true });
  assert.equal(tb.broker.connectionTuning('nobody'), undefined);
});
