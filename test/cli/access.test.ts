/** The access-control commands, run as the real CLI: certs, token, audit, device rotate-credentials. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { silentLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { runCli, runCliJson, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const tempDir = (t: import('node:test').TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-cli-access-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test('certs init writes a CA, server, service and client certificates with private keys 0600, and keeps the CA', async (t) => {
  const dir = join(tempDir(t), 'tls');
  const out = await runCliJson<{ ca: { cert: string; created: boolean }; server: { cert: string; key: string; hosts: string[] }; clients: Array<{ cert: string; key: string }> }>([
    'certs', 'init', '--dir', dir, '--host', 'broker.plant.lan', '--host', '10.0.4.2', '--client', 'gw-01',
  ]);
  assert.equal(out.ca.created, true);
  assert.deepEqual(out.server.hosts, ['localhost', '127.0.0.1', '::1', 'broker.plant.lan', '10.0.4.2']);
  for (const key of ['ca.key', 'server.key', 'service.key', 'clients/gw-01.key']) {
    assert.equal(statSync(join(dir, key)).mode & 0o777, 0o600, `${key} is 0600`);
  }
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
  const server = new X509Certificate(readFileSync(out.server.cert));
  assert.ok(server.verify(ca.publicKey));
  assert.ok(server.checkHost('broker.plant.lan'));
  assert.ok(server.checkIP('10.0.4.2'));
  const client = new X509Certificate(readFileSync(out.clients[0]!.cert));
  assert.match(client.subject, /CN=gw-01/);
  assert.ok(client.checkIssued(ca));

  const again = await runCliJson<{ ca: { created: boolean } }>(['certs', 'init', '--dir', dir]);
  assert.equal(again.ca.created, false);
  assert.equal(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).fingerprint256, ca.fingerprint256, 'the CA is kept');
  const more = await runCliJson<{ clients: Array<{ deviceId: string }> }>(['certs', 'client', 'gw-02', 'gw-03', '--dir', dir]);
  assert.deepEqual(more.clients.map((c) => c.deviceId), ['gw-02', 'gw-03']);

  const badHost = await runCli(['certs', 'init', '--dir', dir, '--host', 'not a host']);
  assert.notEqual(badHost.code, 0);
  assert.match(badHost.stderr, /--host: 'not a host'/);
  const noCa = await runCli(['certs', 'client', 'gw-09', '--dir', join(dir, 'nowhere')]);
  assert.match(noCa.stderr, /certs init/);
});

test('token, audit and rotate-credentials against a running platform', async (t) => {
  const dir = tempDir(t);
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(() => platform.close());
  const admin = ['--api', platform.apiUrl, '--token', platform.newAdminToken!];

  const created = await runCliJson<{ id: string; token: string; role: string }>(['token', 'create', 'ops-alice', '--role', 'operator', ...admin]);
  assert.equal(created.role, 'operator');
  const operator = ['--api', platform.apiUrl, '--token', created.token];
  const listed = await runCliJson<{ tokens: Array<{ id: string; name: string }> }>(['token', 'list', ...admin]);
  assert.ok(listed.tokens.some((token) => token.name === 'ops-alice'));
  // An operator may not list tokens.
  const denied = await runCli(['token', 'list', ...operator]);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /WF_API_FORBIDDEN|needs role 'admin'/);

  const configPath = join(dir, 'gw-01.agent.json');
  await runCliJson(['device', 'add', 'gw-01', '--profile', 'sim-x86-64', '--agent-config', configPath, ...operator]);
  const before = JSON.parse(readFileSync(configPath, 'utf8'));
  const rotated = await runCliJson<{ mqtt: { password: string }; previousValidUntil: string | null; agentConfig: string }>([
    'device', 'rotate-credentials', 'gw-01', '--grace', '3600', '--agent-config', configPath, ...operator,
  ]);
  const after = JSON.parse(readFileSync(configPath, 'utf8'));
  assert.equal(after.broker.password, rotated.mqtt.password);
  assert.notEqual(after.broker.password, before.broker.password);
  assert.equal(after.stateDir, before.stateDir, 'the rest of the config is kept');
  assert.equal(statSync(configPath).mode & 0o777, 0o600);
  assert.ok(rotated.previousValidUntil);
  const immediate = await runCliJson<{ previousValidUntil: string | null }>(['device', 'rotate-credentials', 'gw-01', '--immediate', ...operator]);
  assert.equal(immediate.previousValidUntil, null);
  writeFileSync(join(dir, 'other.json'), '{"deviceId":"gw-02","broker":{}}');
  const wrongFile = await runCli(['device', 'rotate-credentials', 'gw-01', '--agent-config', join(dir, 'other.json'), ...operator]);
  assert.match(wrongFile.stderr, /not an agent config of device 'gw-01'/);

  const audit = await runCliJson<{ entries: Array<{ action: string; actorName: string; target: string }> }>(['audit', '--actor', 'ops-alice', ...admin]);
  assert.deepEqual(
    audit.entries.map((e) => e.action),
    ['device.rotate-credentials', 'device.rotate-credentials', 'device.create'],
    'a wrong --agent-config fails before anything is rotated',
  );
  const human = await runCli(['audit', '--action', 'token.', '--limit', '1', ...admin]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /token\.create/);
  assert.match(human.stdout, /--before \d+/);

  assert.equal((await runCli(['token', 'revoke', created.id, ...admin])).code, 0);
  const revoked = await runCli(['device', 'list', ...operator]);
  assert.match(revoked.stderr, /revoked/);
});

test('an agent from `device add --ca-file --cert-file --key-file` comes online on a TLS-only, mutual-TLS platform', async (t) => {
  const dir = tempDir(t);
  const tls = join(dir, 'tls');
  await runCliJson(['certs', 'init', '--dir', tls, '--client', 'gw-01']);
  const platform = await startPlatform(
    {
      dataDir: join(dir, 'data'),
      mqttPort: 0,
      httpPort: 0,
      mqttTcp: false,
      mqttTls: {
        port: 0,
        certFile: join(tls, 'server.crt'),
        keyFile: join(tls, 'server.key'),
        caFile: join(tls, 'ca.crt'),
        requireClientCert: true,
        serviceCertFile: join(tls, 'service.crt'),
        serviceKeyFile: join(tls, 'service.key'),
      },
    },
    silentLogger,
  );
  t.after(() => platform.close());
  const admin = ['--api', platform.apiUrl, '--token', platform.newAdminToken!];
  const configPath = join(dir, 'gw-01.agent.json');
  await runCliJson([
    'device', 'add', 'gw-01', '--profile', 'sim-x86-64', '--agent-config', configPath,
    '--ca-file', join(tls, 'ca.crt'), '--cert-file', join(tls, 'clients', 'gw-01.crt'), '--key-file', join(tls, 'clients', 'gw-01.key'), ...admin,
  ]);
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  assert.match(config.broker.url, /^mqtts:\/\//);
  assert.equal(config.broker.caFile, join(tls, 'ca.crt'));

  const agent = startCli(['agent', '--config', configPath]);
  t.after(() => agent.stop());
  await waitFor('gw-01 online over mutual TLS', async () => {
    const device = await runCliJson<{ online: boolean }>(['device', 'show', 'gw-01', ...admin]);
    return device.online ? true : undefined;
  }, 20_000, 200);
});
