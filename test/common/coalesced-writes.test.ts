/**
 * common/coalesced-writes.ts on a real TCP socket: writes corked and uncorked per packet (as
 * mqtt-packet does), each from its own setImmediate, leave in one socket write per turn, and the
 * socket's backpressure still shows: write() returns false past the highWaterMark and 'drain' comes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { coalesceWrites, writesCoalesced } from '../../common/coalesced-writes.js';

async function pair(t: { after(fn: () => unknown): void }): Promise<{ socket: Socket; received: () => number }> {
  let bytes = 0;
  const server = createServer((peer) => peer.on('data', (chunk: Buffer) => (bytes += chunk.length)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  t.after(() => {
    socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { socket, received: () => bytes };
}

/** Writes `count` 50-byte packets, each corked and uncorked on the next tick, from its own setImmediate. */
async function writePackets(socket: Socket, count: number): Promise<boolean[]> {
  const results: boolean[] = [];
  await Promise.all(
    Array.from({ length: count }, () => new Promise<void>((resolve) => setImmediate(() => {
      socket.cork();
      results.push(socket.write(Buffer.alloc(50, 1)));
      process.nextTick(() => socket.uncork());
      resolve();
    }))),
  );
  return results;
}

function countWrites(socket: Socket): () => number {
  let writes = 0;
  const counted = socket as unknown as { _writev: (...args: unknown[]) => unknown; _write: (...args: unknown[]) => unknown };
  const writev = counted._writev.bind(socket);
  const write = counted._write.bind(socket);
  counted._writev = (...args) => ((writes += 1), writev(...args));
  counted._write = (...args) => ((writes += 1), write(...args));
  return () => writes;
}

test('packets written in one turn leave in one socket write, all of them', async (t) => {
  const { socket, received } = await pair(t);
  const writes = countWrites(socket);
  coalesceWrites(socket);
  coalesceWrites(socket);
  assert.equal(writesCoalesced(socket), true);
  await writePackets(socket, 100);
  for (let i = 0; i < 200 && received() < 5000; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(received(), 5000);
  assert.ok(writes() <= 2, `${writes()} socket writes for 100 packets`);
});

test('without it, each packet is a write of its own', async (t) => {
  const { socket, received } = await pair(t);
  const writes = countWrites(socket);
  assert.equal(writesCoalesced(socket), false);
  await writePackets(socket, 100);
  for (let i = 0; i < 200 && received() < 5000; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(writes() >= 50, `${writes()} socket writes for 100 packets`);
});

test('backpressure shows while corked: write() says false past the highWaterMark, and drain comes', async (t) => {
  const { socket } = await pair(t);
  coalesceWrites(socket);
  const packets = Math.ceil(socket.writableHighWaterMark / 50) + 10;
  const results = await writePackets(socket, packets);
  assert.ok(results.includes(false), 'write() returned false once the turn held more than the highWaterMark');
  await new Promise<void>((resolve) => (socket.writableNeedDrain ? socket.once('drain', resolve) : resolve()));
});
