/**
 * `wasmfleet flash --profile P --device ID --out DIR`: provisions a device and writes everything
 * its gateway needs into DIR (self-contained agent bundle, config, profile, systemd unit,
 * install/uninstall scripts, README), optionally with a Node runtime for the profile's
 * architecture (`--with-node`), packed as DIR.tar.gz with the system tar, and installed on the
 * gateway over ssh (`--ssh user@host`).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { isWasmfleetError } from '../../common/errors.js';
import { loadProfile, type FirmwareProfile } from '../../firmware-profiles/index.js';
import { BUNDLE_ENTRY, BUNDLE_WORKER, defaultBundleDir } from '../../bundle/layout.js';
import { RUNTIME_DIR, UNIT_NAME, gatewayReadme, gatewayStateDir, installScript, systemdUnit, uninstallScript } from '../../bundle/gateway-files.js';
import { DEFAULT_RUNTIME_VERSIONS, extractNodeRuntime, fetchNodeRuntime, RuntimeError, type NodeRuntime } from '../../bundle/node-runtime.js';
import { installOverSsh } from './flash-ssh.js';
import { clientFor } from '../api-client.js';
import { cliErrors } from '../errors.js';
import { parseKeyValues, type GlobalArgs } from '../global-options.js';
import { emit, progress } from '../output.js';

interface FlashArgs extends GlobalArgs {
  profile: string;
  device: string;
  out: string;
  tag?: string[];
  tar: boolean;
  'broker-url'?: string;
  'with-node': boolean;
  'node-version'?: string;
  'runtime-cache'?: string;
  ssh?: string;
  'ssh-port'?: number;
  'ssh-identity'?: string;
  'ssh-option'?: string[];
  /** `--no-start` (yargs negation): install and enable without starting. */
  start: boolean;
}

import type { AgentTrust } from '../../protocol/index.js';

interface ProvisionResponse {
  device: { id: string; profile: string; tags: Record<string, string> };
  mqtt: { url: string; username: string; password: string };
  trust: AgentTrust;
}

interface WrittenFile {
  name: string;
  bytes: number;
  mode: string;
}

function localProfile(name: string): FirmwareProfile {
  try {
    return loadProfile(name);
  } catch (error) {
    throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--profile', reason: isWasmfleetError(error) ? error.message : String(error) });
  }
}

/** An existing DIR would mix two devices' credentials; refuse before provisioning anything. */
function checkOutDir(dir: string): void {
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw cliErrors.WF_CLI_FILE({ path: dir, reason: 'exists and is not an empty directory; choose a new --out' });
  }
}

function bundleReady(dir: string): boolean {
  return existsSync(join(dir, BUNDLE_ENTRY)) && existsSync(join(dir, BUNDLE_WORKER));
}

/** The bundle from `npm run build`, or built now (esbuild is only loaded when needed). */
async function ensureBundle(dir: string, step: (label: string) => void): Promise<string> {
  if (bundleReady(dir)) return dir;
  step('building the agent bundle (npm run build:bundle did not run)');
  const { buildAgentBundle } = await import('../../bundle/build-agent.js');
  return (await buildAgentBundle({ outDir: dir })).dir;
}

async function provision(args: FlashArgs): Promise<ProvisionResponse> {
  try {
    return await clientFor(args).post<ProvisionResponse>('/api/v1/devices', {
      id: args.device,
      profile: args.profile,
      tags: parseKeyValues('tag', args.tag),
    });
  } catch (error) {
    // The API keeps only a hash of the password and has no rotation route, so an existing
    // device's credentials cannot be put into a new agent.json.
    if (isWasmfleetError(error) && error.details.status === 409) {
      throw cliErrors.WF_CLI_BAD_ARGUMENT({
        option: '--device',
        reason: `device '${args.device}' already exists and its MQTT password is shown only when it is provisioned; flash a new id, or run \`wasmfleet device remove ${args.device}\` first (this deletes its results)`,
      });
    }
    throw error;
  }
}

/** Packs DIR into DIR.tar.gz with the system tar, entries owned by root where GNU tar allows it. */
function packTar(dir: string): { path: string; tool: string } {
  const version = spawnSync('tar', ['--version'], { encoding: 'utf8' });
  if (version.error) throw cliErrors.WF_CLI_FILE({ path: `${dir}.tar.gz`, reason: `--tar needs the system tar: ${version.error.message}` });
  const gnu = /GNU tar/.test(version.stdout);
  const path = `${dir}.tar.gz`;
  const ownership = gnu ? ['--owner=0', '--group=0', '--numeric-owner'] : [];
  const packed = spawnSync('tar', ['-czf', path, ...ownership, '-C', dirname(dir), basename(dir)], { encoding: 'utf8' });
  if (packed.status !== 0) throw cliErrors.WF_CLI_FILE({ path, reason: `tar failed: ${packed.stderr || packed.error?.message}` });
  return { path, tool: gnu ? 'GNU tar' : 'tar' };
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  return x![0]! - y![0]! || x![1]! - y![1]! || x![2]! - y![2]!;
}

