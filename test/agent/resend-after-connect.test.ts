/**
 * After a connect, results a broker took before the API subscribed are lost without a trace (the
 * broker PUBACKs a publish nobody subscribes to). The sender resends them soon, not at its ack
 * timeout (docs/operations.md §Restarts): when nothing is acked since the connect, or when a
 * newer result is acked past an older one. A dead API costs at most MAX_EARLY_RESENDS resends per
 * connect. Real Aedes broker, real mqtt.js clients; the ack timeout is 10 minutes, so only the
 * early resends can get anything stored here.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { ResultSender, MAX_EARLY_RESENDS } from '../../device-agent/spool/sender.js';
import { Spool } from '../../device-agent/spool/spool.js';
import { PROTOCOL_VERSION, topics } from '../../protocol/index.js';
import { connectClient, startBroker, tempDir, until } from './helpers.js';

const DEVICE = 'gw-resend';
const ACK_TIMEOUT_MS = 600_000;

async function deviceSender(t: TestContext, url: string, resendAfterConnectMs = 300): Promise<{ client: MqttClient; spool: Spool; sender: ResultSender }> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: DEVICE, clean: true, reconnectPeriod: 0 });
  const spool = new Spool(tempDir(t), { maxBytes: 1 << 20, maxAgeS: 3600 });
  const sender = new ResultSender(client, spool, { deviceId: DEVICE, ackTimeoutMs: ACK_TIMEOUT_MS, resendAfterConnectMs });
  client.on('message', (topic, payload) => sender.handleMessage(topic, payload));
  await client.subscribeAsync(sender.ackTopic, { qos: 1 });
  t.after(async () => {
    sender.stop();
    await client.endAsync(true);
    await spool.close();
  });
  return { client, spool, sender };
}

/** Stands in for the API: acks every seq it receives, on the results or the spooled topic. */
async function ackingApi(t: TestContext, url: string): Promise<Set<number>> {
  const api = await connectClient(t, url, 'fake-fleet-api');
  const received = new Set<number>();
  api.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString()) as { seq?: number; batches?: { seq: number }[] };
    const seqs = topic.endsWith('/spooled') ? body.batches!.map((b) => b.seq) : [body.seq!];
    for (const seq of seqs) received.add(seq);
    const ack = { v: PROTOCOL_VERSION, deviceId: DEVICE, stored: seqs.map((seq) => [seq, seq]) };
    void api.publishAsync(topics.device(DEVICE, 'ack'), JSON.stringify(ack), { qos: 1 });
  });
  await api.subscribeAsync([topics.device(DEVICE, 'results'), topics.device(DEVICE, 'spooled')], { qos: 1 });
  return received;
}

const resultPayload = (seq: number): Buffer => Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, deviceId: DEVICE, seq, module: 'ema' }));

test('results sent before the API subscribed are resent soon after the connect, then acked', async (t) => {
  const broker = await startBroker(t);
  const { spool, sender } = await deviceSender(t, broker.url);
  sender.onConnect();
  for (let seq = 0; seq < 5; seq++) {
    spool.append(seq, resultPayload(seq));
    sender.pump();
  }
  await until(() => sender.stats().published === 5, 5000, 'five results published into the void');

  await ackingApi(t, broker.url);
  await until(() => spool.pending === 0, 20_000, 'every result acked long before the 10-minute ack timeout');
  assert.ok(sender.stats().resends >= 1);
});

test('an ack past an older unacked result resends the older one', async (t) => {
  const broker = await startBroker(t);
  // The first early resend waits 3 s, so seq 1 is acked before it: then only the ack past seq 0 can bring that one back.
  const { spool, sender } = await deviceSender(t, broker.url, 3000);
  sender.onConnect();
  spool.append(0, resultPayload(0));
  sender.pump();
  await until(() => sender.stats().published === 1, 5000, 'seq 0 published into the void');
  const received = await ackingApi(t, broker.url);
  spool.append(1, resultPayload(1));
  sender.pump();
  await until(() => received.has(1), 5000, 'seq 1 reaches the API');
  await until(() => spool.pending === 0, 20_000, 'seq 0 resent and acked as well');
  assert.ok(received.has(0));
});

test(`a dead API gets at most ${MAX_EARLY_RESENDS} early resends per connect`, async (t) => {
  const broker = await startBroker(t);
  const { spool, sender } = await deviceSender(t, broker.url);
  sender.onConnect();
  spool.append(0, resultPayload(0));
  sender.pump();
  // 300, 600 and 1200 ms waits: all three are done well within 6 s; none follows until the ack timeout.
  await until(() => sender.stats().resends === MAX_EARLY_RESENDS, 10_000, 'the early resends');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(sender.stats().resends, MAX_EARLY_RESENDS);
  sender.onConnect(); // a reconnect allows another round
  await until(() => sender.stats().resends === 2 * MAX_EARLY_RESENDS, 10_000, 'the next connect\'s early resends');
  assert.equal(spool.pending, 1, 'still kept for the API');
});

test('the ack timeout is watched only while results are pending: an idle sender keeps no timer', async (t) => {
  const broker = await startBroker(t);
  const { spool, sender } = await deviceSender(t, broker.url);
  sender.onConnect();
  assert.equal(sender.watchingAcks, false, 'nothing pending after the connect: no timer');
  await ackingApi(t, broker.url);
  spool.append(0, resultPayload(0));
  sender.pump();
  assert.equal(sender.watchingAcks, true, 'a result in flight is watched for its ack');
  await until(() => spool.pending === 0, 5000, 'the result acked');
  await until(() => !sender.watchingAcks, 5000, 'the timer disarmed once nothing is pending');
  spool.append(1, resultPayload(1));
  sender.pump();
  assert.equal(sender.watchingAcks, true, 'armed again by the next result');
  await until(() => spool.pending === 0 && !sender.watchingAcks, 5000, 'acked and disarmed again');
});
