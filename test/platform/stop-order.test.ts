/**
 * `wasmfleet server`'s stop order (docs/operations.md §Stopping), in process on real parts: the
 * platform (Aedes over TCP, REST over HTTP, a SQLite file), a hub and a device as real mqtt.js
 * clients publishing without pause, and a device connecting again and again, all while the
 * platform stops. The store is the last thing to close: when it does, the broker holds no client
 * and takes no new connection, so no CONNECT and no hub publish can meet a closed database (before,
 * the API closed the store while the broker still took both, and a hub publishing in between
 * crashed the process). The moment of the close is observed on the real store, not simulated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { createLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { hubClientId, hubUsername } from '../../protocol/hubs.js';
import { topics } from '../../protocol/index.js';
import { resultBatch } from '../hub/helpers.js';

/** Resolves true if a TCP connection to `port` is accepted, false if it is refused. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Connects once; rejects on a refusal, an error, or a connection closed before its CONNACK (as the
 * broker's stop does), where mqtt.js' connectAsync would wait for ever.
 */
function connectClient(url: string, clientId: string, username: string, password: string): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 4, clientId, username, password, clean: true, reconnectPeriod: 0, connectTimeout: 3000 });
  return new Promise((resolve, reject) => {
    const fail = (error?: Error) => {
      client.end(true);
      reject(error ?? new Error('closed before its CONNACK'));
    };
    client.once('error', fail);
    client.once('close', () => fail());
    client.once('connect', () => {
      client.off('error', fail);
      client.removeAllListeners('close');
      // An error after the CONNACK (the broker going away) is the close the loops watch for.
      client.on('error', () => undefined);
      resolve(client);
    });
  });
}

test('the one-process server closes its store last: by then the broker holds no client and takes no connection, and nothing publishing or connecting under load meets a closed store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-stop-order-'));
  const lines: string[] = [];
  const platform = await startPlatform({ dataDir: join(dir, 'data'), host: '127.0.0.1', mqttPort: 0, httpPort: 0 }, createLogger({ level: 'debug', write: (line) => lines.push(line) }));
  const clients: MqttClient[] = [];
  let stopping = false;
  t.after(async () => {
    stopping = true;
    await platform.close();
    // Not endAsync: on a client the broker's stop already closed it would wait for ever.
    for (const client of clients) client.end(true);
    rmSync(dir, { recursive: true, force: true });
  });
  const api = async <T>(method: string, path: string, body: unknown): Promise<T> => {
    const response = await fetch(`${platform.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${platform.newAdminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as T;
  };

  const hub = await api<{ upstream: { password: string } }>('POST', '/hubs', { id: 'north', urls: ['mqtt://127.0.0.1:1'] });
  await api('POST', '/devices', { id: 'gw-site', profile: 'sim-x86-64', hub: 'north' });
  const direct = await api<{ mqtt: { password: string } }>('POST', '/devices', { id: 'gw-direct', profile: 'sim-x86-64' });
  const again = await api<{ mqtt: { password: string } }>('POST', '/devices', { id: 'gw-again', profile: 'sim-x86-64' });

  // The hub relays its device's results and the direct device sends its own, without pause; every
  // hub publish on a device topic is checked against the hub's subtree, read from the store.
  const publishing = async (client: MqttClient, deviceId: string) => {
    // A PUBACK the broker never sends, once it is gone, must not hold the loop.
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    for (let seq = 0; !stopping && client.connected; seq++) {
      await Promise.race([client.publishAsync(topics.device(deviceId, 'results'), JSON.stringify(resultBatch(deviceId, seq)), { qos: 1 }), closed]).catch(() => undefined);
    }
  };
  const hubClient = await connectClient(platform.mqttUrl, hubClientId('north'), hubUsername('north'), hub.upstream.password);
  const directClient = await connectClient(platform.mqttUrl, 'gw-direct', 'gw-direct', direct.mqtt.password);
  clients.push(hubClient, directClient);
  const loads = [publishing(hubClient, 'gw-site'), publishing(directClient, 'gw-direct')];
  // A device connecting again and again: every CONNECT is checked against the store.
  let connects = 0;
  loads.push(
    (async () => {
      while (!stopping) {
        const client = await connectClient(platform.mqttUrl, 'gw-again', 'gw-again', again.mqtt.password).catch(() => undefined);
        if (!client) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        connects += 1;
        client.end(true);
      }
    })(),
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(platform.broker.stats().connectedClients >= 2, 'the hub and the device are connected while the load runs');
  assert.ok(connects > 0, 'the reconnecting device got in before the stop');

  // Observes the store's close as it happens: who is still connected, and whether a connection is taken.
  const store = platform.api.store;
  const closeStore = store.close.bind(store);
  let atClose: { connectedClients: number; accepted: Promise<boolean> } | undefined;
  store.close = () => {
    atClose ??= { connectedClients: platform.broker.stats().connectedClients, accepted: accepts(platform.broker.port) };
    closeStore();
  };

  await platform.close();
  stopping = true;
  await Promise.all(loads);

  assert.ok(atClose, 'the platform closed its store');
  assert.equal(atClose.connectedClients, 0, 'no client was connected to the broker when the store closed');
  assert.equal(await atClose.accepted, false, 'the broker took no new connection once the store closed');
  const closedStoreErrors = lines.filter((line) => line.includes('database connection is not open'));
  assert.deepEqual(closedStoreErrors, [], 'nothing met a closed store');
  const stopped = lines.map((line) => JSON.parse(line) as { msg: string; overran?: string[] }).find((line) => line.msg === 'platform stopped');
  assert.ok(stopped, 'the platform logged its stop');
  assert.equal(stopped.overran, undefined, 'every stop step within its budget');
});
