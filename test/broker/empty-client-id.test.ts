import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { startTestBroker } from './helpers.js';

/**
 * mqtt.js (and mqtt-packet's writer) refuse to send an empty clientId with CleanSession 0, so a
 * hostile or buggy client is played by hand: a raw MQTT 3.1.1 CONNECT (§3.1).
 */
function rawConnect(clientId: string, clean: boolean, username: string, password: string): Buffer {
  const str = (s: string) => {
    const bytes = Buffer.from(s, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const flags = 0x80 | 0x40 | (clean ? 0x02 : 0);
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, flags, 0, 30]), str(clientId), str(username), str(password)]);
  assert.ok(body.length < 128, 'one-byte remaining length');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Sends CONNECT and resolves with the CONNACK return code. */
function connackCode(url: string, packet: Buffer): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = netConnect(Number(port), hostname, () => socket.write(packet));
    socket.once('data', (data) => {
      socket.destroy();
      assert.equal(data[0], 0x20, 'CONNACK');
      resolve(data[3] as number);
    });
    socket.once('error', reject);
    setTimeout(() => reject(new Error('no CONNACK')), 3000).unref();
  });
}

test('an empty clientId with CleanSession 0 is refused with 0x02 [MQTT-3.1.3-8]', async (t) => {
  const tb = await startTestBroker(t);
  const secret = await tb.verifier.addService();
  assert.equal(await connackCode(tb.broker.url, rawConnect('', false, SERVICE_USERNAME, secret)), 2);
  assert.equal(tb.broker.stats().authRefusals, 1);
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_AUTH_REFUSED');
  assert.equal(line?.returnCode, 2);
  assert.match(String(line?.reason), /empty clientId/);
});

test('an empty clientId with CleanSession 1 is allowed to the service (the broker assigns one)', async (t) => {
  const tb = await startTestBroker(t);
  const secret = await tb.verifier.addService();
  assert.equal(await connackCode(tb.broker.url, rawConnect('', true, SERVICE_USERNAME, secret)), 0);
});

test('a device with an empty clientId is refused whatever CleanSession says (id binding)', async (t) => {
  const tb = await startTestBroker(t);
  const secret = await tb.verifier.addDevice('gw-1');
  assert.equal(await connackCode(tb.broker.url, rawConnect('', true, 'gw-1', secret)), 2);
  assert.equal(await connackCode(tb.broker.url, rawConnect('', false, 'gw-1', secret)), 2);
});
