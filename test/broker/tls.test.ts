/**
 * The TLS listener: real TLS connections (node:tls under mqtt.js) to certificates made by
 * `wasmfleet certs`, one-way TLS and mutual TLS, TLS-only mode, and option errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { startBroker } from '../../broker/index.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { topics } from '../../protocol/topics.js';
import { connectBroker, subscribeQos1 } from '../../device-agent/mqtt-link.js';
import { resolveAgentConfig } from '../../device-agent/config.js';
import { waitFor } from '../helpers/wait.js';
import { captureLogs, connect, createTestVerifier, startTestBroker } from './helpers.js';
import { makeCertificates } from './tls-helpers.js';
import { testTrust } from '../helpers/trust.js';

test('a device connects over mqtts with the CA from its config; untrusted and plain clients are refused', async (t) => {
  const certs = makeCertificates(t);
  const tb = await startTestBroker(t, { tls: { port: 0, certFile: certs.server.cert, keyFile: certs.server.key } });
  assert.match(tb.broker.tlsUrl!, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
  assert.match(tb.broker.url, /^mqtt:\/\//, 'plain TCP stays on by default');
  const secret = await tb.verifier.addDevice('gw-01');

  // The agent's own connect path, from an agent config naming the CA file.
  const config = resolveAgentConfig({
    deviceId: 'gw-01',
    broker: { url: tb.broker.tlsUrl, username: 'gw-01', password: secret, caFile: certs.ca.cert },
    profile: 'sim-x86-64',
    stateDir: join(certs.dir, 'state'),
    reconnectPeriodMs: 0,
    trust: testTrust(),
  });
  const agent = connectBroker(config);
  t.after(() => agent.endAsync(true));
  await new Promise<void>((resolve, reject) => {
    agent.once('connect', () => resolve());
    agent.once('error', reject);
  });
  await subscribeQos1(agent, topics.device('gw-01', 'desired'));
  await agent.publishAsync(topics.device('gw-01', 'results'), '{}', { qos: 1 });

  // Without the CA the client must not trust the broker.
  await assert.rejects(connect(t, tb.broker.tlsUrl!, { clientId: 'gw-01', username: 'gw-01', password: secret }), /self-signed|unable to verify|certificate/i);
  // Plain MQTT on the TLS port never reaches CONNECT.
  const plain = netConnect(tb.broker.tlsPort!, '127.0.0.1');
  plain.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]));
  await new Promise((resolve) => plain.once('close', resolve));
  await waitFor('handshake failures counted', () => (tb.broker.stats().tlsHandshakeFailures >= 2 ? true : undefined), 3000);
});

test('TLS-only: tcp false serves only mqtts and url is the TLS url', async (t) => {
  const certs = makeCertificates(t);
  const tb = await startTestBroker(t, { tcp: false, tls: { port: 0, certFile: certs.server.cert, keyFile: certs.server.key } });
  assert.equal(tb.broker.url, tb.broker.tlsUrl);
  assert.equal(tb.broker.port, tb.broker.tlsPort);
  const secret = await tb.verifier.addDevice('gw-01');
  const client = await connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: secret, ca: readFileSync(certs.ca.cert) });
  assert.ok(client.connected);
});

test('mutual TLS: the certificate must chain to the CA and name the authenticated device', async (t) => {
  const certs = makeCertificates(t, ['gw-01', 'gw-02']);
  const other = makeCertificates(t, ['gw-01']);
  const tb = await startTestBroker(t, {
    tcp: false,
    tls: { port: 0, certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca.cert, requireClientCert: true },
  });
  const ca = readFileSync(certs.ca.cert);
  const secret1 = await tb.verifier.addDevice('gw-01');
  const client = (id: string, from = certs) => {
    const entry = from.clients.find((c) => c.deviceId === id)!;
    return { cert: readFileSync(entry.cert), key: readFileSync(entry.key) };
  };

  const ok = await connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: secret1, ca, ...client('gw-01') });
  assert.ok(ok.connected);
  await ok.endAsync();

  // gw-02's certificate with gw-01's password: CONNACK 5, counted.
  await assert.rejects(
    connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: secret1, ca, ...client('gw-02') }),
    (error: Error & { code?: number }) => error.code === 5,
  );
  assert.equal(tb.broker.stats().certificateMismatches, 1);
  assert.ok(tb.logs.lines.some((line) => String(line.reason).includes("certificate names gw-02, not gw-01")));

  // No certificate, or one from another CA: the handshake itself fails.
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: secret1, ca }));
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: secret1, ca, ...client('gw-01', other) }));
  await waitFor('handshake failures counted', () => (tb.broker.stats().tlsHandshakeFailures >= 2 ? true : undefined), 3000);

  // The right certificate does not replace the password.
  await assert.rejects(
    connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: 'wrong', ca, ...client('gw-01') }),
    (error: Error & { code?: number }) => error.code === 4,
  );

  // The API's link uses the service certificate `certs init` writes.
  const serviceSecret = await tb.verifier.addService();
  const service = await connect(t, tb.broker.url, {
    clientId: 'fleet-api', username: SERVICE_USERNAME, password: serviceSecret, ca,
    cert: readFileSync(certs.service.cert), key: readFileSync(certs.service.key),
  });
  assert.ok(service.connected);
});

test('the server certificate covers localhost, 127.0.0.1 and ::1, and extra hosts given to certs init', async (t) => {
  const certs = makeCertificates(t);
  const { X509Certificate } = await import('node:crypto');
  const cert = new X509Certificate(readFileSync(certs.server.cert));
  assert.ok(cert.checkHost('localhost'));
  assert.ok(cert.checkIP('127.0.0.1'));
  assert.ok(cert.checkIP('::1'));
  assert.ok(cert.verify(new X509Certificate(readFileSync(certs.ca.cert)).publicKey));
  // A TLS client checking the name against 'localhost' accepts it.
  const tb = await startTestBroker(t, { tls: { port: 0, certFile: certs.server.cert, keyFile: certs.server.key } });
  const socket = tlsConnect({ port: tb.broker.tlsPort!, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(certs.ca.cert) });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  assert.equal(socket.authorized, true);
  socket.destroy();
});

test('the connection rate applies to TLS before the handshake', async (t) => {
  const certs = makeCertificates(t);
  const tb = await startTestBroker(t, {
    tcp: false,
    connectRatePerAddress: 1,
    connectBurstPerAddress: 1,
    tls: { port: 0, certFile: certs.server.cert, keyFile: certs.server.key },
  });
  const secret = await tb.verifier.addDevice('gw-01');
  const ca = readFileSync(certs.ca.cert);
  const first = await connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: secret, ca });
  assert.ok(first.connected);
  // The burst of one is used up: the next connection is closed before its handshake.
  await assert.rejects(connect(t, tb.broker.url, { clientId: 'gw-01', username: 'gw-01', password: secret, ca }));
  assert.equal(tb.broker.stats().connectionRateRefusals, 1);
  assert.equal(tb.broker.stats().authRefusals, 0);
  assert.ok(tb.logs.lines.some((line) => line.code === 'WF_BROKER_CONNECTION_RATE_LIMITED' && String(line.reason).includes('before the TLS handshake')));
});

test('TLS options are checked: missing files, mutual TLS without a CA, no listener at all', async () => {
  const verifier = createTestVerifier();
  const { logger } = captureLogs();
  await assert.rejects(
    startBroker({ port: 0, verifier, logger, tls: { port: 0, certFile: '/nonexistent/server.crt', keyFile: '/nonexistent/server.key' } }),
    (error: Error & { code?: string }) => error.code === 'WF_BROKER_TLS_FILE' && /tls\/certFile/.test(error.message),
  );
  await assert.rejects(
    startBroker({ port: 0, verifier, logger, tls: { port: 0, certFile: 'a', keyFile: 'b', requireClientCert: true } }),
    (error: Error & { code?: string }) => error.code === 'WF_BROKER_BAD_OPTION' && /tls\/caFile/.test(error.message),
  );
  await assert.rejects(
    startBroker({ port: 0, verifier, logger, tcp: false }),
    (error: Error & { code?: string }) => error.code === 'WF_BROKER_BAD_OPTION' && /'tcp'/.test(error.message),
  );
});
