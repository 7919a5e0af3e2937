/**
 * Write coalescing on a relay's socket (broker/guarded-connection.ts): packets written to it from
 * separate setImmediate callbacks, as Aedes writes each delivery, leave in one socket write per
 * turn of the event loop instead of one each, and arrive whole and in order. Real TCP on loopback,
 * packets written with mqtt-packet as Aedes does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { coalesceWrites } from '../../common/coalesced-writes.js';

const PACKETS = 200;

/** Writes PACKETS publishes to the accepted socket, each from its own setImmediate; returns the socket writes made and the packets the peer parsed. */
async function deliver(coalesce: boolean): Promise<{ writes: number; topics: string[] }> {
  let writes = 0;
  const accepted = new Promise<Socket>((resolve) => {
    const server = createServer((socket) => {
      server.close();
      resolve(socket);
    });
    server.listen(0, '127.0.0.1', () => {
      const peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
      const parser = mqttPacket.parser();
      parser.on('packet', (packet) => {
        if (packet.cmd === 'publish') topics.push(packet.topic);
        if (topics.length === PACKETS) {
          peer.destroy();
          done();
        }
      });
      peer.on('data', (chunk) => parser.parse(chunk));
    });
  });
  const topics: string[] = [];
  let done!: () => void;
  const received = new Promise<void>((resolve) => (done = resolve));
  const socket = await accepted;
  const counted = socket as unknown as { _writev: (...args: unknown[]) => void; _write: (...args: unknown[]) => void };
  const writev = counted._writev.bind(socket);
  const write = counted._write.bind(socket);
  counted._writev = (...args) => ((writes += 1), writev(...args));
  counted._write = (...args) => ((writes += 1), write(...args));
  if (coalesce) coalesceWrites(socket);
  for (let i = 0; i < PACKETS; i++) {
    setImmediate(() => mqttPacket.writeToStream({ cmd: 'publish', topic: `wf/v1/devices/d${i}/status`, payload: Buffer.alloc(100, 0x20), qos: 1, messageId: i + 1, retain: false, dup: false }, socket));
  }
  await received;
  socket.destroy();
  return { writes, topics };
}

test('packets written to a coalescing socket in one turn leave in one write, whole and in order', async () => {
  const { writes, topics } = await deliver(true);
  assert.deepEqual(topics, Array.from({ length: PACKETS }, (_, i) => `wf/v1/devices/d${i}/status`));
  assert.ok(writes <= 3, `${writes} socket writes for ${PACKETS} packets`);
});

test('without coalescing every packet is a socket write of its own (what relays paid before)', async () => {
  const { writes, topics } = await deliver(false);
  assert.equal(topics.length, PACKETS);
  assert.ok(writes >= PACKETS / 2, `${writes} socket writes for ${PACKETS} packets`);
});
