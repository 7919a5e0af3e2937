/**
 * Mutual TLS on every node of a cluster: node A is the platform (API + broker, TLS-only with
 * client certificates required, on Redis), node B a separate broker node with the same TLS setup
 * that knows only the Redis URL and the CA. A device presents its certificate (from the real
 * `wasmfleet certs` code) and its password; the certificate must name it on either node, and a
 * deleted or immediately rotated device is refused on both although its certificate stays valid
 * (there is no CRL: docs/security.md, the certificate is useless without the password).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { redisSkipReason } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startTwoNodes, type TwoNodes } from './two-nodes.js';
import { connect, waitForClose } from './helpers.js';
import { makeCertificates } from './tls-helpers.js';

const skip = redisSkipReason();

interface TlsFleet extends TwoNodes {
  readonly ca: Buffer;
  certificateOf(deviceId: string): { cert: Buffer; key: Buffer };
}

async function startTlsFleet(t: TestContext, devices: string[]): Promise<TlsFleet> {
  const certs = makeCertificates(t, devices);
  // node:test runs after hooks in the order they were added, so the certificates are removed
  // before the nodes stop: harmless, the listeners read their files at start.
  const nodes = await startTwoNodes(t, 'cluster-tls', {
    certFile: certs.server.cert,
    keyFile: certs.server.key,
    caFile: certs.ca.cert,
    serviceCertFile: certs.service.cert,
    serviceKeyFile: certs.service.key,
  });
  await waitFor('the API link connected over mutual TLS', () => (nodes.platform.api.link.connected ? true : undefined), 10_000);
  const certificateOf = (deviceId: string) => {
    const entry = certs.clients.find((c) => c.deviceId === deviceId)!;
    return { cert: readFileSync(entry.cert), key: readFileSync(entry.key) };
  };
  return { ...nodes, ca: readFileSync(certs.ca.cert), certificateOf };
}

const provision = async (fleet: TlsFleet, id: string): Promise<string> => {
  const added = await fleet.call('POST', '/api/v1/devices', { id, profile: 'sim-x86-64' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  return added.body.mqtt.password as string;
};

/** Connects over mqtts with a device's certificate; resolves once CONNACK 0 arrives. */
const connectWithCertificate = (t: TestContext, fleet: TlsFleet, url: string, deviceId: string, password: string, certificateOf = deviceId) =>
  connect(t, url, { clientId: deviceId, username: deviceId, password, ca: fleet.ca, ...fleet.certificateOf(certificateOf) });

/** CONNACK 4 (bad user name or password) or 5 (not authorized): what mqtt.js rejects with. */
const refused = (code: 4 | 5) => (error: Error & { code?: number }) => error.code === code;

const nodeUrls = (fleet: TlsFleet): [string, string] => [fleet.platform.broker.url, fleet.nodeB.url];

test('a device with its client certificate is admitted on either node; a certificate naming another device is refused on both', { skip }, async (t) => {
  const fleet = await startTlsFleet(t, ['gw-01', 'gw-02']);
  const password = await provision(fleet, 'gw-01');
  await provision(fleet, 'gw-02');
  for (const url of nodeUrls(fleet)) {
    assert.match(url, /^mqtts:\/\//);
    const device = await connectWithCertificate(t, fleet, url, 'gw-01', password);
    assert.ok(device.connected, `admitted on ${url}`);
    await device.endAsync();
    // gw-02's certificate with gw-01's password: the node binds the certificate to the identity it
    // authenticated from the replica, so the pair is refused with CONNACK 5.
    await assert.rejects(connectWithCertificate(t, fleet, url, 'gw-01', password, 'gw-02'), refused(5), `mismatch refused on ${url}`);
    // The password alone is not enough: without a certificate the handshake itself fails.
    await assert.rejects(connect(t, url, { clientId: 'gw-01', username: 'gw-01', password, ca: fleet.ca }), `no certificate refused on ${url}`);
  }
  assert.equal(fleet.platform.broker.stats().certificateMismatches, 1);
  assert.equal(fleet.nodeB.stats().certificateMismatches, 1);
});

test("a deleted device's certificate is refused on both nodes, and its session on node B is closed", { skip }, async (t) => {
  const fleet = await startTlsFleet(t, ['gw-03']);
  const password = await provision(fleet, 'gw-03');
  const onB = await connectWithCertificate(t, fleet, fleet.nodeB.url, 'gw-03', password);
  const closed = waitForClose(onB, 5_000);
  assert.equal((await fleet.call('DELETE', '/api/v1/devices/gw-03')).status, 204);
  await closed;
  for (const url of nodeUrls(fleet)) {
    // A valid certificate chaining to the CA, with the device's last password: no credential any more.
    await assert.rejects(connectWithCertificate(t, fleet, url, 'gw-03', password), refused(4), `refused on ${url}`);
  }
});

test('an immediate rotation refuses the certificate with the old password on both nodes and admits it with the new one', { skip }, async (t) => {
  const fleet = await startTlsFleet(t, ['gw-04']);
  const old = await provision(fleet, 'gw-04');
  const onA = await connectWithCertificate(t, fleet, fleet.platform.broker.url, 'gw-04', old);
  const closed = waitForClose(onA, 5_000);
  const rotated = await fleet.call('POST', '/api/v1/devices/gw-04/credentials/rotate', { graceSeconds: 0 });
  assert.equal(rotated.status, 200);
  await closed;
  const fresh = rotated.body.mqtt.password as string;
  for (const url of nodeUrls(fleet)) {
    await assert.rejects(connectWithCertificate(t, fleet, url, 'gw-04', old), refused(4), `old password refused on ${url}`);
    const device = await connectWithCertificate(t, fleet, url, 'gw-04', fresh);
    assert.ok(device.connected, `new password admitted on ${url}`);
    await device.endAsync();
  }
});
