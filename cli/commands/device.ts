/** `wasmfleet device add|list|show|remove`. */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { AgentTrust } from '../../protocol/index.js';
import { fetchAllPages } from '../paging.js';
import { clientFor } from '../api-client.js';
import { cliErrors } from '../errors.js';
import { asList, parseKeyValues, type GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';
import { rotateCommand } from './device-rotate.js';
import { importCommand } from './device-import.js';

interface DeviceView {
  id: string;
  profile: string;
  tags: Record<string, string>;
  online: boolean;
  lastSeen?: string | null;
  [key: string]: unknown;
}

interface ProvisionResponse {
  device: DeviceView;
  mqtt: { url: string; urls?: string[]; username: string; password: string };
  /** The site hub it is behind: its agent connects to the hub's URLs first. */
  hub?: { id: string; urls: string[] };
  /** Root public key and trusted-keys list the agent verifies signatures with. */
  trust: AgentTrust;
}

/** The ready-to-run agent config for a newly provisioned device (contains its password: 0600). */
export interface AgentTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/**
 * The brokers an agent connects to, in failover order: behind a hub its URLs, then (with
 * `fallbackCentral`) the central broker's as a last resort; otherwise the central broker's.
 */
export function agentBrokerUrls(provisioned: Pick<ProvisionResponse, 'mqtt' | 'hub'>, fallbackCentral: boolean): string[] {
  const central = provisioned.mqtt.urls ?? [provisioned.mqtt.url];
  if (!provisioned.hub || provisioned.hub.urls.length === 0) return central;
  return fallbackCentral ? [...provisioned.hub.urls, ...central.filter((url) => !provisioned.hub!.urls.includes(url))] : [...provisioned.hub.urls];
}

export function writeAgentConfig(path: string, provisioned: ProvisionResponse, stateDir?: string, tls: AgentTlsFiles = {}, fallbackCentral = false): string {
  const file = resolve(path);
  const tlsFiles = Object.fromEntries(Object.entries(tls).filter(([, value]) => value !== undefined).map(([key, value]) => [key, resolve(value!)]));
  const urls = agentBrokerUrls(provisioned, fallbackCentral);
  const config = {
    deviceId: provisioned.device.id,
    broker: { url: urls[0]!, ...(urls.length > 1 ? { urls } : {}), username: provisioned.mqtt.username, password: provisioned.mqtt.password, ...tlsFiles },
    profile: provisioned.device.profile,
    stateDir: resolve(stateDir ?? resolve(dirname(file), `${provisioned.device.id}.state`)),
    trust: provisioned.trust,
  };
  try {
    writeFileSync(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path: file, reason: (error as Error).message });
  }
  return file;
}

type AddArgs = GlobalArgs & {
  id: string;
  profile: string;
  tag?: string[];
  'agent-config'?: string;
  'state-dir'?: string;
  'ca-file'?: string;
  'cert-file'?: string;
  'key-file'?: string;
  hub?: string;
  'fallback-central'?: boolean;
};

