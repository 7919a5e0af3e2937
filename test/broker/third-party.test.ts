/**
 * The ACL as a third-party client sees it: Debian's mosquitto_pub / mosquitto_sub (OpenSSL inside)
 * against our broker, with device A's credentials trying device B's topics, the service's topics
 * and $SYS, with a wrong password, and over TLS and mutual TLS with certificates from
 * `wasmfleet certs`. Fails (not skips) under CI=true when mosquitto-clients is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topics } from '../../protocol/topics.js';
import { collect, connect, connectService, settle, SHA_A, startTestBroker } from './helpers.js';
import { requireMosquittoClients, runTool, tcpArgs } from './mosquitto.js';
import { makeCertificates } from './tls-helpers.js';

test('mosquitto clients with device A credentials reach only device A topics', async (t) => {
  if (!requireMosquittoClients(t)) return;
  const tb = await startTestBroker(t);
  const secretA = await tb.verifier.addDevice('gw-a');
  const secretB = await tb.verifier.addDevice('gw-b');
  const service = await connectService(t, tb);
  await service.subscribeAsync([topics.allDevices('results'), topics.allDevices('status')], { qos: 1 });
  const seen = collect(service);
  await service.publishAsync(topics.device('gw-a', 'desired'), '{"for":"a"}', { qos: 1, retain: true });
  await service.publishAsync(topics.device('gw-b', 'desired'), '{"for":"b"}', { qos: 1, retain: true });
  const a = (clientId = 'gw-a') => tcpArgs(tb.broker.url, 'gw-a', secretA, clientId);

  // Its own topics work.
  const own = await runTool(t, 'mosquitto_pub', [...a(), '-q', '1', '-t', topics.device('gw-a', 'results'), '-m', '{"n":1}']);
  assert.equal(own.code, 0, own.stderr);
  const desired = await runTool(t, 'mosquitto_sub', [...a(), '-q', '1', '-t', topics.device('gw-a', 'desired'), '-C', '1', '-W', '3']);
  assert.equal(desired.stdout.trim(), '{"for":"a"}');

  // Device B's topics: a publish closes the connection (mosquitto_pub: "connection was lost").
  const refusedRefusals = tb.broker.stats().aclPublishRefusals;
  for (const channel of ['results', 'status', 'reported'] as const) {
    const res = await runTool(t, 'mosquitto_pub', [...a(), '-q', '1', '-t', topics.device('gw-b', channel), '-m', '{"forged":true}']);
    assert.notEqual(res.code, 0, `publishing to gw-b/${channel} must fail`);
  }
  // Reading B's retained desired state is denied (SUBACK 0x80) and nothing arrives.
  const sub = await runTool(t, 'mosquitto_sub', [...a(), '-q', '1', '-t', topics.device('gw-b', 'desired'), '-C', '1', '-W', '2']);
  assert.match(sub.stderr, /denied/);
  assert.equal(sub.stdout, '');
  for (const filter of ['#', 'wf/v1/devices/+/desired', 'wf/v1/devices/+/results', '$SYS/#', topics.controlRevoke]) {
    const wide = await runTool(t, 'mosquitto_sub', [...a(), '-q', '1', '-t', filter, '-C', '1', '-W', '2']);
    assert.match(wide.stderr, /denied/, `${filter} must be denied`);
    assert.equal(wide.stdout, '');
  }
  // What only the service may publish: desired states, modules, control; and nobody $SYS.
  for (const topic of [topics.device('gw-a', 'desired'), topics.module(SHA_A), topics.controlRevoke, '$SYS/broker/uptime']) {
    const res = await runTool(t, 'mosquitto_pub', [...a(), '-q', '1', '-t', topic, '-m', '{}']);
    assert.notEqual(res.code, 0, `publishing to ${topic} must fail`);
  }
  // Another device's client id with A's credentials is rejected at CONNECT.
  const hijack = await runTool(t, 'mosquitto_pub', [...a('gw-b'), '-q', '1', '-t', topics.device('gw-a', 'results'), '-m', '{}']);
  assert.notEqual(hijack.code, 0);
  assert.match(hijack.stderr, /identifier rejected/i);

  await settle();
  assert.deepEqual(seen.map((m) => m.topic), [topics.device('gw-a', 'results')], 'only the legitimate publish was routed');
  assert.equal(tb.broker.stats().aclPublishRefusals - refusedRefusals, 7);
  // B's retained desired state is untouched.
  const b = await connect(t, tb.broker.url, { clientId: 'gw-b', username: 'gw-b', password: secretB });
  const retained = collect(b);
  await b.subscribeAsync(topics.device('gw-b', 'desired'), { qos: 1 });
  await settle();
  assert.equal(retained[0]?.payload.toString(), '{"for":"b"}');
});

test('mosquitto clients: a wrong password or no credentials are refused at CONNECT', async (t) => {
  if (!requireMosquittoClients(t)) return;
  const tb = await startTestBroker(t);
  await tb.verifier.addDevice('gw-a');
  const wrong = await runTool(t, 'mosquitto_sub', [...tcpArgs(tb.broker.url, 'gw-a', 'not-the-password'), '-t', topics.device('gw-a', 'desired'), '-C', '1', '-W', '2']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /bad user name or password/);
  const { hostname, port } = new URL(tb.broker.url);
  const anonymous = await runTool(t, 'mosquitto_sub', ['-h', hostname, '-p', port, '-V', 'mqttv311', '-t', topics.allDevices('status'), '-C', '1', '-W', '2']);
  assert.notEqual(anonymous.code, 0);
  assert.match(anonymous.stderr, /not authori[sz]ed/i);
});

test('mosquitto clients over TLS (--cafile) and mutual TLS (--cert/--key) with certificates from wasmfleet certs', async (t) => {
  if (!requireMosquittoClients(t)) return;
  const certs = makeCertificates(t, ['gw-a', 'gw-b']);
  const tb = await startTestBroker(t, {
    tcp: false,
    tls: { port: 0, certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca.cert, requireClientCert: true },
  });
  const secretA = await tb.verifier.addDevice('gw-a');
  const service = await connectService(t, tb).catch(() => undefined);
  assert.equal(service, undefined, 'a client without a certificate cannot even connect');
  const certOf = (id: string) => certs.clients.find((c) => c.deviceId === id)!;
  const tls = (id: string) => [
    '-h', 'localhost', '-p', String(tb.broker.tlsPort), '-V', 'mqttv311', '-i', 'gw-a', '-u', 'gw-a', '-P', secretA,
    '--cafile', certs.ca.cert, '--cert', certOf(id).cert, '--key', certOf(id).key,
  ];

  const ok = await runTool(t, 'mosquitto_pub', [...tls('gw-a'), '-q', '1', '-t', topics.device('gw-a', 'status'), '-m', '{"ok":1}', '-r']);
  assert.equal(ok.code, 0, ok.stderr);
  const got = await runTool(t, 'mosquitto_sub', [...tls('gw-a'), '-q', '1', '-t', topics.device('gw-a', 'desired'), '-C', '1', '-W', '2']);
  assert.doesNotMatch(got.stderr, /denied|refused|error/i, 'own desired state may be read over mutual TLS');

  // gw-b's certificate with gw-a's password: the broker refuses the CONNECT (not authorised).
  const swapped = await runTool(t, 'mosquitto_pub', [...tls('gw-b'), '-q', '1', '-t', topics.device('gw-a', 'status'), '-m', '{}']);
  assert.notEqual(swapped.code, 0);
  assert.match(swapped.stderr, /not authori[sz]ed/i);
  assert.equal(tb.broker.stats().certificateMismatches, 1);

  // Without a client certificate the handshake fails.
  const noCert = await runTool(t, 'mosquitto_pub', [
    '-h', 'localhost', '-p', String(tb.broker.tlsPort), '-V', 'mqttv311', '-i', 'gw-a', '-u', 'gw-a', '-P', secretA,
    '--cafile', certs.ca.cert, '-q', '1', '-t', topics.device('gw-a', 'status'), '-m', '{}',
  ]);
  assert.notEqual(noCert.code, 0);
  // Without the CA, mosquitto does not trust the broker.
  const other = makeCertificates(t);
  const untrusted = await runTool(t, 'mosquitto_pub', [
    '-h', 'localhost', '-p', String(tb.broker.tlsPort), '-V', 'mqttv311', '-i', 'gw-a', '-u', 'gw-a', '-P', secretA,
    '--cafile', other.ca.cert, '--cert', certOf('gw-a').cert, '--key', certOf('gw-a').key, '-q', '1', '-t', topics.device('gw-a', 'status'), '-m', '{}',
  ]);
  assert.notEqual(untrusted.code, 0);
});

test('under CI=true a missing mosquitto-clients fails the test instead of skipping it', (t) => {
  const saved = { PATH: process.env.PATH, CI: process.env.CI };
  t.after(() => {
    process.env.PATH = saved.PATH;
    if (saved.CI === undefined) delete process.env.CI;
    else process.env.CI = saved.CI;
  });
  process.env.PATH = '/nonexistent';
  process.env.CI = 'true';
  assert.throws(() => requireMosquittoClients(t), /apt-get install -y mosquitto-clients/);
});
