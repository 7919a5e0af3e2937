/**
 * The fleet API's link writes the PUBACKs of the messages it receives in one turn of the event loop
 * together (common/coalesced-writes.ts on its mqtt.js socket), not one socket write each. Real
 * Aedes on port 0, the API's real link, a real mqtt.js device client over TCP; socket writes are
 * counted on the link's own connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { topics } from '../../protocol/index.js';
import { connectClient, startApi, waitFor } from './helpers/harness.js';
import { provision } from './helpers/fleet.js';

const MESSAGES = 400;

test("the link's PUBACKs of a burst of messages leave in a few socket writes, not one each", async (t) => {
  const h = await startApi(t, { live: true });
  const aedes = h.broker!.aedes as unknown as { clients: Record<string, { conn: Socket }> };
  const linkPort = aedes.clients[h.api.link.clientId]!.conn.remotePort;
  let writes = 0;
  const proto = Socket.prototype as unknown as { _writev: (...args: unknown[]) => unknown; _write: (...args: unknown[]) => unknown };
  const { _writev: writev, _write: write } = proto;
  proto._writev = function (this: Socket, ...args: unknown[]) {
    if (this.localPort === linkPort) writes += 1;
    return writev.apply(this, args);
  };
  proto._write = function (this: Socket, ...args: unknown[]) {
    if (this.localPort === linkPort) writes += 1;
    return write.apply(this, args);
  };
  t.after(() => Object.assign(proto, { _writev: writev, _write: write }));

  // Malformed statuses: the link acknowledges each, counts it malformed and sends nothing else.
  const device = await connectClient(t, h.broker!.url, 'gw-burst', await provision(h, 'gw-burst'));
  const received = h.api.link.counters().received;
  await Promise.all(Array.from({ length: MESSAGES }, () => device.publishAsync(topics.device('gw-burst', 'status'), Buffer.from('not a status'), { qos: 1 })));
  await waitFor(() => h.api.link.counters().received - received >= MESSAGES, 5000, 'every message received');
  assert.ok(writes <= MESSAGES / 5, `${writes} socket writes for ${MESSAGES} PUBACKs`);
});
