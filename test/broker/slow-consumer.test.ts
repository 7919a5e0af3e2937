import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { topics } from '../../protocol/topics.js';
import { connectDevice, settle, startTestBroker } from './helpers.js';

const utf8 = (text: string): Buffer => {
  const bytes = Buffer.from(text);
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
};
const packet = (typeByte: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([typeByte, body.length]), body]);

/** A subscriber that never reads: a raw socket that sends CONNECT and SUBSCRIBE, then pauses. */
async function stalledSubscriber(t: { after(fn: () => void): void }, port: number, password: string): Promise<Socket> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
    t.after(() => s.destroy());
  });
  // CONNECT 3.1.1 (§3.1): protocol name, level 4, flags username+password+clean session, keep-alive 60.
  const connectBody = Buffer.concat([utf8('MQTT'), Buffer.from([4, 0xc2, 0, 60]), utf8('slow-service'), utf8(SERVICE_USERNAME), utf8(password)]);
  const subscribeBody = Buffer.concat([Buffer.from([0, 1]), utf8(topics.allDevices('results')), Buffer.from([0])]);
  const subacked = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      if (chunk.includes(0x90)) resolve();
    });
  });
  socket.write(packet(0x10, connectBody));
  socket.write(packet(0x82, subscribeBody));
  await subacked;
  socket.removeAllListeners('data');
  socket.pause();
  return socket;
}

test('a subscriber whose socket stays full is disconnected after drainTimeoutMs; the publisher is not', async (t) => {
  const tb = await startTestBroker(t, { drainTimeoutMs: 300, publishRatePerSec: 0 });
  const password = await tb.verifier.addService();
  await stalledSubscriber(t, tb.broker.port, password);
  const device = await connectDevice(t, tb, 'gw-fast');
  assert.equal(tb.broker.stats().connectedClients, 2);

  // QoS 0 results the stalled subscriber never reads: the kernel buffers fill, then the broker's.
  const payload = Buffer.alloc(256 * 1024, 0x20);
  const deadline = Date.now() + 20_000;
  while (tb.broker.stats().connectedClients > 1 && Date.now() < deadline) {
    for (let i = 0; i < 8; i += 1) device.publish(topics.device('gw-fast', 'results'), payload, { qos: 0 });
    await settle(50);
  }
  assert.equal(tb.broker.stats().connectedClients, 1, 'the stalled subscriber was dropped');
  assert.equal(device.connected, true, 'the publisher stays connected');
  await device.publishAsync(topics.device('gw-fast', 'results'), Buffer.from('{}'), { qos: 1 });
});
