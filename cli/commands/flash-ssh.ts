/**
 * `wasmfleet flash --ssh user@host`: copies the flashed archive to the gateway with scp and runs
 * its install.sh there over ssh (through sudo unless the user is root). Batch mode throughout:
 * a password prompt would hang an unattended flash, so keys (or an agent) are required.
 */
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { cliErrors } from '../errors.js';

export interface SshTarget {
  /** `user@host` or `host`. */
  readonly target: string;
  readonly port?: number;
  readonly identity?: string;
  /** `-o` options, e.g. `StrictHostKeyChecking=accept-new`. */
  readonly options?: readonly string[];
}

export interface RemoteInstall {
  readonly target: string;
  /** Where the folder was unpacked, relative to the remote user's home. */
  readonly remoteDir: string;
  readonly installOutput: string;
}

const TARGET_PATTERN = /^([a-z_][a-z0-9_.-]{0,31}@)?[A-Za-z0-9.:_-]{1,253}$/;

function commonOptions(ssh: SshTarget): string[] {
  const args = ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15'];
  for (const option of ssh.options ?? []) args.push('-o', option);
  if (ssh.identity) args.push('-i', ssh.identity);
  return args;
}

function run(command: string, args: string[], ssh: SshTarget, step: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) throw cliErrors.WF_CLI_REMOTE({ target: ssh.target, step, reason: `${command}: ${result.error.message}` });
  if (result.status !== 0) {
    const reason = (result.stderr || result.stdout).trim().split('\n').slice(-4).join(' | ') || `exit ${result.status}`;
    throw cliErrors.WF_CLI_REMOTE({ target: ssh.target, step, reason });
  }
  return result.stdout + result.stderr;
}

const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** Copies `archive` (OUT.tar.gz holding folder `folder`) and runs its install.sh with `installArgs`. */
export function installOverSsh(ssh: SshTarget, archive: string, folder: string, installArgs: readonly string[]): RemoteInstall {
  if (!TARGET_PATTERN.test(ssh.target)) {
    throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--ssh', reason: `'${ssh.target}' is not user@host` });
  }
  const remoteArchive = basename(archive);
  const remoteDir = `wasmfleet-install-${folder}`;
  const scpArgs = [...commonOptions(ssh), ...(ssh.port ? ['-P', String(ssh.port)] : []), archive, `${ssh.target}:${remoteArchive}`];
  run('scp', scpArgs, ssh, `copying ${remoteArchive}`);
  const script = [
    'set -e',
    `rm -rf ${quote(remoteDir)}`,
    `mkdir -p ${quote(remoteDir)}`,
    `tar -xzf ${quote(remoteArchive)} -C ${quote(remoteDir)}`,
    `rm -f ${quote(remoteArchive)}`,
    'if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO="sudo -n"; fi',
    `$SUDO sh ${quote(`${remoteDir}/${folder}/install.sh`)} ${installArgs.map(quote).join(' ')}`,
  ].join('\n');
  const sshArgs = [...commonOptions(ssh), ...(ssh.port ? ['-p', String(ssh.port)] : []), ssh.target, script];
  const installOutput = run('ssh', sshArgs, ssh, 'running install.sh');
  return { target: ssh.target, remoteDir, installOutput };
}
