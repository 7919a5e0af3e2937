/**
 * The link's confirmed publishes (fleet-api/mqtt-publish.ts) keep its socket from filling: a
 * rollout hands thousands of desired states to sendInOrder at once, and mqtt.js waits for the
 * socket's 'drain' before it reads the next message it receives (to send its PUBACK), so a full
 * socket stopped the API's reads of the fleet until every publish had reached the broker. Real
 * Aedes on port 0, real mqtt.js clients over TCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { sendInOrder, TopicQueue, type PublishDeps } from '../../fleet-api/mqtt-publish.js';
import { connectClient, startBroker } from './helpers/harness.js';

const PUBLISHES = 2000;
const PAYLOAD_BYTES = 1200;

test('thousands of publishes at once never hold more than the socket takes; every one is confirmed, in order per topic', async (t) => {
  const broker = await startBroker(t);
  const link = await connectClient(t, broker.url, 'svc', 'x');
  const reader = await connectClient(t, broker.url, 'reader', 'x');
  const seen = new Map<string, number[]>();
  reader.on('message', (topic, payload) => seen.set(topic, [...(seen.get(topic) ?? []), payload.readUInt32BE(0)]));
  await reader.subscribeAsync('gate/#', { qos: 1 });

  const stream = (link as unknown as { stream: Writable }).stream;
  let mostQueued = 0;
  link.on('packetsend', (packet) => {
    if (packet.cmd === 'publish') mostQueued = Math.max(mostQueued, stream.writableLength);
  });
  const deps: PublishDeps = {
    client: () => link,
    queue: new TopicQueue(),
    counters: { published: 0, publishFailed: 0, deferred: 0 },
    publishTimeoutMs: 60_000,
    logger: silentLogger,
  };
  const payload = (n: number) => () => {
    const bytes = Buffer.alloc(PAYLOAD_BYTES, 0x20);
    bytes.writeUInt32BE(n, 0);
    return bytes;
  };
  // Two publishes per topic: the second must never overtake the first.
  const sends = Array.from({ length: PUBLISHES }, (_, i) =>
    sendInOrder(deps, `gate/${i % (PUBLISHES / 2)}`, payload(i), {}, { message: 'publish failed', fields: {} }),
  );
  const sent = await Promise.all(sends);
  assert.equal(sent.filter(Boolean).length, PUBLISHES);
  assert.equal(deps.counters.published, PUBLISHES);
  // The socket's own bound plus the one packet that crossed it; everything else waited its turn.
  // Handed over at once, 2,000 packets of 1.2 KB sat in the socket together (about 2.4 MB).
  assert.ok(mostQueued <= stream.writableHighWaterMark + PAYLOAD_BYTES + 64, `at most ${mostQueued} bytes queued on the socket`);

  await new Promise<void>((resolve, reject) => {
    const until = Date.now() + 10_000;
    const check = () => ([...seen.values()].reduce((n, list) => n + list.length, 0) >= PUBLISHES ? resolve() : Date.now() > until ? reject(new Error('not all delivered')) : setTimeout(check, 20));
    check();
  });
  for (const [topic, order] of seen) assert.deepEqual(order, [...order].sort((a, b) => a - b), `order on ${topic}`);
});

test('publishes waiting for room on a connection that closes are counted deferred, not left hanging', async (t) => {
  // A broker that accepts the connection and then reads nothing more: the socket fills and stays full.
  const accepted: Socket[] = [];
  const stuck = createServer((socket) => {
    accepted.push(socket);
    socket.once('data', () => {
      socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      socket.pause();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
  const link = await mqtt.connectAsync(`mqtt://127.0.0.1:${(stuck.address() as AddressInfo).port}`, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 0 });
  t.after(() => {
    link.end(true);
    // Paused, the accepted socket never reads the client's end: the server would wait for it.
    for (const socket of accepted) socket.destroy();
    return new Promise<void>((resolve) => stuck.close(() => resolve()));
  });
  const deps: PublishDeps = {
    client: () => link,
    queue: new TopicQueue(),
    counters: { published: 0, publishFailed: 0, deferred: 0 },
    publishTimeoutMs: 1_000,
    logger: silentLogger,
  };
  const count = 2000;
  const sends = Array.from({ length: count }, (_, i) => sendInOrder(deps, `gone/${i}`, () => Buffer.alloc(8_000, 0x20), {}, { message: 'publish failed', fields: {} }));
  const stream = (link as unknown as { stream: Writable }).stream;
  for (let i = 0; i < 200 && !stream.writableNeedDrain; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(stream.writableNeedDrain, 'the socket filled');
  stream.destroy();
  const sent = await Promise.all(sends);
  assert.equal(sent.filter(Boolean).length, 0);
  // Those written before the close wait out their PUBACK timeout; the others never reached the socket.
  assert.ok(deps.counters.deferred > 0, `deferred ${deps.counters.deferred}`);
  assert.equal(deps.counters.publishFailed + deps.counters.deferred, count);
});
