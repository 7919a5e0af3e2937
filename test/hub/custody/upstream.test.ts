/**
 * Custody forwarding to the real fleet API: a broker over TCP, the API on a SQLite file, mqtt.js
 * clients as the uplink. What custody sends is accepted by the API's own decoding, the API's
 * ResultsAcks empty custody, and a dropped uplink in the middle costs nothing: every batch is
 * stored once. (The hub principal and its ACL are the hub-central branch's; the uplink here
 * speaks as each device, which the device ACL allows for its own results and ack topics.)
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { decodePayload, parseTopic, topics } from '../../../protocol/index.js';
import { connectClient, startApi, type Harness } from '../../api/helpers/harness.js';
import { provision } from '../../api/helpers/fleet.js';
import { batch, openCustody, range, resultsPayload, spooledPayload, tempDir, until } from './helpers.js';

const DEVICES = ['gw-01', 'gw-02'];

async function storedSeqs(h: Harness, deviceId: string): Promise<number[]> {
  h.api.ingestion.flush();
  const seqs: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await h.call('GET', `/api/v1/devices/${deviceId}/results?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(page.status, 200);
    seqs.push(...(page.body.results as { seq: number }[]).map((row) => row.seq));
    cursor = page.body.nextCursor as string | undefined;
  } while (cursor);
  return seqs;
}

test('custody drains into the real API, oldest first; a dropped uplink mid-way loses and duplicates nothing', { timeout: 60_000 }, async (t: TestContext) => {
  const h = await startApi(t, { live: true });
  const passwords = new Map<string, string>();
  for (const deviceId of DEVICES) passwords.set(deviceId, await provision(h, deviceId));
  const custody = await openCustody(t, tempDir(t), { forward: { window: 150 } });
  for (const deviceId of DEVICES) {
    for (let from = 0; from < 600; from += 200) {
      const ack = await custody.receive(deviceId, 'spooled', spooledPayload(deviceId, range(from, from + 199).map((seq) => batch(deviceId, seq))));
      assert.deepEqual(ack?.stored, [[from, from + 199]]);
    }
    await custody.receive(deviceId, 'results', resultsPayload(deviceId, 600));
  }

  const links = new Map<string, MqttClient>();
  const connect = async () => {
    for (const deviceId of DEVICES) {
      const client = await connectClient(t, h.broker!.url, deviceId, passwords.get(deviceId)!);
      client.on('message', (topic, payload) => {
        const parsed = parseTopic(topic);
        const ack = decodePayload('ack', payload);
        if (parsed?.kind === 'device' && ack.ok) custody.upstreamAck(parsed.deviceId, ack.value);
      });
      await client.subscribeAsync(topics.device(deviceId, 'ack'), { qos: 1 });
      links.set(deviceId, client);
    }
  };
  const send = async (topic: string, payload: Buffer) => {
    const parsed = parseTopic(topic);
    assert.ok(parsed?.kind === 'device');
    await links.get(parsed.deviceId)!.publishAsync(topic, payload, { qos: 1 });
  };

  await connect();
  custody.startForwarding(send);
  await until(() => custody.counters().forwarded > 0, 20_000);
  // The uplink drops: the hub stops forwarding and comes back on new connections.
  custody.stopForwarding();
  assert.ok(custody.backlog().batches > 0, 'the uplink drops with batches still held');
  for (const client of links.values()) client.end(true);
  await connect();
  custody.startForwarding(send);
  await until(() => custody.backlog().batches === 0, 30_000);

  for (const deviceId of DEVICES) {
    const seqs = await storedSeqs(h, deviceId);
    assert.equal(seqs.length, 601, `${deviceId}: one row per batch, none twice`);
    assert.deepEqual([...new Set(seqs)].sort((a, b) => a - b), range(0, 600));
  }
  assert.equal(custody.counters().forwarded, 1202);
  assert.deepEqual(custody.lost(), {});
  await custody.close();
});
