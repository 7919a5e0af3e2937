import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AedesPublishPacket, Client } from 'aedes';
import { decodePayload, topics } from '../../protocol/index.js';
import { startApi, waitFor } from './helpers/harness.js';

test('DELETE /devices/:id publishes a revocation for that device on the control topic [WF-P-T-6]', async (t) => {
  const h = await startApi(t, { live: true });
  await h.call('POST', '/api/v1/devices', { id: 'gw-07', profile: 'sim-x86-64' });
  const seen: { payload: Buffer; retain: boolean; clientId: string | undefined }[] = [];
  h.broker!.aedes.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
    if (packet.topic !== topics.controlRevoke) return;
    seen.push({ payload: Buffer.from(packet.payload), retain: packet.retain, clientId: client?.id });
  });

  assert.equal((await h.call('DELETE', '/api/v1/devices/gw-07')).status, 204);
  const message = await waitFor(() => seen[0], 3000, 'revocation published');
  const decoded = decodePayload('revoke', message.payload);
  assert.ok(decoded.ok, 'payload matches RevokeDeviceSchema');
  assert.equal(decoded.value.deviceId, 'gw-07');
  assert.equal(message.retain, false, 'a revocation is an event, not state');
  assert.equal(message.clientId, h.api.link.clientId, 'sent by the API link on the service account');
  assert.equal(h.api.link.counters().publishFailed, 0);
});

test('DELETE of an unknown device publishes no revocation', async (t) => {
  const h = await startApi(t, { live: true });
  let revocations = 0;
  h.broker!.aedes.on('publish', (packet: AedesPublishPacket) => {
    if (packet.topic === topics.controlRevoke) revocations += 1;
  });
  assert.equal((await h.call('DELETE', '/api/v1/devices/gw-none')).status, 404);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(revocations, 0);
});
