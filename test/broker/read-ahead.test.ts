/**
 * Read-ahead on a guarded socket (broker/guarded-connection.ts): a relay's connection keeps reading
 * from the kernel past its highWaterMark while nothing consumes it, so one Aedes batch can take more
 * than one 64 KiB chunk; a device's connection stops at its highWaterMark as before. Real TCP
 * sockets on loopback; the guard still refuses an oversize packet on a socket that reads ahead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { allowReadAhead, guardSocket } from '../../broker/guarded-connection.js';

/** A PUBLISH-typed packet of `bodyBytes` (remaining length in two bytes: bodyBytes < 16,384). */
const packet = (bodyBytes: number): Buffer => Buffer.concat([Buffer.from([0x30, (bodyBytes % 128) | 0x80, Math.floor(bodyBytes / 128)]), Buffer.alloc(bodyBytes, 7)]);

async function pair(onServerSocket: (socket: Socket) => void): Promise<{ client: Socket; server: Server }> {
  const server = createServer((socket) => {
    socket.pause();
    onServerSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return { client, server };
}

async function close({ client, server }: { client: Socket; server: Server }, accepted: Socket | undefined): Promise<void> {
  client.destroy();
  accepted?.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Writes `total` bytes of 10,000-byte packets, then waits until the kernel stops moving them to `socket`. */
async function fill(client: Socket, socket: () => Socket | undefined, total: number): Promise<number> {
  for (let sent = 0; sent < total; sent += 10_003) client.write(packet(10_000));
  let last = -1;
  for (let i = 0; i < 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const held = socket()?.readableLength ?? 0;
    if (held === last && held > 0) return held;
    last = held;
  }
  return last;
}

test('a socket allowed to read ahead holds what the peer sent past its highWaterMark, unread', async () => {
  let accepted: Socket | undefined;
  const sockets = await pair((socket) => {
    accepted = guardSocket(socket, { maxPacketBytes: 20_000, onOversize: () => assert.fail('no packet is oversize') });
    allowReadAhead(accepted, 1024 * 1024);
  });
  try {
    const held = await fill(sockets.client, () => accepted, 600_000);
    assert.ok(held >= 600_000, `read ahead ${held} bytes of 600,000`);
  } finally {
    await close(sockets, accepted);
  }
});

test('a socket without read-ahead stops reading at its highWaterMark, as before', async () => {
  let accepted: Socket | undefined;
  const sockets = await pair((socket) => {
    accepted = guardSocket(socket, { maxPacketBytes: 20_000, onOversize: () => assert.fail('no packet is oversize') });
  });
  try {
    const held = await fill(sockets.client, () => accepted, 600_000);
    // One read of at most 64 KiB lands on an empty buffer; none after it while the buffer is full.
    assert.ok(held <= 64 * 1024, `held ${held} bytes unread`);
  } finally {
    await close(sockets, accepted);
  }
});

test('read-ahead stops at its bound, and a consumer reading the buffer lets it read on', async () => {
  let accepted: Socket | undefined;
  const sockets = await pair((socket) => {
    accepted = guardSocket(socket, { maxPacketBytes: 20_000, onOversize: () => assert.fail('no packet is oversize') });
    allowReadAhead(accepted, 200_000);
  });
  try {
    const held = await fill(sockets.client, () => accepted, 600_000);
    assert.ok(held >= 200_000 && held < 200_000 + 64 * 1024, `held ${held} bytes, bound 200,000`);
    let read = 0;
    for (let i = 0; i < 200 && read < 600_000; i++) {
      read += accepted!.read()?.length ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(read >= 600_000, `read ${read} of 600,000 bytes`);
  } finally {
    await close(sockets, accepted);
  }
});

test('an oversize packet on a socket that reads ahead is still refused before it is buffered', async () => {
  let accepted: Socket | undefined;
  let refused = 0;
  const sockets = await pair((socket) => {
    accepted = guardSocket(socket, { maxPacketBytes: 5_000, onOversize: () => (refused += 1) });
    allowReadAhead(accepted, 1024 * 1024);
  });
  try {
    sockets.client.on('error', () => {});
    sockets.client.write(packet(1_000));
    sockets.client.write(packet(10_000));
    for (let i = 0; i < 200 && !accepted?.destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(refused, 1);
    assert.equal(accepted?.destroyed, true);
  } finally {
    await close(sockets, accepted);
  }
});
