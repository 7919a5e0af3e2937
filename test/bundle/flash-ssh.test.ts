/**
 * `wasmfleet flash --ssh` for real: Debian's sshd on a loopback port with a host key and a client
 * key generated here (the client checks the host key against a known_hosts file), logging in as
 * root. Flash copies the archive with scp and runs install.sh over ssh with --no-start (this
 * machine has no running systemd): the agent, its bundled Node and the unit land in the profile's
 * install paths. uninstall.sh --purge, also over ssh, removes them again.
 *
 * It installs into this machine's /opt/wasmfleet and creates the `wasmfleet` user, so it runs
 * only as root, and is skipped when either already exists or sshd is not installed
 * (scripts/setup-arm64-emulation.sh installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../platform/start-platform.js';
import { silentLogger } from '../../common/logger.js';
import { buildAgentBundle } from '../../bundle/build-agent.js';
import { DEFAULT_RUNTIME_VERSIONS } from '../../bundle/node-runtime.js';
import { runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const SSHD = '/usr/sbin/sshd';
const PREFIX = '/opt/wasmfleet';
const UNIT = '/etc/systemd/system/wasmfleet-agent.service';
const WANTS = '/etc/systemd/system/multi-user.target.wants/wasmfleet-agent.service';
const userExists = spawnSync('id', ['-u', 'wasmfleet']).status === 0;
const skip =
  process.getuid?.() !== 0 ? 'needs root (it installs into /opt and creates a system user)'
  : !existsSync(SSHD) ? 'openssh-server is not installed (scripts/setup-arm64-emulation.sh installs it)'
  : existsSync(PREFIX) || userExists ? `${PREFIX} or the wasmfleet user already exists on this machine; not touching them`
  : false;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const keygen = (path: string) => assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]).status, 0, `ssh-keygen ${path}`);

test('flash --ssh copies the archive with scp and installs it with install.sh over ssh', { skip, timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-ssh-'));
  chmodSync(dir, 0o700);
  const bundle = await buildAgentBundle({ outDir: join(dir, 'bundle') });
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  let sshdLog = '';
  let stopSshd: () => Promise<void> = async () => undefined;
  t.after(async () => {
    // Whatever happened, leave the machine as it was.
    if (existsSync(join(PREFIX, 'uninstall.sh'))) spawnSync('sh', [join(PREFIX, 'uninstall.sh'), '--purge']);
    rmSync('/root/wasmfleet-install-gw-ssh', { recursive: true, force: true });
    rmSync('/root/gw-ssh.tar.gz', { force: true });
    await stopSshd();
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  });

  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client_key'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o600 });
  const port = await freePort();
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_key.pub'), 'utf8')}`);
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
  const sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'pipe', 'pipe'] });
  sshd.stdout.on('data', (chunk) => (sshdLog += chunk));
  sshd.stderr.on('data', (chunk) => (sshdLog += chunk));
  const sshdExited = new Promise<void>((resolve) => sshd.on('exit', () => resolve()));
  stopSshd = async () => {
    if (sshd.exitCode === null && sshd.signalCode === null) sshd.kill('SIGTERM');
    await sshdExited;
  };
  await waitFor('sshd listening', () => (/Server listening/.test(sshdLog) ? true : sshd.exitCode !== null ? Promise.reject(new Error(sshdLog)) : undefined), 15_000);

  const env = { WASMFLEET_API: platform.apiUrl, WASMFLEET_TOKEN: platform.newAdminToken!, WASMFLEET_AGENT_BUNDLE_DIR: bundle.dir, WASMFLEET_PUBLISHER_KEY: join(platform.dataDir.path, 'keys', 'publisher.key') };
  const out = join(dir, 'gw-ssh');
  const flashed = await runCli(
    [
      'flash', '--profile', 'sim-x86-64', '--device', 'gw-ssh', '--out', out, '--with-node', '--no-start',
      '--ssh', 'root@127.0.0.1', '--ssh-port', String(port), '--ssh-identity', join(dir, 'client_key'),
      '--ssh-option', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '--ssh-option', 'StrictHostKeyChecking=yes', '--json',
    ],
    env,
  );
  assert.equal(flashed.code, 0, `${flashed.stderr}\nsshd:\n${sshdLog}`);
  const result = JSON.parse(flashed.stdout) as { ssh: { target: string; remoteDir: string; output: string[] }; tar?: string };
  assert.equal(result.ssh.target, 'root@127.0.0.1');
  assert.match(result.ssh.output.join('\n'), /installed and enabled; it starts on the next boot/);
  assert.equal(result.tar, undefined, 'without --tar the archive was only the vehicle');
  assert.equal(existsSync(`${out}.tar.gz`), false);

  for (const file of ['wasmfleet-agent.mjs', 'worker.mjs', 'profile.json', 'README.md', 'uninstall.sh', 'runtime/node', 'runtime/LICENSE']) {
    assert.ok(existsSync(join(PREFIX, file)), `${PREFIX}/${file} installed`);
  }
  const config = statSync(join(PREFIX, 'agent.json'));
  assert.equal(config.mode & 0o777, 0o600);
  assert.equal(config.uid, Number(spawnSync('id', ['-u', 'wasmfleet'], { encoding: 'utf8' }).stdout.trim()), 'the config belongs to the service user');
  assert.match(readFileSync(UNIT, 'utf8'), /^ExecStart=\/opt\/wasmfleet\/runtime\/node --max-semi-space-size=1 \/opt\/wasmfleet\/wasmfleet-agent\.mjs --config \/opt\/wasmfleet\/agent\.json$/m);
  assert.ok(lstatSync(WANTS).isSymbolicLink(), 'enabled the way systemctl enable would');
  const version = spawnSync(join(PREFIX, 'runtime', 'node'), ['-v'], { encoding: 'utf8' });
  assert.equal(version.stdout.trim(), `v${DEFAULT_RUNTIME_VERSIONS.x64}`, 'the installed runtime is the bundled one');
  const agentVersion = spawnSync(join(PREFIX, 'runtime', 'node'), [join(PREFIX, 'wasmfleet-agent.mjs'), '--version'], { encoding: 'utf8' });
  assert.equal(agentVersion.status, 0, agentVersion.stderr);

  const uninstall = spawnSync(
    'ssh',
    ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-i', join(dir, 'client_key'), '-p', String(port), 'root@127.0.0.1', `sh ${PREFIX}/uninstall.sh --purge`],
    { encoding: 'utf8' },
  );
  assert.equal(uninstall.status, 0, uninstall.stderr);
  assert.match(uninstall.stdout, /removed, state purged/);
  for (const path of [PREFIX, UNIT]) assert.equal(existsSync(path), false, `${path} removed`);
  assert.throws(() => lstatSync(WANTS), 'the enable link is removed');
  assert.notEqual(spawnSync('id', ['-u', 'wasmfleet']).status, 0, 'the service user is removed');

  // A wrong host key is refused before anything is copied: no password prompt, no hang.
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'client_key.pub'), 'utf8')}`);
  const refused = await runCli(
    ['flash', '--profile', 'sim-x86-64', '--device', 'gw-ssh2', '--out', join(dir, 'gw-ssh2'), '--ssh', 'root@127.0.0.1', '--ssh-port', String(port),
      '--ssh-identity', join(dir, 'client_key'), '--ssh-option', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '--ssh-option', 'StrictHostKeyChecking=yes'],
    env,
  );
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /WF_CLI_REMOTE: --ssh root@127\.0\.0\.1: copying gw-ssh2\.tar\.gz failed: .*(Host key verification failed|HOST IDENTIFICATION HAS CHANGED)/s);
  assert.equal(existsSync(PREFIX), false);
});