/** The runtime for the profile's arch, fetched and verified before anything is provisioned. */
function runtimeFor(args: FlashArgs, profile: FirmwareProfile, step: (label: string) => void): NodeRuntime {
  const version = args['node-version'] ?? DEFAULT_RUNTIME_VERSIONS[profile.arch];
  if (/^\d+\.\d+\.\d+$/.test(version) && compareVersions(version, profile.minNodeVersion) < 0) {
    throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--node-version', reason: `Node ${version} is older than ${profile.minNodeVersion}, the minimum for profile ${profile.name}` });
  }
  step(`verifying a Node ${version} runtime for ${profile.arch}`);
  try {
    return fetchNodeRuntime({ arch: profile.arch, version, ...(args['runtime-cache'] ? { cacheDir: resolve(args['runtime-cache']) } : {}) });
  } catch (error) {
    if (error instanceof RuntimeError) throw cliErrors.WF_CLI_RUNTIME({ reason: error.message });
    throw error;
  }
}

export async function flash(args: FlashArgs): Promise<Record<string, unknown>> {
  const out = resolve(args.out);
  const profile = localProfile(args.profile);
  checkOutDir(out);
  if (args['node-version'] !== undefined && !args['with-node']) {
    throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--node-version', reason: 'only means something with --with-node' });
  }
  const bundleAt = defaultBundleDir();
  const packs = args.tar || args.ssh !== undefined;
  const step = progress(3 + (packs ? 1 : 0) + (args['with-node'] ? 2 : 0) + (args.ssh ? 1 : 0) + (bundleReady(bundleAt) ? 0 : 1));
  const runtime = args['with-node'] ? runtimeFor(args, profile, step) : undefined;
  const bundle = await ensureBundle(bundleAt, step);

  step(`provisioning ${args.device} (profile ${profile.name})`);
  const provisioned = await provision(args);
  const brokerUrl = args['broker-url'] ?? provisioned.mqtt.url;
  const target = { deviceId: provisioned.device.id, profile, ...(runtime ? { bundledNode: runtime.version } : {}) };

  step(`writing the gateway files to ${out}`);
  const written: WrittenFile[] = [];
  const write = (name: string, content: string | undefined, mode: number, from?: string): void => {
    const path = join(out, name);
    try {
      if (from) copyFileSync(from, path);
      else writeFileSync(path, content ?? '', { mode });
      // The create mode is masked by the umask; secrets must be exactly 0600, scripts 0755.
      chmodSync(path, mode);
    } catch (error) {
      throw cliErrors.WF_CLI_FILE({ path, reason: `${(error as Error).message} (device ${args.device} is provisioned; remove it before retrying)` });
    }
    written.push({ name, bytes: statSync(path).size, mode: (statSync(path).mode & 0o777).toString(8).padStart(4, '0') });
  };
  mkdirSync(out, { recursive: true });
  write(BUNDLE_ENTRY, undefined, 0o644, join(bundle, BUNDLE_ENTRY));
  write(BUNDLE_WORKER, undefined, 0o644, join(bundle, BUNDLE_WORKER));
  write('profile.json', JSON.stringify(profile, null, 2) + '\n', 0o644);
  const agentConfig = {
    deviceId: provisioned.device.id,
    // --broker-url names one broker for this gateway; otherwise the API's list, if it has several.
    broker: { ...provisioned.mqtt, url: brokerUrl, ...(args['broker-url'] ? { urls: undefined } : {}) },
    // A path, not the profile's name: the built-in profiles stay in the repository.
    profile: 'profile.json',
    stateDir: gatewayStateDir(profile),
    // The root public key and trusted-keys list: what the agent verifies every signature with.
    trust: provisioned.trust,
  };
  write('agent.json', JSON.stringify(agentConfig, null, 2) + '\n', 0o600);
  write(UNIT_NAME, systemdUnit(target), 0o644);
  write('install.sh', installScript(target), 0o755);
  write('uninstall.sh', uninstallScript(target), 0o755);
  write('README.md', gatewayReadme(target, brokerUrl), 0o644);
  if (runtime) {
    step(`extracting Node ${runtime.version} (${runtime.packageName}) into ${RUNTIME_DIR}/`);
    try {
      extractNodeRuntime(runtime, join(out, RUNTIME_DIR));
    } catch (error) {
      throw cliErrors.WF_CLI_RUNTIME({ reason: `${(error as Error).message} (device ${args.device} is provisioned; remove it before retrying)` });
    }
    for (const name of ['node', 'LICENSE']) {
      const path = join(out, RUNTIME_DIR, name);
      written.push({ name: `${RUNTIME_DIR}/${name}`, bytes: statSync(path).size, mode: (statSync(path).mode & 0o777).toString(8).padStart(4, '0') });
    }
  }

  step('checking the scripts with sh -n');
  for (const script of ['install.sh', 'uninstall.sh']) {
    const checked = spawnSync('sh', ['-n', join(out, script)], { encoding: 'utf8' });
    if (!checked.error && checked.status !== 0) throw cliErrors.WF_CLI_FILE({ path: join(out, script), reason: `sh -n: ${checked.stderr}` });
  }

  const tar = packs ? (step(`packing ${out}.tar.gz`), packTar(out)) : undefined;
  let remote: ReturnType<typeof installOverSsh> | undefined;
  if (args.ssh !== undefined && tar) {
    step(`installing on ${args.ssh} over ssh`);
    try {
      remote = installOverSsh(
        {
          target: args.ssh,
          ...(args['ssh-port'] !== undefined ? { port: args['ssh-port'] } : {}),
          ...(args['ssh-identity'] !== undefined ? { identity: resolve(args['ssh-identity']) } : {}),
          options: args['ssh-option'] ?? [],
        },
        tar.path,
        basename(out),
        args.start ? [] : ['--no-start'],
      );
    } finally {
      // --ssh alone packs only to copy; the archive stays only when --tar asked for it.
      if (!args.tar) rmSync(tar.path, { force: true });
    }
  }
  return {
    device: provisioned.device,
    broker: { url: brokerUrl, username: provisioned.mqtt.username },
    out,
    files: written,
    bundleBytes: written.filter((f) => f.name === BUNDLE_ENTRY || f.name === BUNDLE_WORKER).reduce((sum, f) => sum + f.bytes, 0),
    ...(tar && args.tar ? { tar: tar.path, tarTool: tar.tool } : {}),
    ...(runtime ? { runtime: { package: runtime.packageName, version: runtime.version, integrity: runtime.integrity, cached: runtime.cached } } : {}),
    ...(remote ? { ssh: { target: remote.target, remoteDir: remote.remoteDir, output: remote.installOutput.trim().split('\n').slice(-5) } } : {}),
  };
}

