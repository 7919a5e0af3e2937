import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { topics } from '../../protocol/topics.js';
import { connectDevice, connectService, collect, settle, startTestBroker, subscribeGranted, waitForClose } from './helpers.js';

const LIMIT = 2048;

test('a publish larger than maxPacketBytes drops the connection; smaller ones pass', async (t) => {
  const tb = await startTestBroker(t, { maxPacketBytes: LIMIT });
  const service = await connectService(t, tb);
  await subscribeGranted(service, [topics.allDevices('results')]);
  const seen = collect(service);
  const device = await connectDevice(t, tb, 'gw-big');

  await device.publishAsync(topics.device('gw-big', 'results'), Buffer.alloc(1024, 0x20), { qos: 1 });
  const closed = waitForClose(device);
  device.publish(topics.device('gw-big', 'results'), Buffer.alloc(4096, 0x20), { qos: 1 }, () => undefined);
  await closed;
  await settle();

  assert.equal(seen.length, 1, 'only the small publish was routed');
  assert.equal(tb.broker.stats().oversizePackets, 1);
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_PACKET_TOO_LARGE');
  assert.equal(line?.clientId, 'gw-big');
});

function rawSocket(t: { after(fn: () => void): void }, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
    t.after(() => socket.destroy());
  });
}

test('a header declaring a huge packet is refused before its body is sent, even before CONNECT', async (t) => {
  const tb = await startTestBroker(t, { maxPacketBytes: LIMIT });
  const socket = await rawSocket(t, tb.broker.port);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // CONNECT type byte, then Remaining Length 200 MiB split over two writes.
  socket.write(Buffer.from([0x10, 0x80, 0x80]));
  await settle(50);
  socket.write(Buffer.from([0x80, 0x64]));
  await closed;
  assert.equal(tb.broker.stats().oversizePackets, 1);
  assert.ok(tb.logs.lines.some((l) => l.code === 'WF_BROKER_PACKET_TOO_LARGE' && l.clientId === null));
});

test('a malformed remaining length (five bytes) drops the connection', async (t) => {
  const tb = await startTestBroker(t, { maxPacketBytes: LIMIT });
  const socket = await rawSocket(t, tb.broker.port);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(Buffer.from([0x10, 0x81, 0x80, 0x80, 0x80, 0x01]));
  await closed;
  assert.equal(tb.broker.stats().oversizePackets, 1);
  assert.ok(tb.logs.lines.some((l) => l.code === 'WF_BROKER_MALFORMED_LENGTH'));
});