const add: CommandModule<GlobalArgs, AddArgs> = {
  command: 'add <id>',
  describe: 'Provision a device; its MQTT password is shown (and written to --agent-config) once',
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true, describe: 'device id (lowercase letters, digits, . _ -)' })
      .option('profile', { type: 'string', demandOption: true, describe: 'firmware profile, e.g. sim-x86-64 or rpi4-arm64' })
      .option('tag', { type: 'string', array: true, describe: 'tag key=value (repeatable)' })
      .option('agent-config', { type: 'string', describe: 'write a ready-to-run agent config to this file' })
      .option('state-dir', { type: 'string', describe: 'agent state directory to put in the config' })
      .option('ca-file', { type: 'string', describe: 'CA the agent trusts for an mqtts:// broker (e.g. data/tls/ca.crt)' })
      .option('cert-file', { type: 'string', describe: "the device's client certificate, for a broker requiring mutual TLS" })
      .option('key-file', { type: 'string', describe: 'its private key' })
      .option('hub', { type: 'string', describe: "the site hub it connects through (default: the hub whose selector its tags match, if any)" })
      .option('fallback-central', { type: 'boolean', default: false, describe: "behind a hub: list the central broker after the hub's URLs in the agent config, as a last resort" })
      .example('$0 device add gw-07 --profile sim-x86-64 --hub north --fallback-central --agent-config gw-07.json', 'a device behind hub north, central as last resort')
      .example('$0 device add gw-01 --profile sim-x86-64 --tag site=north --agent-config gw-01.json', 'provision gw-01')
      .example(
        '$0 device add gw-02 --profile rpi4-arm64 --agent-config gw-02.json --ca-file data/tls/ca.crt --cert-file data/tls/clients/gw-02.crt --key-file data/tls/clients/gw-02.key',
        'an agent config for a TLS-only broker with mutual TLS',
      ) as Argv<AddArgs>,
  handler: async (args) => {
    const provisioned = await clientFor(args).post<ProvisionResponse>('/api/v1/devices', {
      id: args.id,
      profile: args.profile,
      tags: parseKeyValues('tag', args.tag),
      ...(args.hub !== undefined ? { hub: args.hub } : {}),
    });
    const tls = { caFile: args['ca-file'], certFile: args['cert-file'], keyFile: args['key-file'] };
    const fallback = args['fallback-central'] === true;
    const configFile = args['agent-config'] ? writeAgentConfig(args['agent-config'], provisioned, args['state-dir'], tls, fallback) : undefined;
    const brokers = agentBrokerUrls(provisioned, fallback);
    emit(args.json, { ...provisioned, brokerUrls: brokers, ...(configFile ? { agentConfig: configFile } : {}) }, () =>
      [
        `provisioned ${provisioned.device.id} (profile ${provisioned.device.profile})`,
        provisioned.hub ? `  hub       ${provisioned.hub.id}${provisioned.hub.urls.length === 0 ? ' (it has no URLs: the agent config points at the central broker)' : ''}` : '',
        `  broker    ${brokers.join(', ')}`,
        `  username  ${provisioned.mqtt.username}`,
        `  password  ${provisioned.mqtt.password}   (shown once)`,
        configFile ? `  agent config written to ${configFile}; run: wasmfleet agent --config ${configFile}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
};

interface ListArgs extends GlobalArgs {
  tag?: string[];
  profile?: string;
  online?: boolean;
  inSync?: boolean;
  faulted?: boolean;
  quarantined?: boolean;
  prefix?: string;
  hub?: string;
  sort: string;
  limit?: number;
}

const list: CommandModule<GlobalArgs, ListArgs> = {
  command: 'list',
  describe: 'List devices, filtered and sorted by the server; pages through every match',
  builder: (argv) =>
    argv
      .option('tag', { type: 'string', array: true, describe: 'only devices with tag key=value (repeatable, AND)' })
      .option('profile', { type: 'string', describe: 'only devices with this profile' })
      .option('online', { type: 'boolean', describe: 'only online (--online) or offline (--no-online) devices' })
      .option('in-sync', { type: 'boolean', describe: 'only devices that reported their desired revision (--in-sync) or not yet (--no-in-sync)' })
      .option('faulted', { type: 'boolean', describe: 'only devices with a failed or faulting module (--faulted) or none (--no-faulted)' })
      .option('quarantined', { type: 'boolean', describe: 'only devices with a module the agent quarantined (--quarantined) or none (--no-quarantined)' })
      .option('prefix', { type: 'string', describe: 'only ids starting with this' })
      .option('hub', { type: 'string', describe: 'only devices behind this hub itself' })
      .option('sort', { type: 'string', default: 'id', choices: ['id', '-id', 'createdAt', '-createdAt', 'lastSeen', '-lastSeen'], describe: 'order (- = descending)' })
      .option('limit', { type: 'number', describe: 'stop after this many devices (default: all)' })
      .example('$0 device list --tag site=north --online', 'online devices at site north')
      .example('$0 device list --faulted --sort -lastSeen --limit 20', 'the 20 faulted devices seen last')
      .example('$0 device list --hub north', "devices behind hub north, with whether they are reachable now") as Argv<ListArgs>,
  handler: async (args) => {
    if (args.limit !== undefined && !(Number.isInteger(args.limit) && args.limit > 0)) throw new Error('--limit must be a positive integer');
    const devices = await fetchAllPages<DeviceView>(
      clientFor(args),
      '/api/v1/devices',
      'devices',
      { tag: asList(args.tag), profile: args.profile, online: args.online, inSync: args.inSync, faulted: args.faulted, quarantined: args.quarantined, idPrefix: args.prefix, hub: args.hub, sort: args.sort },
      args.limit !== undefined ? { max: args.limit } : {},
    );
    emit(args.json, { devices }, () => table(devices, args.hub !== undefined ? ['id', 'profile', 'tags', 'online', 'reachable', 'lastSeen'] : ['id', 'profile', 'tags', 'online', 'lastSeen']));
  },
};

const show: CommandModule<GlobalArgs, GlobalArgs & { id: string }> = {
  command: 'show <id>',
  describe: "Show a device with its reported state (modules running, errors, online, last seen)",
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true })
      .example('$0 device show gw-01 --json', "gw-01's reported state as JSON") as Argv<GlobalArgs & { id: string }>,
  handler: async (args) => {
    const device = await clientFor(args).get<DeviceView>(`/api/v1/devices/${encodeURIComponent(args.id)}`);
    emit(args.json, device, () => JSON.stringify(device, null, 2));
  },
};

const remove: CommandModule<GlobalArgs, GlobalArgs & { id: string }> = {
  command: 'remove <id>',
  describe: 'Delete a device: its credentials stop working and its desired state is cleared',
  builder: (argv) =>
    argv
      .positional('id', { type: 'string', demandOption: true })
      .example('$0 device remove gw-01', 'decommission gw-01') as Argv<GlobalArgs & { id: string }>,
  handler: async (args) => {
    await clientFor(args).delete(`/api/v1/devices/${encodeURIComponent(args.id)}`);
    emit(args.json, { removed: args.id }, () => `removed ${args.id}`);
  },
};

export const deviceCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'device <command>',
  describe: 'Provision, list, show and remove devices; rotate their credentials',
  builder: (argv) =>
    argv
      .command(add)
      .command(list)
      .command(show)
      .command(remove)
      .command(rotateCommand)
      .command(importCommand)
      .demandCommand(1)
      .example('$0 device add gw-01 --profile sim-x86-64 --tag site=north', 'provision a device') as Argv<GlobalArgs>,
  handler: () => undefined,
};