export const flashCommand: CommandModule<GlobalArgs, FlashArgs> = {
  command: 'flash',
  describe: 'Provision a device and write a folder (or .tar.gz) that installs its agent on the gateway',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .option('profile', { type: 'string', demandOption: true, describe: 'firmware profile, e.g. rpi4-arm64' })
      .option('device', { type: 'string', demandOption: true, describe: 'new device id (lowercase letters, digits, . _ -)' })
      .option('out', { type: 'string', demandOption: true, describe: 'folder to write (must not exist or be empty)' })
      .option('tag', { type: 'string', array: true, describe: 'tag key=value (repeatable)' })
      .option('tar', { type: 'boolean', default: false, describe: 'also pack the folder as OUT.tar.gz (system tar)' })
      .option('broker-url', { type: 'string', describe: "broker URL as the gateway reaches it (default: the API's)" })
      .option('with-node', { type: 'boolean', default: false, describe: "also carry a Node runtime for the profile's architecture (registry package node-linux-<arch>, integrity-checked)" })
      .option('node-version', { type: 'string', describe: `runtime version for --with-node (default: ${Object.entries(DEFAULT_RUNTIME_VERSIONS).map(([a, v]) => `${a} ${v}`).join(', ')})` })
      .option('runtime-cache', { type: 'string', describe: 'cache folder for runtime tarballs (default: ~/.cache/wasmfleet/runtimes)' })
      .option('ssh', { type: 'string', describe: 'copy the archive to user@host with scp and run install.sh there (key auth; sudo -n unless root)' })
      .option('ssh-port', { type: 'number', describe: 'ssh port for --ssh' })
      .option('ssh-identity', { type: 'string', describe: 'private key file for --ssh' })
      .option('ssh-option', { type: 'string', array: true, describe: 'ssh -o option for --ssh, e.g. StrictHostKeyChecking=accept-new (repeatable)' })
      .option('start', { type: 'boolean', default: true, describe: 'with --ssh: start the service; --no-start installs and enables it only (install.sh --no-start)' })
      .example('$0 flash --profile rpi4-arm64 --device gw-07 --tag site=north --out ./gw-07 --tar', 'then on the gateway: sudo sh install.sh')
      .example('$0 flash --profile armv7l-sbc --device gw-08 --out ./gw-08 --with-node --ssh pi@gw-08.local', 'Node bundled, installed over ssh') as Argv<FlashArgs>,
  handler: async (args) => {
    const result = await flash(args);
    emit(args.json, result, () =>
      [
        `flashed ${String((result.device as { id: string }).id)} into ${String(result.out)}`,
        ...(result.files as WrittenFile[]).map((f) => `  ${f.mode}  ${String(f.bytes).padStart(8)}  ${f.name}`),
        result.tar ? `packed ${String(result.tar)} (${String(result.tarTool)})` : '',
        result.ssh ? `installed on ${String((result.ssh as { target: string }).target)}` : `copy it to the gateway and run: sudo sh install.sh`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
};
